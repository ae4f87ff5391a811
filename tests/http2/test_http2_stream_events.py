"""Handing one stream's events from the reader task to the task reading the response.

Each stream keeps its events in a deque with a parking lot for the reader;
these tests pin down what a memory channel gave: a read is a checkpoint even
when an event is waiting (and a cancelled one leaves the events for the
reset to credit), and a reader waiting on a response that another task lets
go fails with the library's error instead of waiting for ever.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
from h2.errors import ErrorCodes

from tests.support.h2server import H2Server, H2ServerStream
from tests.support.pool import TIMEOUTS
from tests.support.servers import pattern
from trio_httpcore import ReadError, RemoteProtocolError
from trio_httpcore._http2 import _h2compat
from trio_httpcore._http2._h2compat import receive_window

from .test_http2_cancel import assert_connection_still_good

H2C = {"http1": False, "http2": True}


async def test_a_read_is_cancellable_while_data_is_waiting(
    make_pool: Any, start_h2_server: Any
) -> None:
    sent = trio.Event()

    async def handler(stream: H2ServerStream) -> None:
        if stream.path == "/waiting":
            await stream.send_headers(200)
            await stream.send_data(b"x" * 100_000)
            sent.set()
        else:
            await stream.respond(200, stream.path.encode())

    server: H2Server = await start_h2_server(handler)
    async with make_pool(**H2C) as pool:
        _, _, response, _ = await pool.arequest(b"GET", server.url4("/waiting"), ext=TIMEOUTS)
        await sent.wait()
        await trio.testing.wait_all_tasks_blocked()  # the data is routed to the stream
        with trio.CancelScope() as scope:
            scope.cancel()
            await response.__anext__()
        assert scope.cancelled_caught
        await server.wait_for(lambda: len(server.resets) == 1)
        assert server.resets[0][2] == ErrorCodes.CANCEL
        await assert_connection_still_good(pool, server)


async def test_a_waiting_reader_fails_when_another_task_closes_the_response(
    make_pool: Any, start_h2_server: Any
) -> None:
    async def handler(stream: H2ServerStream) -> None:
        if stream.path == "/silent":
            await stream.send_headers(200)  # and no body: the reader waits
        else:
            await stream.respond(200, stream.path.encode())

    server: H2Server = await start_h2_server(handler)
    async with make_pool(**H2C) as pool:
        _, _, response, _ = await pool.arequest(b"GET", server.url4("/silent"), ext=TIMEOUTS)
        failed: list[BaseException] = []

        async def read() -> None:
            with pytest.raises(ReadError, match="closed while being read") as info:
                await response.__anext__()
            failed.append(info.value)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            await trio.testing.wait_all_tasks_blocked()
            await response.aclose()
        assert len(failed) == 1
        await server.wait_for(lambda: len(server.resets) == 1)
        await assert_connection_still_good(pool, server)


def _connection_credit_is_exact(pool: Any) -> bool:
    """Every byte the connection window took for DATA was given back or is still counted.

    h2's manager of our connection receive window (RFC 9113 section 6.9):
    what is left of the window plus what was processed but not yet sent
    back as WINDOW_UPDATE is the whole window, when nothing is unread.
    """
    (connection,) = pool._connections
    left, consumed, size = receive_window(connection.protocol.state.h2)
    return left + consumed == size


@pytest.mark.parametrize("read", ["all", "one chunk, then close"])
async def test_large_frames_arrive_in_pieces_and_credit_exactly(
    make_pool: Any, start_h2_server: Any, read: str
) -> None:
    """DATA frames of 1 MiB (our SETTINGS_MAX_FRAME_SIZE) span many reads: each read's
    piece is handed on as it came, with its own share of the frame's credit."""
    body = pattern(5 * 1024 * 1024 + 3)

    async def handler(stream: H2ServerStream) -> None:
        if stream.path == "/large":
            await stream.respond(200, body)
        else:
            await stream.respond(200, stream.path.encode())

    server: H2Server = await start_h2_server(handler)
    async with make_pool(**H2C) as pool:
        _, _, response, _ = await pool.arequest(b"GET", server.url4("/large"), ext=TIMEOUTS)
        if read == "all":
            chunks = [chunk async for chunk in response]
            assert all(type(chunk) is bytes for chunk in chunks)
            assert b"".join(chunks) == body
        else:
            first = await response.__anext__()
            assert body.startswith(first)
            await response.aclose()
        await assert_connection_still_good(pool, server)
        assert _connection_credit_is_exact(pool)


@pytest.mark.parametrize("end", ["response", "reset by the server", "closed early"])
async def test_h2_counts_the_open_streams_we_count_and_drops_the_closed(
    make_pool: Any, start_h2_server: Any, end: str
) -> None:
    """h2 is given the connection's count of open streams instead of scanning its own:
    the two agree while streams are in flight, and once they end h2 holds none."""
    release = trio.Event()

    async def handler(stream: H2ServerStream) -> None:
        if stream.path == "/held":
            await stream.send_headers(200)
            await release.wait()
            if end == "reset by the server":
                await stream.reset(ErrorCodes.INTERNAL_ERROR)
            else:
                await stream.send_data(b"body", end=True)
        else:
            await stream.respond(200, stream.path.encode())

    async def held() -> None:
        _, _, response, _ = await pool.arequest(b"GET", server.url4("/held"), ext=TIMEOUTS)
        if end == "closed early":
            await response.aclose()
            return
        try:
            async for _ in response:
                pass
        except RemoteProtocolError:
            assert end == "reset by the server"

    server: H2Server = await start_h2_server(handler)
    async with make_pool(**H2C) as pool:
        async with trio.open_nursery() as nursery:
            for _ in range(20):
                nursery.start_soon(held)
            await server.wait_for(lambda: len(server.requests) == 20)
            (connection,) = pool._connections
            state = connection.protocol.state
            if end != "closed early":
                assert len(state.streams) == 20
                assert state.h2_open_streams() == 20
            release.set()
        assert len(state.streams) == 0
        assert state.h2_open_streams() == 0
        if _h2compat.OPEN_STREAM_COUNT:
            assert state.h2.streams == {}  # dropped, before anything scans them
        await assert_connection_still_good(pool, server)
