"""Keep-alive: connections are reused, and an idle one the server closed is never used."""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

import pytest
import trio
import trio.testing

import trio_httpcore
from tests.support.asgi import TestApp
from tests.support.h11server import H11Request
from tests.support.pool import (
    TIMEOUTS,
    PoolFactory,
    get_body,
    library_tasks,
    read_all,
    request,
    wait_closed,
)
from tests.support.raw import RawConn
from tests.support.servers import Server, pattern
from tests.support.tls import TLSMaterial
from trio_httpcore._http11._connection import IDLE_WATCH_DELAY, HTTP11Connection

from .test_http11 import request_host


async def test_keep_alive_reuse(make_pool: PoolFactory, http_server: Server) -> None:
    async with make_pool() as pool:
        for _ in range(5):
            assert await get_body(pool, http_server) == b"hello"
        assert pool.statistics().idle == 1
    assert http_server.counter.total == 1
    assert http_server.connections[0].requests == 5


async def test_keep_alive_reuse_hypercorn_counted(
    make_pool: PoolFactory, counted_hypercorn_server: Server
) -> None:
    server = counted_hypercorn_server
    async with make_pool() as pool:
        for size in (0, 10, 100_000):
            assert await get_body(pool, server, f"/bytes/{size}") == pattern(size)
        assert await get_body(pool, server, "/stream/4/1000") == b"".join(
            bytes([65 + i]) * 1000 for i in range(4)
        )
    assert server.counter.total == 1


async def test_https_keep_alive_reuse(
    make_pool: PoolFactory, tls_h1_server: Server, tls: TLSMaterial, app: TestApp
) -> None:
    async with make_pool(ssl_context=tls.client_context()) as pool:
        for _ in range(3):
            status, _, _, _ = await request_host(pool, tls_h1_server, "localhost", "/")
            assert status == 200
        assert pool.statistics().idle == 1
    clients = {scope["client"] for scope in app.requests}
    assert len(clients) == 1


async def test_response_aclose_with_rest_buffered_keeps_connection(
    make_pool: PoolFactory, http_server: Server
) -> None:
    async with make_pool() as pool:
        status, _, stream, _ = await pool.arequest(b"GET", http_server.url4("/"), ext=TIMEOUTS)
        assert status == 200
        await stream.aclose()  # b"hello" was already read with the head
        await stream.aclose()  # a second close is harmless
        assert await get_body(pool, http_server) == b"hello"
    assert http_server.counter.total == 1


async def test_head_response_has_no_body(make_pool: PoolFactory, start_raw_server: Any) -> None:
    async def handler(conn: RawConn) -> None:
        for _ in range(2):
            head, _ = await conn.read_request()
            if not head:
                return
            await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        for _ in range(2):
            status, _, body, _ = await request(pool, server, method=b"HEAD")
            assert (status, body) == (200, b"")
    assert server.counter.total == 1


@pytest.mark.parametrize("writes", ["one write", "head then body"])
async def test_keep_alive_many_sequential_requests_all_succeed(
    make_pool: PoolFactory, start_http_server: Any, writes: str
) -> None:
    # Each response completes and the next request takes the idle connection at
    # once, racing the idle watcher task as it (re)starts watching the socket.
    async def handler(req: H11Request) -> None:
        if writes == "one write":
            await req.respond(200, b"hello")
        else:
            await req.read_body()
            await req.start_response(200, [(b"content-length", b"5")])
            await req.send_data(b"hello")
            await req.end()

    server = await start_http_server(handler)
    async with make_pool() as pool:
        failures = []
        for i in range(200):
            try:
                assert await get_body(pool, server) == b"hello"
            except trio_httpcore.TransportError as exc:
                failures.append((i, exc))
        assert failures == []
    assert server.counter.total == 1
    assert server.connections[0].requests == 200


async def test_idle_connection_closed_by_server_is_never_used(
    make_pool: PoolFactory, start_http_server: Any
) -> None:
    """Must show: the server closes every connection once idle; zero failed requests.

    Each close comes sooner than the watcher looks (IDLE_WATCH_DELAY): the
    next request finds it by polling the socket, and goes on a new connection.
    """
    server = await start_http_server(close_idle=True)
    async with make_pool() as pool:
        for i in range(20):
            assert await get_body(pool, server) == b"hello"
            await wait_closed(server, i)  # the server closed it while it sat idle
    assert server.counter.total == 20
    assert [c.requests for c in server.connections] == [1] * 20


