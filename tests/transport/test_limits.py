"""Pool limits: max_connections across origins, waiting first come first served, PoolTimeout,
and connect retries with backoff."""

from __future__ import annotations

import contextlib
import itertools
import math
from typing import Any

import pytest
import trio
import trio.testing

import trio_httpcore
from tests.support.h11server import H11Request, serve_http
from tests.support.pool import (
    TIMEOUTS,
    PoolFactory,
    get_body,
    read_all,
    start_background,
    wait_closed,
)
from tests.support.raw import RawConn, closed_port, serve_blackhole, unlistened_socket
from tests.support.servers import Server
from tests.support.tls import TLSMaterial


async def test_pool_timeout(
    make_pool: PoolFactory, http_server: Server, mock_clock: trio.testing.MockClock
) -> None:
    async with make_pool(max_connections=1) as pool:
        _, _, held, _ = await pool.arequest(b"GET", http_server.url4("/"))
        async with trio.open_nursery() as nursery:
            job = start_background(
                nursery,
                lambda: pool.arequest(b"GET", http_server.url4("/"), ext={"timeout": {"pool": 2}}),
            )
            await trio.testing.wait_all_tasks_blocked()
            assert pool.statistics().waiting == 1
            mock_clock.jump(1.5)
            await trio.testing.wait_all_tasks_blocked()
            assert not job.done.is_set()
            mock_clock.jump(1)
        assert isinstance(job.error, trio_httpcore.PoolTimeout)
        assert f"http://127.0.0.1:{http_server.port}" in str(job.error)
        stats = pool.statistics()
        assert (stats.waiting, stats.active, stats.connecting) == (0, 1, 0)
        assert await read_all(held) == b"hello"
        assert await get_body(pool, http_server) == b"hello"
    assert http_server.counter.total == 1


async def test_pool_timeout_zero_with_a_free_slot_succeeds(
    make_pool: PoolFactory, http_server: Server
) -> None:
    async with make_pool(max_connections=1) as pool:
        for _ in range(3):
            _, _, stream, _ = await pool.arequest(
                b"GET", http_server.url4("/"), ext={"timeout": {"pool": 0}}
            )
            assert await read_all(stream) == b"hello"


async def test_max_connections_never_exceeded(
    make_pool: PoolFactory, start_http_server: Any
) -> None:
    release = trio.Event()
    in_handler = 0
    peak_in_handler = 0

    async def handler(req: H11Request) -> None:
        nonlocal in_handler, peak_in_handler
        in_handler += 1
        peak_in_handler = max(peak_in_handler, in_handler)
        if in_handler == 5:
            release.set()  # every slot is busy: from now on let them all through
        await release.wait()
        in_handler -= 1
        await req.respond(200, b"hello")

    server = await start_http_server(handler)
    results: list[bytes] = []

    async def one(host: str) -> None:
        _, _, stream, _ = await pool.arequest(b"GET", server.url4("/", host=host), ext=TIMEOUTS)
        results.append(await read_all(stream))

    async with make_pool(max_connections=5) as pool, trio.open_nursery() as nursery:
        for i in range(60):
            # Two origins (same server): the limit is across all origins.
            nursery.start_soon(one, "127.0.0.1" if i % 2 else "localhost")
    assert results == [b"hello"] * 60
    assert server.counter.peak == 5
    assert peak_in_handler == 5


async def test_new_origin_at_the_limit_replaces_an_idle_connection(
    make_pool: PoolFactory, http_server: Server
) -> None:
    async with make_pool(max_connections=1) as pool:
        assert await get_body(pool, http_server) == b"hello"
        assert pool.statistics().idle == 1
        _, _, stream, _ = await pool.arequest(
            b"GET", http_server.url4("/", host="localhost"), ext=TIMEOUTS
        )
        assert await read_all(stream) == b"hello"
        assert pool.statistics().idle == 1
    assert http_server.counter.total == 2
    assert http_server.counter.peak == 1


