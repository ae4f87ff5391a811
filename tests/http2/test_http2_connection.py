"""An HTTP/2 connection's life: keep-alive, timeouts, servers that close or break, flow control."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from h2.errors import ErrorCodes
from h2.settings import SettingCodes

from tests.support.h2server import H2Server, H2ServerStream
from tests.support.pool import NO_TIMEOUTS, TIMEOUTS, read_all
from tests.support.servers import pattern
from trio_httpcore import (
    PlainByteStream,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TransportError,
    WriteError,
)

from ._compat import needs_frame_hooks

H2C = {"http1": False, "http2": True}
TIMEOUT_5 = {"timeout": {"connect": None, "read": 5, "write": None}}


async def test_keepalive_expiry_closes_an_idle_connection(
    make_pool: Any, start_h2_server: Any, autojump_clock: trio.testing.MockClock
) -> None:
    """Idle for keepalive_expiry: the reader's deadline fires, it sends GOAWAY and closes.
    A request before then moves the deadline."""
    server: H2Server = await start_h2_server()
    async with make_pool(keepalive_expiry=5.0, **H2C) as pool:
        for _ in range(2):
            _, _, response, _ = await pool.arequest(b"GET", server.url4("/ok/1"), ext=NO_TIMEOUTS)
            assert await read_all(response) == b"/ok/1"
            await trio.sleep(4)
            assert pool.statistics().idle == 1
        (conn,) = server.connections
        await trio.sleep(2)
        await conn.closed.wait()
        assert conn.goaway_received == ErrorCodes.NO_ERROR
        assert pool.statistics().idle == 0
    assert len(server.requests) == 2


async def test_max_keepalive_connections_zero_closes_after_the_response(
    make_pool: Any, start_h2_server: Any
) -> None:
    server: H2Server = await start_h2_server()
    async with make_pool(max_keepalive_connections=0, **H2C) as pool:
        # 6 MB: all of it fits the stream window, so it is all buffered when the
        # response ends and the pool closes the connection; reading it then
        # (past the point where credit would be due) still works.
        _, _, response, _ = await pool.arequest(b"GET", server.url4("/bytes/6000000"), ext=TIMEOUTS)
        await server.connections[0].closed.wait()
        assert pool.statistics().idle == 0
        assert await read_all(response) == pattern(6_000_000)


async def test_read_timeout_resets_the_stream_and_the_connection_goes_on(
    make_pool: Any, start_h2_server: Any, autojump_clock: trio.testing.MockClock
) -> None:
    async def handler(stream: H2ServerStream) -> None:
        if stream.path == "/slow":
            await stream.reset_received.wait()
        else:
            await stream.respond(200, b"ok")

    server: H2Server = await start_h2_server(handler)
    async with make_pool(**H2C) as pool:
        with pytest.raises(ReadTimeout, match=r"127\.0\.0\.1"):
            await pool.arequest(b"GET", server.url4("/slow"), ext=TIMEOUT_5)
        await server.requests[0].reset_received.wait()
        assert server.requests[0].reset_code == ErrorCodes.CANCEL
        _, _, response, _ = await pool.arequest(b"GET", server.url4("/"), ext=TIMEOUT_5)
        assert await read_all(response) == b"ok"
    assert len(server.connections) == 1


async def test_server_closing_mid_response_is_a_remote_protocol_error(
    make_pool: Any, start_h2_server: Any
) -> None:
    async def handler(stream: H2ServerStream) -> None:
        await stream.send_headers(200)
        await stream.send_data(b"part")
        await stream.conn.close()

    server: H2Server = await start_h2_server(handler)
    async with make_pool(**H2C) as pool:
        _, _, response, _ = await pool.arequest(b"GET", server.url4("/"), ext=TIMEOUTS)
        with pytest.raises(RemoteProtocolError, match=r"127\.0\.0\.1.*closed the connection"):
            await read_all(response)
        assert pool.statistics().http2_streams == 0


async def test_server_breaking_the_protocol_fails_streams_in_flight(
    make_pool: Any, start_h2_server: Any
) -> None:
    async def handler(stream: H2ServerStream) -> None:
        # A CONTINUATION frame with no HEADERS before it (RFC 9113 section 6.10).
        await stream.conn.send_raw(b"\x00\x00\x00\x09\x00\x00\x00\x00\x01")

    server: H2Server = await start_h2_server(handler)
    async with make_pool(**H2C) as pool:
        with pytest.raises(RemoteProtocolError, match=r"127\.0\.0\.1"):
            await pool.arequest(b"GET", server.url4("/"), ext=TIMEOUTS)
        await server.connections[0].closed.wait()
    assert server.connections[0].goaway_received == ErrorCodes.PROTOCOL_ERROR


@needs_frame_hooks
@pytest.mark.parametrize("long", [False, True], ids=["short", "long"])
async def test_a_body_not_matching_its_content_length_fails_only_its_stream(
    make_pool: Any, start_h2_server: Any, long: bool
) -> None:
    """RFC 9113 section 8.1.1: a response whose DATA disagrees with its content-length
    is malformed, a stream error. That stream fails and is reset with PROTOCOL_ERROR;
    another stream mid-body on the connection completes, and the connection goes on.

    Short: 5 of 10 bytes, then END_STREAM. Long: 15 bytes of 10, the stream left open,
    so the server (whose side of a stream it ended is closed) sees the RST_STREAM."""
    first_half_sent = trio.Event()
    bad_done = trio.Event()

    async def handler(stream: H2ServerStream) -> None:
        if stream.path == "/bad":
            await first_half_sent.wait()
            await stream.send_headers(200, [(b"content-length", b"10")])
            await stream.send_data(b"x" * 15 if long else b"hello", end=not long)
            bad_done.set()
            if long:
                await stream.reset_received.wait()
        elif stream.path == "/good":
            await stream.send_headers(200, [(b"content-length", b"10")])
            await stream.send_data(b"01234")
            first_half_sent.set()
            await bad_done.wait()
            await stream.send_data(b"56789", end=True)
        else:
            await stream.respond(200, b"ok")

    server: H2Server = await start_h2_server(handler)
    results: dict[str, object] = {}
    async with make_pool(**H2C) as pool:

        async def one(path: str) -> None:
            try:
                _, _, response, _ = await pool.arequest(b"GET", server.url4(path), ext=TIMEOUTS)
                results[path] = await read_all(response)
            except TransportError as exc:
                results[path] = exc

        async with trio.open_nursery() as nursery:
            nursery.start_soon(one, "/good")
            nursery.start_soon(one, "/bad")
        if long:
            bad = next(stream for stream in server.requests if stream.path == "/bad")
            await bad.reset_received.wait()
            assert bad.reset_code == ErrorCodes.PROTOCOL_ERROR
        _, _, response, _ = await pool.arequest(b"GET", server.url4("/after"), ext=TIMEOUTS)
        assert await read_all(response) == b"ok"
        assert pool.statistics().http2_streams == 0
    error = results["/bad"]
    assert isinstance(error, RemoteProtocolError)
    assert "malformed" in str(error)
    assert error.__cause__ is not None
    assert results["/good"] == b"0123456789"
    assert len(server.connections) == 1
    assert server.errors == []


async def test_a_consumer_that_stops_reading_holds_back_only_its_own_stream(
    make_pool: Any, start_h2_server: Any
) -> None:
    """Credit is returned as data is read: an unread 12 MB body fills its 8 MiB stream
    window, and another 12 MB response on the same connection still flows."""
    server: H2Server = await start_h2_server()
    size = 12_000_000
    async with make_pool(**H2C) as pool:
        _, _, unread, _ = await pool.arequest(b"GET", server.url4(f"/bytes/{size}"), ext=TIMEOUTS)
        _, _, read, _ = await pool.arequest(b"GET", server.url4(f"/bytes/{size}"), ext=TIMEOUTS)
        assert await read_all(read) == pattern(size)
        assert await read_all(unread) == pattern(size)
    assert len(server.connections) == 1


async def test_a_complete_response_during_the_upload_ends_the_upload(
    make_pool: Any, start_h2_server: Any
) -> None:
    """RFC 9113 section 8.1: the server answers early and resets with NO_ERROR; the
    client stops sending and returns the response."""

    async def handler(stream: H2ServerStream) -> None:
        await stream.conn.server.wait_for(lambda: stream.received == 65535)
        await stream.respond(413, b"too big")
        await stream.reset(ErrorCodes.NO_ERROR)

    server: H2Server = await start_h2_server(handler, ack_data=False)
    async with make_pool(**H2C) as pool:
        status, _, response, _ = await pool.arequest(
            b"POST", server.url4("/"), stream=PlainByteStream(pattern(1_000_000)), ext=TIMEOUTS
        )
        assert (status, await read_all(response)) == (413, b"too big")
    assert server.resets == []


async def test_window_grown_by_settings_wakes_the_sender(
    make_pool: Any, start_h2_server: Any
) -> None:
    """A SETTINGS frame raising INITIAL_WINDOW_SIZE (RFC 9113 section 6.9.2) lets a
    waiting upload go on: the reader task wakes it."""

    async def handler(stream: H2ServerStream) -> None:
        await stream.respond(200, await stream.read_body())

    server: H2Server = await start_h2_server(
        handler, settings={SettingCodes.INITIAL_WINDOW_SIZE: 1000}
    )
    body = pattern(200_000)
    async with make_pool(**H2C) as pool, trio.open_nursery() as nursery:
        # First a request without a body: the server's 1000-byte window applies
        # once its SETTINGS have arrived (our test server enforces it at once).
        _, _, response, _ = await pool.arequest(b"GET", server.url4("/"), ext=TIMEOUTS)
        await read_all(response)

        async def upload() -> None:
            _, _, response, _ = await pool.arequest(
                b"POST", server.url4("/"), stream=PlainByteStream(body), ext=TIMEOUTS
            )
            assert await read_all(response) == body

        nursery.start_soon(upload)
        await server.wait_for(
            lambda: (
                bool(server.requests)
                and len(server.requests) == 2
                and server.requests[1].received > 0
            )
        )
        await server.connections[0].send_settings({SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})


async def test_server_dropping_the_connection_mid_upload(
    make_pool: Any, start_h2_server: Any
) -> None:
    """The server resets the TCP connection while a large body is on its way: the
    request fails with a transport error naming the origin, and nothing is left over."""

    async def handler(stream: H2ServerStream) -> None:
        await stream.conn.server.wait_for(lambda: stream.received > 0)
        stream.conn.raw.reset()

    server: H2Server = await start_h2_server(handler)
    async with make_pool(**H2C) as pool:
        with pytest.raises(TransportError, match=r"127\.0\.0\.1") as info:
            await pool.arequest(
                b"POST", server.url4("/"), stream=PlainByteStream(pattern(5_000_000)), ext=TIMEOUTS
            )
        assert type(info.value) in {ReadError, WriteError, RemoteProtocolError}
        assert pool.statistics().active == 0


async def test_stream_ids_running_out_means_a_new_connection(
    make_pool: Any, start_h2_server: Any
) -> None:
    """RFC 9113 section 5.1.1: client stream ids end at 2**31 - 1."""
    server: H2Server = await start_h2_server()
    async with make_pool(**H2C) as pool:
        for _ in range(3):
            _, _, response, _ = await pool.arequest(b"GET", server.url4("/ok/1"), ext=TIMEOUTS)
            assert await read_all(response) == b"/ok/1"
            if len(server.requests) == 1:
                (connection,) = pool._connections
                connection.protocol.state.h2.highest_outbound_stream_id = 2**31 - 3
    assert [conn.stream_ids for conn in server.connections] == [[1, 2**31 - 1], [1]]


async def test_leaving_the_pool_ends_open_streams(make_pool: Any, start_h2_server: Any) -> None:
    """Leaving ``async with`` closes the connection: an unread stream fails to read on."""

    async def handler(stream: H2ServerStream) -> None:
        await stream.send_headers(200)
        await stream.send_data(b"first")
        await stream.reset_received.wait()

    server: H2Server = await start_h2_server(handler)
    async with make_pool(check_quiescent=False, **H2C) as pool:
        _, _, response, _ = await pool.arequest(b"GET", server.url4("/"), ext=TIMEOUTS)
        assert await response.__anext__() == b"first"
    with pytest.raises(ReadError, match="was closed"):
        await response.__anext__()
    await server.connections[0].closed.wait()


async def test_a_raised_stream_limit_lets_waiting_requests_in(
    make_pool: Any, start_h2_server: Any
) -> None:
    """The server raises MAX_CONCURRENT_STREAMS from 1 to 10: requests waiting in the
    pool are dispatched at once (the connection tells the pool), not when a stream ends."""
    release = trio.Event()

    async def handler(stream: H2ServerStream) -> None:
        await release.wait()
        await stream.respond(200, b"ok")

    server: H2Server = await start_h2_server(
        handler, settings={SettingCodes.MAX_CONCURRENT_STREAMS: 1}
    )

    async def get() -> None:
        _, _, response, _ = await pool.arequest(b"GET", server.url4("/"), ext=TIMEOUTS)
        assert await read_all(response) == b"ok"

    async with make_pool(max_connections=1, **H2C) as pool, trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(get)
        await server.wait_for(lambda: len(server.requests) == 1)
        await trio.testing.wait_all_tasks_blocked()
        assert pool.statistics().waiting == 2
        await server.connections[0].send_settings({SettingCodes.MAX_CONCURRENT_STREAMS: 10})
        await server.wait_for(lambda: len(server.requests) == 3)
        release.set()
    assert server.peak_open() == 3
