"""Cancelling one HTTP/2 stream at each await resets that stream only (DESIGN.md).

Every test checks the same afterwards: the server saw RST_STREAM(CANCEL) for
the stream, the connection is still the one in use, no stream is left open
(in the pool's statistics and in h2's own count), and the next request works.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import trio
from h2.errors import ErrorCodes
from h2.settings import SettingCodes

from tests.support.h2server import H2Server, H2ServerStream
from tests.support.pool import TIMEOUTS, read_all
from tests.support.servers import pattern
from trio_httpcore import PlainByteStream

from .test_http2_field_lessons import h2_open_streams

H2C = {"http1": False, "http2": True}
CHUNK = 16 * 1024


async def assert_connection_still_good(pool: Any, server: H2Server) -> None:
    _, _, response, _ = await pool.arequest(b"GET", server.url4("/ok/after"), ext=TIMEOUTS)
    assert await read_all(response) == b"/ok/after"
    assert len(server.connections) == 1
    assert pool.statistics().http2_streams == 0
    assert h2_open_streams(pool) == [0]


async def test_must_show_cancel_100_of_200_streams_at_random_points(
    make_pool: Any, start_h2_server: Any
) -> None:
    """Issue 4, must show: 100 of 200 concurrent streams cancelled at random (seeded) points.

    The points: before the request starts, while waiting for the response
    head, after the head, after some chunks of the body (the cancel lands in
    the library's read), and closing the body early. A cancelled stream's
    server handler holds the stream open until the client resets it, so
    every cancel that reached the server must show up as RST_STREAM(CANCEL).
    """
    rng = random.Random(20261122)
    arrived = {i: trio.Event() for i in range(200)}

    async def handler(stream: H2ServerStream) -> None:
        kind, i = stream.path.split("/")[1:3]
        if stream.path == "/ok/after":
            await stream.respond(200, stream.path.encode())
            return
        arrived[int(i)].set()
        if kind == "ok":
            await stream.send_headers(200)
            for n in range(int(i) % 5):
                await stream.send_data(pattern(CHUNK + n))
            await stream.send_data(stream.path.encode(), end=True)
            return
        if kind == "body":
            await stream.send_headers(200)
            for _ in range(4):
                await stream.send_data(pattern(CHUNK))
        await stream.reset_received.wait()

    server: H2Server = await start_h2_server(handler)
    cancelled = set(rng.sample(range(200), 100))
    points = ["before", "waiting_for_head", "after_head", "in_body", "aclose"]
    plan = {i: rng.choice(points) for i in cancelled}
    bodies: dict[int, bytes] = {}

    async def complete(i: int) -> None:
        _, _, response, _ = await pool.arequest(b"GET", server.url4(f"/ok/{i}"), ext=TIMEOUTS)
        bodies[i] = await read_all(response)

    async def cancel(i: int, point: str, task_status: Any) -> None:
        with trio.CancelScope() as scope:
            task_status.started(scope)
            if point == "before":
                scope.cancel()
                await pool.arequest(b"GET", server.url4(f"/hold/{i}"), ext=TIMEOUTS)
            if point == "waiting_for_head":
                await pool.arequest(b"GET", server.url4(f"/hold/{i}"), ext=TIMEOUTS)
            _, _, response, _ = await pool.arequest(b"GET", server.url4(f"/body/{i}"), ext=TIMEOUTS)
            if point == "aclose":
                await response.__anext__()
                await response.aclose()
                return
            for _ in range(rng.randrange(4) if point == "in_body" else 0):
                await response.__anext__()
            scope.cancel()
            await response.__anext__()
        assert scope.cancelled_caught

    async def cancel_when_arrived(i: int, scope: trio.CancelScope) -> None:
        await arrived[i].wait()
        scope.cancel()

    order = list(range(200))
    rng.shuffle(order)
    with trio.fail_after(30):
        async with make_pool(**H2C) as pool:
            async with trio.open_nursery() as nursery:
                for i in order:
                    if i not in cancelled:
                        nursery.start_soon(complete, i)
                        continue
                    scope = await nursery.start(cancel, i, plan[i])
                    if plan[i] == "waiting_for_head":
                        nursery.start_soon(cancel_when_arrived, i, scope)
            await assert_connection_still_good(pool, server)

    expected = {
        i: b"".join(pattern(CHUNK + n) for n in range(i % 5)) + f"/ok/{i}".encode()
        for i in range(200)
        if i not in cancelled
    }
    assert bodies == expected
    reset_paths = {
        server.requests[[s.stream_id for s in server.requests].index(sid)].path
        for _, sid, code in server.resets
        if code == ErrorCodes.CANCEL
    }
    reached = {s.path for s in server.requests if not s.path.startswith("/ok/")}
    assert reset_paths == reached
    assert len(server.resets) == len(reached) == 100 - Counter(plan.values())["before"]
    assert server.errors == []


async def test_cancel_while_waiting_for_send_window(make_pool: Any, start_h2_server: Any) -> None:
    """The server gives no credit: an upload waits for window and is cancelled there."""

    async def handler(stream: H2ServerStream) -> None:
        if stream.method == b"POST":
            await stream.reset_received.wait()
        else:
            await stream.respond(200, stream.path.encode())

    server: H2Server = await start_h2_server(handler, ack_data=False)
    async with make_pool(**H2C) as pool:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    pool.arequest,
                    b"POST",
                    server.url4("/upload"),
                    [],
                    PlainByteStream(pattern(1024 * 1024)),
                    TIMEOUTS,
                )
                await server.wait_for(
                    lambda: bool(server.requests) and server.requests[0].received == 65535
                )
                scope.cancel()
        await server.requests[0].reset_received.wait()
        assert server.requests[0].reset_code == ErrorCodes.CANCEL
        await assert_connection_still_good(pool, server)


async def test_cancel_while_waiting_for_the_servers_settings(
    make_pool: Any, start_h2_server: Any
) -> None:
    """Only the first stream goes before the server's SETTINGS; a later one cancelled
    while it waits for them leaves nothing behind."""
    settings_sent = trio.Event()

    async def handler(stream: H2ServerStream) -> None:
        await stream.respond(200, stream.path.encode())

    server: H2Server = await start_h2_server(handler, settings_gate=settings_sent)
    async with make_pool(**H2C) as pool, trio.open_nursery() as nursery:
        first: dict[str, Any] = {}

        async def get_first() -> None:
            _, _, response, _ = await pool.arequest(b"GET", server.url4("/ok/1"), ext=TIMEOUTS)
            first["body"] = await read_all(response)

        async def get_never(task_status: Any) -> None:
            with trio.CancelScope() as scope:
                task_status.started(scope)
                await pool.arequest(b"GET", server.url4("/never"), ext=TIMEOUTS)

        nursery.start_soon(get_first)
        while pool.statistics().http2_streams == 0:  # its stream is open
            await trio.testing.wait_all_tasks_blocked()
        scope = await nursery.start(get_never)
        await trio.testing.wait_all_tasks_blocked()
        stats = pool.statistics()
        assert (stats.active, stats.http2_streams, stats.waiting) == (1, 1, 0)
        scope.cancel()
        await trio.testing.wait_all_tasks_blocked()
        settings_sent.set()
    assert first["body"] == b"/ok/1"
    assert [s.path for s in server.requests] == ["/ok/1"]


async def test_server_reset_fails_only_that_stream(make_pool: Any, start_h2_server: Any) -> None:
    async def handler(stream: H2ServerStream) -> None:
        if stream.path == "/reset":
            await stream.send_headers(200)
            await stream.send_data(b"partial")
            await stream.reset(ErrorCodes.INTERNAL_ERROR)
        else:
            await stream.respond(200, stream.path.encode())

    server: H2Server = await start_h2_server(handler)
    async with make_pool(**H2C) as pool:
        _, _, response, _ = await pool.arequest(b"GET", server.url4("/reset"), ext=TIMEOUTS)
        assert await response.__anext__() == b"partial"
        try:
            await response.__anext__()
        except Exception as exc:
            assert "INTERNAL_ERROR" in str(exc)
            assert type(exc).__name__ == "RemoteProtocolError"
        else:  # pragma: no cover
            raise AssertionError("the reset stream did not fail")
        await assert_connection_still_good(pool, server)


async def test_closing_a_body_early_resets_the_stream(make_pool: Any, start_h2_server: Any) -> None:
    server: H2Server = await start_h2_server(settings={SettingCodes.MAX_CONCURRENT_STREAMS: 10})
    async with make_pool(**H2C) as pool:
        for _ in range(20):  # more than MAX_CONCURRENT_STREAMS: each reset frees its stream
            _, _, response, _ = await pool.arequest(
                b"GET", server.url4("/bytes/10000000"), ext=TIMEOUTS
            )
            await response.__anext__()
            await response.aclose()
        await assert_connection_still_good(pool, server)
    assert len(server.resets) == 20
