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

from tests.transport.helpers import TIMEOUTS
from trio_httpcore import ReadError

from ._h2server import H2Server, H2ServerStream
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