async def test_waiters_served_first_come_first_served(
    make_pool: PoolFactory, http_server: Server
) -> None:
    order: list[int] = []
    async with make_pool(max_connections=1) as pool:
        _, _, held, _ = await pool.arequest(b"GET", http_server.url4("/"))

        async def waiter(i: int) -> None:
            _, _, stream, _ = await pool.arequest(b"GET", http_server.url4("/"), ext=TIMEOUTS)
            order.append(i)
            await read_all(stream)

        async with trio.open_nursery() as nursery:
            for i in range(6):
                nursery.start_soon(waiter, i)
                await trio.testing.wait_all_tasks_blocked()  # queued in this order
            assert pool.statistics().waiting == 6
            await read_all(held)
    assert order == list(range(6))


# -- Connect retries with backoff


async def test_retries_connect_until_the_server_listens(
    make_pool: PoolFactory, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    sock = unlistened_socket()  # refused until the server listens on it
    port = sock.getsockname()[1]
    async with make_pool(retries=10) as pool:
        async with trio.open_nursery() as inner:
            job = start_background(
                inner, lambda: pool.arequest(b"GET", (b"http", b"127.0.0.1", port, b"/"))
            )
            # Refused, and refused again: it waits between attempts, in virtual time.
            for _ in range(3):
                await trio.testing.wait_all_tasks_blocked()
                assert not job.done.is_set()
                assert pool.statistics().connecting == 1
                mock_clock.jump(0.3)
            server = await serve_http(nursery, bound=sock)
            while not job.done.is_set():
                mock_clock.jump(1)
                await trio.testing.wait_all_tasks_blocked()
        assert job.error is None
        status, _, stream, _ = job.result
        assert (status, await read_all(stream)) == (200, b"hello")
    assert server.counter.total == 1


async def test_retries_exhausted_raise_connect_error_after_backoff(
    make_pool: PoolFactory, autojump_clock: trio.testing.MockClock
) -> None:
    port = closed_port()
    async with make_pool(retries=3) as pool:
        start = trio.current_time()
        with pytest.raises(trio_httpcore.ConnectError):
            await pool.arequest(b"GET", (b"http", b"127.0.0.1", port, b"/"))
        waited = trio.current_time() - start
        assert waited > 0  # it backed off between attempts
        assert math.isfinite(waited)


def test_retry_delays_start_at_once_then_double_from_half_a_second() -> None:
    from trio_httpcore._transport._connection import retry_delay

    assert [retry_delay(attempt) for attempt in range(1, 7)] == [0, 0.5, 1, 2, 4, 8]


async def test_retries_follow_the_backoff_schedule_exactly(
    make_pool: PoolFactory,
    start_raw_server: Any,
    tls: TLSMaterial,
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Each attempt reaches a server that hangs up before TLS: a connect error every time.
    The server notes the virtual time of each attempt; the clock moves only while the
    pool waits between them, so the gaps are the backoff: at once, then 0.5, 1, 2 s."""
    attempts: list[float] = []

    async def hang_up(conn: RawConn) -> None:
        attempts.append(trio.current_time())

    server = await start_raw_server(hang_up)
    url = (b"https", b"127.0.0.1", server.port, b"/")
    async with make_pool(retries=4, ssl_context=tls.client_context()) as pool:
        with pytest.raises(trio_httpcore.ConnectError):
            await pool.arequest(b"GET", url)
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert gaps == [0, 0.5, 1, 2]


async def test_no_retries_fail_at_once(
    make_pool: PoolFactory, autojump_clock: trio.testing.MockClock
) -> None:
    port = closed_port()
    async with make_pool() as pool:
        start = trio.current_time()
        with pytest.raises(trio_httpcore.ConnectError):
            await pool.arequest(b"GET", (b"http", b"127.0.0.1", port, b"/"))
        assert trio.current_time() == start


async def test_retries_do_not_replay_requests(
    make_pool: PoolFactory, start_http_server: Any
) -> None:
    async def handler(req: H11Request) -> None:
        req.conn.reset()  # the request arrived; the connection dies without a response

    server = await start_http_server(handler)
    async with make_pool(retries=3) as pool:
        with pytest.raises((trio_httpcore.ReadError, trio_httpcore.RemoteProtocolError)):
            await pool.arequest(b"POST", server.url4("/"), ext=TIMEOUTS)
    assert len(server.extra["requests"]) == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"max_connections": 0}, {"max_keepalive_connections": -1}, {"retries": -1}],
)
def test_invalid_limits(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        trio_httpcore.AsyncConnectionPool(**kwargs)


# -- Leaving the pool while requests wait or connect


async def test_waiter_when_the_pool_exits_gets_an_error(
    make_pool: PoolFactory, http_server: Server
) -> None:
    async with trio.open_nursery() as outer:
        async with make_pool(max_connections=1, check_quiescent=False) as pool:
            _, _, held, _ = await pool.arequest(b"GET", http_server.url4("/"), ext=TIMEOUTS)
            job = start_background(
                outer, lambda: pool.arequest(b"GET", http_server.url4("/"), ext=TIMEOUTS)
            )
            await trio.testing.wait_all_tasks_blocked()
            assert pool.statistics().waiting == 1
        await job.done.wait()
    assert isinstance(job.error, trio_httpcore.TransportError)
    assert not isinstance(job.error, trio_httpcore.PoolTimeout)
    assert "closed" in str(job.error)
    await held.aclose()


async def test_request_connecting_when_the_pool_exits_gets_connect_error(
    make_pool: PoolFactory, start_raw_server: Any, tls: TLSMaterial
) -> None:
    accepted = trio.Event()
    go = trio.Event()

    async def handler(conn: RawConn) -> None:
        accepted.set()
        await go.wait()
        stream = trio.SSLStream(conn.stream, tls.server_context(), server_side=True)
        with contextlib.suppress(trio.BrokenResourceError):
            await stream.do_handshake()
        await conn.wait_closed_by_peer()

    server = await start_raw_server(handler)
    async with trio.open_nursery() as outer:
        async with make_pool(ssl_context=tls.client_context(), check_quiescent=False) as pool:
            job = start_background(
                outer,
                lambda: pool.arequest(
                    b"GET", (b"https", b"127.0.0.1", server.port, b"/"), ext=TIMEOUTS
                ),
            )
            await accepted.wait()
            await trio.testing.wait_all_tasks_blocked()
            assert pool.statistics().connecting == 1
        go.set()  # the handshake completes after the pool has gone
        await job.done.wait()
    assert isinstance(job.error, trio_httpcore.ConnectError)
    assert "closed" in str(job.error)
    await wait_closed(server, 0)


async def test_waiter_handed_a_connection_at_its_deadline_keeps_it(
    make_pool: PoolFactory, http_server: Server, mock_clock: trio.testing.MockClock
) -> None:
    async with make_pool(max_connections=1) as pool:
        _, _, held, _ = await pool.arequest(b"GET", http_server.url4("/"))
        async with trio.open_nursery() as nursery:
            job = start_background(
                nursery,
                lambda: pool.arequest(b"GET", http_server.url4("/"), ext={"timeout": {"pool": 2}}),
            )
            await trio.testing.wait_all_tasks_blocked()
            mock_clock.jump(2)  # the deadline is due...
            await held.aclose()  # ...and in the same instant the connection frees up
        assert job.error is None
        _, _, stream, _ = job.result
        assert await read_all(stream) == b"hello"
    assert http_server.counter.total == 1


async def test_pool_can_be_entered_only_once(http_server: Server) -> None:
    pool = trio_httpcore.AsyncConnectionPool()
    async with pool:
        with pytest.raises(RuntimeError):
            async with pool:
                pass  # pragma: no cover


def test_no_protocol_enabled_is_refused() -> None:
    with pytest.raises(ValueError, match="http1"):
        trio_httpcore.AsyncConnectionPool(http1=False, http2=False)


async def test_cancel_during_retry_backoff_releases_the_slot(
    make_pool: PoolFactory, http_server: Server, mock_clock: trio.testing.MockClock
) -> None:
    port = closed_port()
    async with make_pool(retries=5, max_connections=1) as pool:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pool.arequest, b"GET", (b"http", b"127.0.0.1", port, b"/"))
                for _ in range(2):  # refused, then sleeping before the next attempt
                    await trio.testing.wait_all_tasks_blocked()
                    mock_clock.jump(0.1)
                await trio.testing.wait_all_tasks_blocked()
                assert pool.statistics().connecting == 1
                scope.cancel()
        assert pool.statistics().connecting == 0
        assert await get_body(pool, http_server) == b"hello"


async def test_retries_apply_to_connect_timeouts(
    make_pool: PoolFactory, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    blackhole = await serve_blackhole(nursery)
    async with make_pool(retries=2) as pool:
        start = trio.current_time()
        with pytest.raises(trio_httpcore.ConnectTimeout):
            await pool.arequest(b"GET", blackhole.url4("/"), ext={"timeout": {"connect": 1}})
        assert trio.current_time() - start >= 3  # three attempts of 1 s each
    blackhole.stop.set()


async def test_freed_connection_goes_to_a_waiter_for_another_origin(
    make_pool: PoolFactory, http_server: Server
) -> None:
    async with make_pool(max_connections=1) as pool:
        _, _, held, _ = await pool.arequest(b"GET", http_server.url4("/"), ext=TIMEOUTS)
        async with trio.open_nursery() as nursery:
            job = start_background(
                nursery,
                lambda: pool.arequest(
                    b"GET", http_server.url4("/", host="localhost"), ext=TIMEOUTS
                ),
            )
            await trio.testing.wait_all_tasks_blocked()
            assert pool.statistics().waiting == 1
            assert await read_all(held) == b"hello"  # idle now: closed for the waiter
        assert job.error is None
        assert await read_all(job.result[2]) == b"hello"
    assert http_server.counter.total == 2
    assert http_server.counter.peak == 1


async def test_aclose_inside_the_block(make_pool: PoolFactory, http_server: Server) -> None:
    async with make_pool() as pool:
        assert await get_body(pool, http_server) == b"hello"
        await pool.aclose()
        assert pool.statistics().idle == 0
        with pytest.raises(RuntimeError, match="async with"):
            await pool.arequest(b"GET", http_server.url4("/"))
    await wait_closed(http_server, 0)


async def test_reader_in_another_task_when_the_pool_exits(
    make_pool: PoolFactory, stalling: Any
) -> None:
    server, phases = stalling
    async with trio.open_nursery() as outer:
        async with make_pool(check_quiescent=False) as pool:
            _, _, stream, _ = await pool.arequest(b"GET", server.url4("/body"), ext=TIMEOUTS)
            await phases.sent_part.wait()
            reader = start_background(outer, lambda: read_all(stream))
            await trio.testing.wait_all_tasks_blocked()
            assert not reader.done.is_set()
        await reader.done.wait()
    assert isinstance(reader.error, trio_httpcore.TransportError)
    await wait_closed(server, 0)


async def test_exception_in_the_block_propagates_as_itself(http_server: Server) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with trio_httpcore.AsyncConnectionPool() as pool:
            assert await get_body(pool, http_server) == b"hello"
            _, _, stream, _ = await pool.arequest(b"GET", http_server.url4("/"), ext=TIMEOUTS)
            raise Boom()
    stats = pool.statistics()
    assert (stats.connecting, stats.active, stats.idle, stats.waiting) == (0, 0, 0, 0)
    await stream.aclose()
    await wait_closed(http_server, 0)


async def test_waiters_for_different_origins_are_served_in_arrival_order(
    make_pool: PoolFactory, http_server: Server
) -> None:
    # Two origins on one server (host names 127.0.0.1 and localhost). The held
    # connection is to localhost; A, B and C wait for 127.0.0.1, localhost and
    # 127.0.0.1. When A's connection turns idle, C could reuse it at once, but B
    # came first: B is served before C.
    order: list[str] = []
    hosts = {"A": "127.0.0.1", "B": "localhost", "C": "127.0.0.1"}
    async with make_pool(max_connections=1) as pool:
        _, _, held, _ = await pool.arequest(
            b"GET", http_server.url4("/", host="localhost"), ext=TIMEOUTS
        )

        async def waiter(name: str) -> None:
            _, _, stream, _ = await pool.arequest(
                b"GET", http_server.url4("/", host=hosts[name]), ext=TIMEOUTS
            )
            order.append(name)
            await read_all(stream)

        async with trio.open_nursery() as nursery:
            for name in "ABC":
                nursery.start_soon(waiter, name)
                await trio.testing.wait_all_tasks_blocked()
            assert pool.statistics().waiting == 3
            await read_all(held)
    assert order == ["A", "B", "C"]
    assert http_server.counter.peak == 1
