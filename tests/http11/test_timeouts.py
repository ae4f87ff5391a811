"""HTTP/1.1 read and write timeouts bound each wait, under one cancel scope per stretch of I/O.

The request and its response head share one cancel scope whose deadline is
moved before each wait: these tests pin down that moving it keeps the
meaning of each limit (MockClock, no wall time).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing

import trio_httpcore
from tests.support.pool import PoolFactory, start_background
from tests.support.raw import RawConn


async def test_read_timeout_bounds_each_read_of_the_response_head(
    make_pool: PoolFactory, start_raw_server: Any, mock_clock: trio.testing.MockClock
) -> None:
    step = trio.Event()
    pieces = [b"HTTP/1.1 200 OK\r\n", b"Content-Length: 2\r\n", b"\r\nok"]

    async def handler(conn: RawConn) -> None:
        nonlocal step
        await conn.read_request()
        for piece in pieces:
            await step.wait()
            step = trio.Event()
            await conn.send(piece)
        await conn.wait_closed_by_peer()

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        async with trio.open_nursery() as nursery:
            job = start_background(
                nursery,
                lambda: pool.arequest(b"GET", server.url4("/"), ext={"timeout": {"read": 2}}),
            )
            for _ in pieces:
                await trio.testing.wait_all_tasks_blocked()
                mock_clock.jump(1.5)  # 4.5 s in all, but never 2 s without a byte
                step.set()
        assert job.error is None
        status, _, stream, _ = job.result
        assert status == 200
        assert b"".join([chunk async for chunk in stream]) == b"ok"


async def test_read_timeout_after_a_slow_head_piece_names_the_read(
    make_pool: PoolFactory, start_raw_server: Any, mock_clock: trio.testing.MockClock
) -> None:
    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\n")
        await conn.wait_closed_by_peer()

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        async with trio.open_nursery() as nursery:
            job = start_background(
                nursery,
                lambda: pool.arequest(
                    b"GET", server.url4("/"), ext={"timeout": {"read": 2, "write": 2}}
                ),
            )
            await trio.testing.wait_all_tasks_blocked()
            mock_clock.jump(1.5)
            await trio.testing.wait_all_tasks_blocked()
            assert pool.statistics().active == 1  # the first piece re-armed the read
            mock_clock.jump(1)
        assert isinstance(job.error, trio_httpcore.ReadTimeout)
        assert str(job.error) == (
            f"reading the response from http://127.0.0.1:{server.port}: the read timeout expired"
        )
        assert isinstance(job.error.__cause__, trio.TooSlowError)
        assert pool.statistics().active == 0


@pytest.mark.parametrize("read", [None, 2])
async def test_write_timeout_does_not_bound_the_request_bodys_own_waits(
    make_pool: PoolFactory,
    start_raw_server: Any,
    autojump_clock: trio.testing.MockClock,
    read: float | None,
) -> None:
    """The body's iterator is the caller's code: 3 s between its chunks is no write timeout."""

    async def handler(conn: RawConn) -> None:
        _, body = await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await conn.wait_closed_by_peer()

    async def body() -> AsyncIterator[bytes]:
        for chunk in (b"a", b"b", b"c"):
            await trio.sleep(3)
            yield chunk

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        status, _, stream, _ = await pool.arequest(
            b"POST",
            server.url4("/"),
            headers=[(b"Content-Length", b"3")],
            stream=trio_httpcore.AsyncIteratorByteStream(body()),
            ext={"timeout": {"write": 2, "read": read}},
        )
        assert status == 200
        assert b"".join([chunk async for chunk in stream]) == b"abc"