async def test_keepalive_expiry(
    make_pool: PoolFactory, http_server: Server, mock_clock: trio.testing.MockClock
) -> None:
    async with make_pool(keepalive_expiry=10) as pool:
        assert await get_body(pool, http_server) == b"hello"
        mock_clock.jump(9)
        await trio.testing.wait_all_tasks_blocked()
        assert pool.statistics().idle == 1
        assert await get_body(pool, http_server) == b"hello"  # reused: expiry restarts
        mock_clock.jump(9)
        await trio.testing.wait_all_tasks_blocked()
        assert pool.statistics().idle == 1
        assert http_server.counter.total == 1
        mock_clock.jump(1.5)
        await trio.testing.wait_all_tasks_blocked()
        assert pool.statistics().idle == 0
        await wait_closed(http_server, 0)
        assert await get_body(pool, http_server) == b"hello"
    assert http_server.counter.total == 2


async def test_keepalive_expiry_zero_closes_at_once(
    make_pool: PoolFactory, http_server: Server
) -> None:
    async with make_pool(keepalive_expiry=0) as pool:
        assert await get_body(pool, http_server) == b"hello"
        await wait_closed(http_server, 0)
        assert pool.statistics().idle == 0


async def test_max_keepalive_connections(make_pool: PoolFactory, http_server: Server) -> None:
    async with make_pool(max_keepalive_connections=2) as pool:
        streams = [
            (await pool.arequest(b"GET", http_server.url4("/"), ext=TIMEOUTS))[2] for _ in range(5)
        ]
        assert pool.statistics().active == 5
        for stream in streams:
            assert await read_all(stream) == b"hello"
        assert pool.statistics().idle == 2
        for i in range(3):
            await wait_closed(http_server, i)  # the oldest idle ones go
        assert [c.closed.is_set() for c in http_server.connections] == [True] * 3 + [False] * 2
        for _ in range(4):
            assert await get_body(pool, http_server) == b"hello"
    assert http_server.counter.total == 5


async def test_max_keepalive_connections_zero(make_pool: PoolFactory, http_server: Server) -> None:
    async with make_pool(max_keepalive_connections=0) as pool:
        for i in range(3):
            assert await get_body(pool, http_server) == b"hello"
            assert pool.statistics().idle == 0
            await wait_closed(http_server, i)
    assert http_server.counter.total == 3


async def test_idle_connection_has_its_watcher_task(
    make_pool: PoolFactory, http_server: Server
) -> None:
    # (Also proves the leak fixture's task census sees the pool's tasks.)
    before = library_tasks()
    async with make_pool() as pool:
        assert await get_body(pool, http_server) == b"hello"
        assert await get_body(pool, http_server, "/bytes/10") == pattern(10)
        assert len(library_tasks() - before) == 1  # one connection, one task
    assert library_tasks() - before == set()


async def test_keepalive_expired_before_the_watcher_ran_is_not_reused(
    make_pool: PoolFactory, http_server: Server, mock_clock: trio.testing.MockClock
) -> None:
    # The clock passes the expiry and a request takes the connection with no
    # checkpoint in between: the watcher never saw the deadline, the request
    # must.
    async with make_pool(keepalive_expiry=10) as pool:
        assert await get_body(pool, http_server) == b"hello"
        await trio.testing.wait_all_tasks_blocked()
        mock_clock.jump(10)
        assert await get_body(pool, http_server) == b"hello"
        assert http_server.counter.total == 2  # a new connection
        await wait_closed(http_server, 0)


async def test_back_to_back_requests_do_not_wake_the_idle_watcher(
    make_pool: PoolFactory, http_server: Server, mock_clock: trio.testing.MockClock
) -> None:
    # Waking the watcher when the connection turns idle, and cancelling its
    # wait when the next request takes it, was 13% of a request's CPU
    # time. It now looks only once a connection has sat idle for
    # IDLE_WATCH_DELAY; the clock stands still here, so it must never run.
    resumed = 0

    def profiler(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal resumed
        if event == "call" and frame.f_code is HTTP11Connection.serve.__code__:
            resumed += 1

    async with make_pool() as pool:
        assert await get_body(pool, http_server) == b"hello"
        await trio.testing.wait_all_tasks_blocked()  # the watcher is asleep
        sys.setprofile(profiler)
        try:
            for _ in range(20):
                assert await get_body(pool, http_server) == b"hello"
            await trio.testing.wait_all_tasks_blocked()
        finally:
            sys.setprofile(None)
        assert resumed == 0
        mock_clock.jump(IDLE_WATCH_DELAY)
        await trio.testing.wait_all_tasks_blocked()
        assert pool.statistics().idle == 1  # watching now, and still kept
    assert http_server.counter.total == 1
