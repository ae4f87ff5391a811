"""FIELD-LESSONS rows 7-12 and 25: each bug our peers shipped, as the test that we don't.

Each test is named after its reference. The peers are real: the scripted h2
server (``tests/support/h2server.py``) whose own h2 enforces its SETTINGS.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from h2.errors import ErrorCodes
from h2.settings import SettingCodes

from tests.support.h2server import H2Server, H2ServerStream, default_handler
from tests.support.pool import TIMEOUTS, read_all
from tests.support.servers import pattern
from trio_httpcore import AsyncIteratorByteStream, PlainByteStream, RemoteProtocolError
from trio_httpcore._http2._state import CONNECTION_RECEIVE_WINDOW

H2C = {"http1": False, "http2": True}
CHUNK = 16 * 1024


def h2_open_streams(pool: Any) -> list[int]:
    """h2's own count of open streams, for each HTTP/2 connection of ``pool``.

    Counted from h2's streams' own states, not from the connection's table of
    open streams (which it gives h2 as its count).
    """
    return [
        c.protocol.state.h2_open_streams()
        for c in pool._connections
        if c.protocol is not None and c.protocol.http_version == "HTTP/2"
    ]


async def test_httpcore_943_cancelled_stream_sends_rst_stream(
    make_pool: Any, start_h2_server: Any
) -> None:
    """Row 7: MCS=100, 300 requests, half cancelled mid-body.

    Each cancelled response has 24 chunks of 16 KiB in flight when it is
    cancelled: 150 of them discard 56 MiB, more than the whole 32 MiB
    connection window, so the connection would stall unless the discarded
    DATA is credited back at the connection level.
    """

    async def handler(stream: H2ServerStream) -> None:
        kind = stream.path.split("/")[1]
        await stream.send_headers(200)
        for _ in range(24):
            await stream.send_data(pattern(CHUNK))
        if kind == "cancel":
            await stream.reset_received.wait()
        else:
            await stream.end()

    server: H2Server = await start_h2_server(
        handler, settings={SettingCodes.MAX_CONCURRENT_STREAMS: 100}
    )
    cancelled_ids: list[int] = []

    async def complete(i: int) -> None:
        _, _, stream, _ = await pool.arequest(b"GET", server.url4(f"/ok/{i}"), ext=TIMEOUTS)
        assert await read_all(stream) == pattern(CHUNK) * 24

    async def cancel_mid_body(i: int) -> None:
        with trio.CancelScope() as scope:
            _, _, stream, _ = await pool.arequest(b"GET", server.url4(f"/cancel/{i}"), ext=TIMEOUTS)
            assert await stream.__anext__()
            scope.cancel()
            await stream.__anext__()  # cancelled here, inside the library
        assert scope.cancelled_caught

    with trio.fail_after(30):
        async with make_pool(max_connections=1, **H2C) as pool:
            async with trio.open_nursery() as nursery:
                for i in range(300):
                    nursery.start_soon(complete if i % 2 else cancel_mid_body, i)
            # The connection stays in use.
            _, _, stream, _ = await pool.arequest(b"GET", server.url4("/ok/x"), ext=TIMEOUTS)
            assert await read_all(stream) == pattern(CHUNK) * 24
            assert pool.statistics().http2_streams == 0
            assert h2_open_streams(pool) == [0]
            (conn,) = server.connections
            await server.wait_for(lambda: conn.open_now == 0)
            # Credit came back for everything but less than half a window
            # (h2 batches WINDOW_UPDATEs at half the window).
            assert conn.h2.outbound_flow_control_window >= CONNECTION_RECEIVE_WINDOW // 2
    cancelled_ids = [s.stream_id for s in server.requests if s.path.startswith("/cancel/")]
    assert len(cancelled_ids) == 150
    assert sorted((sid, code) for _, sid, code in server.resets) == [
        (sid, ErrorCodes.CANCEL) for sid in sorted(cancelled_ids)
    ]
    assert server.errors == []


async def test_httpx2_1133_concurrent_uploads_with_small_window_finish(
    make_pool: Any, start_h2_server: Any
) -> None:
    """Row 8: 5 x 1 MiB uploads on one connection with a 64 KiB initial window."""
    server: H2Server = await start_h2_server(settings={SettingCodes.INITIAL_WINDOW_SIZE: 65536})
    bodies = {i: bytes([i]) * (1024 * 1024) for i in range(5)}

    async def upload(i: int) -> None:
        status, _, stream, _ = await pool.arequest(
            b"POST", server.url4("/echo_body"), stream=PlainByteStream(bodies[i]), ext=TIMEOUTS
        )
        assert (status, await read_all(stream)) == (200, bodies[i])

    with trio.fail_after(30):
        async with make_pool(**H2C) as pool, trio.open_nursery() as nursery:
            for i in range(5):
                nursery.start_soon(upload, i)
    assert len(server.connections) == 1
    assert server.peak_open() == 5
    assert server.errors == []


async def test_httpx2_1216_peer_lowers_max_concurrent_streams_below_in_flight(
    make_pool: Any, start_h2_server: Any
) -> None:
    """Row 9: the server lowers MCS to 1 with 5 streams active: all finish, new ones queue."""
    release = trio.Event()

    async def handler(stream: H2ServerStream) -> None:
        if stream.path.startswith("/first/"):
            await release.wait()
        await stream.respond(200, stream.path.encode())

    server: H2Server = await start_h2_server(handler)

    async def get(path: str) -> None:
        _, _, stream, _ = await pool.arequest(b"GET", server.url4(path), ext=TIMEOUTS)
        assert await read_all(stream) == path.encode()

    with trio.fail_after(10):
        async with make_pool(max_connections=1, **H2C) as pool, trio.open_nursery() as nursery:
            for i in range(5):
                nursery.start_soon(get, f"/first/{i}")
            await server.wait_for(lambda: len(server.requests) == 5)
            (conn,) = server.connections
            await conn.send_settings({SettingCodes.MAX_CONCURRENT_STREAMS: 1})
            await conn.settings_acked.wait()
            for i in range(5):
                nursery.start_soon(get, f"/then/{i}")
            await trio.testing.wait_all_tasks_blocked()
            assert len(server.requests) == 5  # the new ones wait in the pool
            assert pool.statistics().waiting == 5
            release.set()
    assert len(server.connections) == 1
    assert [s.open_when_received for s in server.requests[5:]] == [1] * 5
    assert server.errors == []


@pytest.mark.parametrize(("limit", "max_connections"), [(1, 1), (2, 1), (2, 3)])
async def test_httpcore_85_max_concurrent_streams_never_exceeded(
    make_pool: Any, start_h2_server: Any, limit: int, max_connections: int
) -> None:
    """Row 10: MCS=1 or 2 and 10 concurrent requests: never more streams on a connection
    than allowed (the server's own h2 would fail the connection), and extra connections
    only within max_connections."""
    release = trio.Event()

    async def handler(stream: H2ServerStream) -> None:
        await release.wait()
        await stream.respond(200, b"ok")

    server: H2Server = await start_h2_server(
        handler, settings={SettingCodes.MAX_CONCURRENT_STREAMS: limit}
    )

    async def get() -> None:
        _, _, stream, _ = await pool.arequest(b"GET", server.url4("/"), ext=TIMEOUTS)
        assert await read_all(stream) == b"ok"

    in_flight = limit * max_connections
    with trio.fail_after(10):
        pool_kwargs = {"max_connections": max_connections, **H2C}
        async with make_pool(**pool_kwargs) as pool, trio.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(get)
            await server.wait_for(lambda: len(server.requests) == in_flight)
            await trio.testing.wait_all_tasks_blocked()
            assert len(server.requests) == in_flight
            assert pool.statistics().http2_streams == in_flight
            release.set()
    assert len(server.connections) == max_connections
    assert server.peak_open() == limit
    assert len(server.requests) == 10
    assert server.errors == []


def goaway_handler(last_stream_id: int, then_close: bool, expected: int) -> Any:
    """Connection 0 holds its first ``expected`` streams, then sends GOAWAY; others answer.

    After the GOAWAY it either closes at once, or answers its first stream
    (the graceful shutdown nginx and Hypercorn do) and leaves the rest unanswered.
    """

    async def handler(stream: H2ServerStream) -> None:
        conn = stream.conn
        if conn.index == 0:
            await conn.server.wait_for(lambda: len(conn.stream_ids) == expected)
            if stream.stream_id != conn.stream_ids[0]:
                await trio.sleep_forever()
            await conn.goaway(last_stream_id)
            if then_close:
                await conn.close()
                await trio.sleep_forever()
        await default_handler(stream)

    return handler


@pytest.mark.parametrize("then_close", [True, False], ids=["then_eof", "no_eof"])
async def test_httpcore_730_goaway_retries_streams_above_last_stream_id(
    make_pool: Any, start_h2_server: Any, then_close: bool
) -> None:
    """Row 11: GOAWAY(last=1): streams 3 and 5 (a POST too) are replayed elsewhere; stream 1
    fails if the server closes before answering it, and completes if it answers (RFC 9113
    section 6.8: streams at or below last_stream_id "might still complete successfully")."""
    server: H2Server = await start_h2_server(goaway_handler(1, then_close, expected=3))
    results: dict[str, Any] = {}

    async def send(name: str, method: bytes, path: str, body: bytes | None) -> None:
        stream = None if body is None else PlainByteStream(body)
        try:
            _, _, response, _ = await pool.arequest(
                method, server.url4(path), stream=stream, ext=TIMEOUTS
            )
            results[name] = await read_all(response)
        except RemoteProtocolError as exc:
            results[name] = exc

    with trio.fail_after(10):
        async with make_pool(**H2C) as pool, trio.open_nursery() as nursery:
            nursery.start_soon(send, "processed", b"GET", "/bytes/10", None)
            await server.wait_for(lambda: len(server.requests) == 1)
            nursery.start_soon(send, "get", b"GET", "/bytes/20", None)
            nursery.start_soon(send, "post", b"POST", "/echo_body", b"posted")
    if then_close:
        assert isinstance(results["processed"], RemoteProtocolError)
        assert "GOAWAY" in str(results["processed"])
        assert f"127.0.0.1:{server.tcp.port}" in str(results["processed"])
    else:
        assert results["processed"] == pattern(10)
    assert results["get"] == pattern(20)
    assert results["post"] == b"posted"
    assert len(server.connections) == 2
    assert len(server.connections[1].stream_ids) == 2


async def test_httpcore_730_goaway_does_not_replay_a_one_shot_body(
    make_pool: Any, start_h2_server: Any
) -> None:
    server: H2Server = await start_h2_server(goaway_handler(1, then_close=True, expected=2))

    async def body() -> Any:
        yield b"once"

    async def processed() -> None:
        with pytest.raises(RemoteProtocolError, match=r"GOAWAY .* closed the connection"):
            await pool.arequest(b"GET", server.url4("/"), ext=TIMEOUTS)

    async with make_pool(**H2C) as pool, trio.open_nursery() as nursery:
        nursery.start_soon(processed)
        await server.wait_for(lambda: len(server.requests) == 1)
        chunks = body()
        with pytest.raises(RemoteProtocolError, match="before processing stream 3"):
            await pool.arequest(
                b"POST", server.url4("/echo_body"), [], AsyncIteratorByteStream(chunks), TIMEOUTS
            )
        await chunks.aclose()  # the caller's generator, left half-read by the failure
    assert len(server.connections) == 1


async def test_httpcore_730_no_new_stream_after_goaway(
    make_pool: Any, start_h2_server: Any
) -> None:
    async def handler(stream: H2ServerStream) -> None:
        await stream.respond(200, b"ok")
        if stream.conn.index == 0:
            await stream.conn.goaway(stream.stream_id)

    server: H2Server = await start_h2_server(handler)
    async with make_pool(**H2C) as pool:
        for _ in range(2):
            _, _, response, _ = await pool.arequest(b"GET", server.url4("/"), ext=TIMEOUTS)
            assert await read_all(response) == b"ok"
            await server.wait_for(lambda: server.connections[0].closed.is_set())
    assert [len(conn.stream_ids) for conn in server.connections] == [1, 1]


async def test_httpcore_730_refused_stream_is_retried_once(
    make_pool: Any, start_h2_server: Any
) -> None:
    async def handler(stream: H2ServerStream) -> None:
        if len(stream.conn.server.requests) == 1:
            await stream.reset(ErrorCodes.REFUSED_STREAM)
        else:
            await stream.respond(200, await stream.read_body())

    server: H2Server = await start_h2_server(handler)
    async with make_pool(**H2C) as pool:
        _, _, response, _ = await pool.arequest(
            b"POST", server.url4("/"), stream=PlainByteStream(b"again"), ext=TIMEOUTS
        )
        assert await read_all(response) == b"again"
    assert len(server.requests) == 2


async def test_httpcore_1079_ping_answered_while_nobody_reads(
    make_pool: Any, start_h2_server: Any
) -> None:
    """Row 12: the reader task ACKs PINGs while the pool is idle and while a body goes unread."""
    sent_part = trio.Event()

    async def handler(stream: H2ServerStream) -> None:
        if stream.path == "/partial":
            await stream.send_headers(200)
            await stream.send_data(b"part")
            sent_part.set()
            await stream.reset_received.wait()
        else:
            await stream.respond(200, b"ok")

    server: H2Server = await start_h2_server(handler)
    async with make_pool(**H2C) as pool:
        _, _, response, _ = await pool.arequest(b"GET", server.url4("/"), ext=TIMEOUTS)
        assert await read_all(response) == b"ok"
        (conn,) = server.connections
        assert pool.statistics().idle == 1
        await conn.ping(b"idle....")
        await server.wait_for(lambda: conn.ping_acks == [b"idle...."])

        _, _, response, _ = await pool.arequest(b"GET", server.url4("/partial"), ext=TIMEOUTS)
        await sent_part.wait()
        await conn.ping(b"unread..")
        await server.wait_for(lambda: len(conn.ping_acks) == 2)
        assert conn.ping_acks[1] == b"unread.."
        await response.aclose()


async def test_httpcore_1022_reader_and_writers_stay_in_step(
    make_pool: Any, start_h2_server: Any
) -> None:
    """Row 25: uploads, downloads and cancellations at once on one connection.

    One reader owns h2's input and one lock serialises its output: stream ids
    reach the server in increasing order, h2 on both sides agrees on every
    stream, and nothing deadlocks with 64 KiB windows.
    """
    server: H2Server = await start_h2_server(
        settings={SettingCodes.INITIAL_WINDOW_SIZE: 65536, SettingCodes.MAX_CONCURRENT_STREAMS: 50}
    )
    upload = pattern(300_000)

    async def post() -> None:
        _, _, stream, _ = await pool.arequest(
            b"POST", server.url4("/echo_body"), stream=PlainByteStream(upload), ext=TIMEOUTS
        )
        assert await read_all(stream) == upload

    async def get() -> None:
        _, _, stream, _ = await pool.arequest(b"GET", server.url4("/bytes/300000"), ext=TIMEOUTS)
        assert await read_all(stream) == pattern(300_000)

    async def get_then_cancel() -> None:
        with trio.CancelScope() as scope:
            _, _, stream, _ = await pool.arequest(
                b"GET", server.url4("/bytes/3000000"), ext=TIMEOUTS
            )
            await stream.__anext__()
            scope.cancel()
            await read_all(stream)

    with trio.fail_after(30):
        async with make_pool(max_connections=1, **H2C) as pool:
            async with trio.open_nursery() as nursery:
                for i in range(60):
                    nursery.start_soon((post, get, get_then_cancel)[i % 3])
            assert h2_open_streams(pool) == [0]
    (conn,) = server.connections
    assert conn.stream_ids == list(range(1, 121, 2))
    assert server.errors == []
