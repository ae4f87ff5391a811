"""FIELD-LESSONS.md rows 1-6, 18-20, 22 and 24: each peer's bug, as a test named after it."""

from __future__ import annotations

import gc
import random
import sys
from types import FrameType
from typing import Any

import pytest
import trio
import trio.testing

import trio_httpcore
from tests.support.asgi import TestApp
from tests.support.h11server import H11Request, serve_http
from tests.support.pool import (
    TIMEOUTS,
    GatedBody,
    Phases,
    PoolFactory,
    assert_empty,
    assert_healthy_afterwards,
    assert_quiescent,
    cancel_when,
    get_body,
    read_all,
    stalling_handler,
    start_background,
    wait_closed,
)
from tests.support.raw import RawConn, closed_port, serve_blackhole
from tests.support.servers import Server
from tests.support.tls import TLSMaterial
from trio_httpcore._http11._connection import IDLE_WATCH_DELAY

# -- Row 1: encode/httpcore#1093 (#658, #830)


async def test_httpcore_1093_cancel_under_contention_leaks_no_slot(
    make_pool: PoolFactory, nursery: trio.Nursery, start_raw_server: Any, tls: TLSMaterial
) -> None:
    """20 tasks, max_connections=10, cancelled at random points, inside connect too."""
    rng = random.Random(1093)
    phases = Phases()

    async def handler(req: H11Request) -> None:
        await stalling_handler(phases, req)

    server = await serve_http(nursery, handler)
    blackhole = await serve_blackhole(nursery)  # TCP connect never completes

    async def silent(conn: RawConn) -> None:
        await conn.wait_closed_by_peer()  # TLS handshake never completes

    tls_silent = await start_raw_server(silent)
    targets = [
        server.url4("/"),
        server.url4("/headers"),
        server.url4("/body"),
        blackhole.url4("/"),
        (b"https", b"127.0.0.1", tls_silent.port, b"/"),
    ]
    outcomes = {"cancelled": 0, "completed": 0}

    async def worker(pool: Any) -> None:
        for _ in range(10):
            url = rng.choice(targets)
            delay = rng.randint(0, 60)
            with trio.CancelScope() as scope:
                async with trio.open_nursery() as inner:

                    async def canceller(delay: int = delay) -> None:
                        for _ in range(delay):
                            await trio.lowlevel.checkpoint()
                        scope.cancel()

                    inner.start_soon(canceller)
                    _, _, stream, _ = await pool.arequest(b"GET", url, ext=TIMEOUTS)
                    await read_all(stream)
                    scope.cancel()
                    outcomes["completed"] += 1
            if scope.cancelled_caught:
                outcomes["cancelled"] += 1

    async with make_pool(ssl_context=tls.client_context(), max_connections=10) as pool:
        async with trio.open_nursery() as workers:
            for _ in range(20):
                workers.start_soon(worker, pool)
        await trio.testing.wait_all_tasks_blocked()
        stats = pool.statistics()
        assert (stats.connecting, stats.active, stats.waiting) == (0, 0, 0)
        # Every slot is still there: 10 requests at once all get a connection now.
        _, _, held, _ = await pool.arequest(b"GET", server.url4("/"), ext=TIMEOUTS)
        streams = [held]
        for _ in range(9):
            streams.append(
                (
                    await pool.arequest(
                        b"GET", server.url4("/"), ext={"timeout": {"pool": 0, "read": 5}}
                    )
                )[2]
            )
        for stream in streams:
            assert await read_all(stream) == b"hello"
    assert outcomes["cancelled"] > 50
    blackhole.stop.set()


# -- Row 2: encode/httpcore#550, PR#502, #681 -> #688


async def test_httpcore_550_pool_timeout_zero_leaves_no_waiter_and_no_orphan(
    make_pool: PoolFactory, http_server: Server
) -> None:
    async with make_pool(max_connections=1) as pool:
        _, _, held, _ = await pool.arequest(b"GET", http_server.url4("/"), ext=TIMEOUTS)
        for _ in range(3):
            with pytest.raises(trio_httpcore.PoolTimeout):
                await pool.arequest(b"GET", http_server.url4("/"), ext={"timeout": {"pool": 0}})
            stats = pool.statistics()
            assert (stats.waiting, stats.connecting, stats.active) == (0, 0, 1)
        # Also to another origin: no CONNECTING connection is left for it.
        with pytest.raises(trio_httpcore.PoolTimeout):
            await pool.arequest(
                b"GET", http_server.url4("/", host="localhost"), ext={"timeout": {"pool": 0}}
            )
        stats = pool.statistics()
        assert (stats.waiting, stats.connecting, stats.active) == (0, 0, 1)
        assert await read_all(held) == b"hello"
        assert await get_body(pool, http_server) == b"hello"
    assert http_server.counter.total == 1


async def test_httpcore_550_cancelled_waiter_is_removed(
    make_pool: PoolFactory, http_server: Server
) -> None:
    async with make_pool(max_connections=1) as pool:
        _, _, held, _ = await pool.arequest(b"GET", http_server.url4("/"), ext=TIMEOUTS)
        async with trio.open_nursery() as nursery:
            scopes = []
            for _ in range(3):
                scope = trio.CancelScope()
                scopes.append(scope)

                async def wait(scope: trio.CancelScope = scope) -> None:
                    with scope:
                        await pool.arequest(b"GET", http_server.url4("/"))

                nursery.start_soon(wait)
            await trio.testing.wait_all_tasks_blocked()
            assert pool.statistics().waiting == 3
            scopes[1].cancel()
            await trio.testing.wait_all_tasks_blocked()
            assert pool.statistics().waiting == 2
            scopes[0].cancel()
            scopes[2].cancel()
        assert pool.statistics().waiting == 0
        await read_all(held)


# -- Row 3: encode/httpcore#785 (trio)


async def test_httpcore_785_cancel_on_first_response_fifty_times(
    make_pool: PoolFactory, http_server: Server
) -> None:
    async with make_pool(max_connections=10) as pool:
        with trio.fail_after(60):  # a deadlock must fail, not hang
            for _ in range(50):
                first: list[bytes] = []
                async with trio.open_nursery() as nursery:

                    async def one(
                        nursery: trio.Nursery = nursery, first: list[bytes] = first
                    ) -> None:
                        _, _, stream, _ = await pool.arequest(
                            b"GET", http_server.url4("/"), ext=TIMEOUTS
                        )
                        first.append(await read_all(stream))
                        nursery.cancel_scope.cancel()

                    for _ in range(100):
                        nursery.start_soon(one)
                assert first and first[0] == b"hello"
                assert_quiescent(pool)
    assert http_server.counter.peak <= 10


# -- Row 4: encode/httpx#1461 -> httpcore PR#305


@pytest.mark.parametrize("phase", ["send", "headers", "body"])
async def test_httpx_1461_cancel_in_each_phase_closes_the_connection(
    make_pool: PoolFactory, stalling: tuple[Server, Phases], phase: str
) -> None:
    server, phases = stalling
    async with make_pool(max_connections=1) as pool:
        if phase == "send":
            await cancel_when(
                pool,
                phases.got_first_chunk,
                b"POST",
                server.url4("/upload"),
                stream=GatedBody(trio.Event()),
            )
        elif phase == "headers":
            await cancel_when(pool, phases.got_request, b"GET", server.url4("/headers"))
        else:
            _, _, stream, _ = await pool.arequest(b"GET", server.url4("/body"), ext=TIMEOUTS)
            await phases.sent_part.wait()
            with trio.CancelScope() as scope:
                async with trio.open_nursery() as nursery:

                    async def canceller() -> None:
                        await trio.testing.wait_all_tasks_blocked()
                        scope.cancel()

                    nursery.start_soon(canceller)
                    await read_all(stream)
            assert scope.cancelled_caught
        # Closed, slot released (max_connections=1 and the next request gets one).
        await assert_healthy_afterwards(pool, server, 0)


# -- Row 5: encode/httpcore#564 = httpx#2294 (trio)


async def test_httpcore_564_cancel_nursery_with_requests_in_flight_exits_cleanly(
    stalling: tuple[Server, Phases],
) -> None:
    server, _ = stalling

    async def request_and_hold(path: str) -> None:
        _, _, stream, _ = await pool.arequest(b"GET", server.url4(path))
        try:
            await trio.sleep_forever()
        finally:
            await stream.aclose()

    with trio.CancelScope() as outer:
        async with trio_httpcore.AsyncConnectionPool() as pool, trio.open_nursery() as nursery:
            for path in ["/headers"] * 5 + ["/body"] * 5:
                nursery.start_soon(request_and_hold, path)
            await server.counter.wait_for(lambda: len(server.extra["requests"]) == 10)
            await trio.testing.wait_all_tasks_blocked()
            assert pool.statistics().active == 10
            outer.cancel()
    assert outer.cancelled_caught
    assert_empty(pool)
    for i in range(10):
        await wait_closed(server, i)


async def test_httpcore_564_leaving_the_pool_with_open_streams(
    stalling: tuple[Server, Phases],
) -> None:
    server, _ = stalling
    async with trio_httpcore.AsyncConnectionPool() as pool:
        streams = [
            (await pool.arequest(b"GET", server.url4("/body"), ext=TIMEOUTS))[2] for _ in range(3)
        ]
        assert pool.statistics().active == 3
    assert_empty(pool)
    for i in range(3):
        await wait_closed(server, i)
    for stream in streams:
        with pytest.raises(trio_httpcore.TransportError):
            await read_all(stream)


# -- Row 6: encode/httpcore#642


async def test_httpcore_642_aclose_in_cancelled_scope_closes_the_socket(
    make_pool: PoolFactory, stalling: tuple[Server, Phases]
) -> None:
    server, phases = stalling
    async with make_pool() as pool:
        _, _, stream, _ = await pool.arequest(b"GET", server.url4("/body"), ext=TIMEOUTS)
        await phases.sent_part.wait()
        with trio.CancelScope() as scope:
            scope.cancel()
            await stream.aclose()
        await wait_closed(server, 0)
        assert_quiescent(pool)


async def test_httpcore_642_aclose_in_cancelled_scope_over_tls(
    make_pool: PoolFactory, tls_h1_server: Server, tls: TLSMaterial, app: TestApp
) -> None:
    gate = app.gate("g")
    async with make_pool(ssl_context=tls.client_context()) as pool:
        _, _, stream, _ = await pool.arequest(
            b"GET", tls_h1_server.url4("/gate/g", host="localhost"), ext=TIMEOUTS
        )
        await gate.headers_sent.wait()
        with trio.fail_after(5), trio.CancelScope() as scope:  # bounded: a hang fails
            scope.cancel()
            await stream.aclose()
        assert_quiescent(pool)
        assert pool.statistics().idle == 0
        gate.release.set()


# -- Row 18: encode/httpx#2983, PR#3515; theelous3/asks#115


async def test_httpx_2983_idle_connection_closed_by_server_is_evicted(
    make_pool: PoolFactory, start_http_server: Any, mock_clock: trio.testing.MockClock
) -> None:
    """The server closes idle connections after 50 ms; no request ever meets one."""
    server = await start_http_server(close_idle=True, idle_close_delay=0.05)
    async with make_pool() as pool:
        failures = 0
        for i in range(10):
            try:
                assert await get_body(pool, server) == b"hello"
            except trio_httpcore.TransportError:
                failures += 1
            await trio.testing.wait_all_tasks_blocked()
            assert pool.statistics().idle == 1
            mock_clock.jump(0.05)
            await wait_closed(server, i)
            # The watcher looks at a connection once it has been idle for
            # IDLE_WATCH_DELAY (a request taking it sooner polls it instead).
            mock_clock.jump(IDLE_WATCH_DELAY)
            await trio.testing.wait_all_tasks_blocked()
            assert pool.statistics().idle == 0  # the watcher task evicted it
        assert failures == 0
    assert server.counter.total == 10


async def test_httpx_2983_request_racing_the_server_close_is_not_replayed(
    make_pool: PoolFactory, start_raw_server: Any
) -> None:
    """The documented choice for the write race: the request fails, it is never resent."""
    requests: list[bytes] = []

    async def handler(conn: RawConn) -> None:
        head, _ = await conn.read_request()
        requests.append(head)
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        head, _ = await conn.read_request()  # the reused connection's request...
        requests.append(head)
        # ...arrives as the server closes: no response.

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        assert await get_body(pool, server) == b"hello"
        with pytest.raises(trio_httpcore.RemoteProtocolError):
            await pool.arequest(b"POST", server.url4("/"), ext=TIMEOUTS)
        assert_quiescent(pool)
    assert len(requests) == 2
    assert server.counter.total == 1  # not replayed on a new connection


# -- Row 19: theelous3/asks#65


@pytest.mark.parametrize(
    "case",
    [
        "refused",
        "connect-timeout",
        "tls-verify",
        "tls-timeout",
        "garbage",
        "early-close",
        "reset-mid-body",
        "read-timeout",
        "cancel-connect",
    ],
)
async def test_asks_65_every_failure_in_every_phase_leaks_no_socket(
    make_pool: PoolFactory,
    nursery: trio.Nursery,
    start_raw_server: Any,
    tls: TLSMaterial,
    other_tls: TLSMaterial,
    mock_clock: trio.testing.MockClock,
    case: str,
) -> None:
    accepted = trio.Event()

    async def silent(conn: RawConn) -> None:
        accepted.set()
        await conn.wait_closed_by_peer()

    async def scripted(conn: RawConn) -> None:
        accepted.set()
        await conn.read_request()
        if case == "garbage":
            await conn.send(b"nonsense\r\n\r\n")
        elif case == "early-close":
            await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel")
            return  # and close
        elif case == "reset-mid-body":
            await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel")
            conn.reset()
            return
        await conn.wait_closed_by_peer()

    server: Server | None = None
    context = tls.client_context()
    url: Any
    expected: type[BaseException]
    if case == "refused":
        url, expected = (b"http", b"127.0.0.1", closed_port(), b"/"), trio_httpcore.ConnectError
    elif case in ("connect-timeout", "cancel-connect"):
        blackhole = await serve_blackhole(nursery)
        url, expected = blackhole.url4("/"), trio_httpcore.ConnectTimeout
    elif case in ("tls-verify", "tls-timeout"):
        context = other_tls.client_context() if case == "tls-verify" else context
        server = await start_raw_server(silent)
        url = (b"https", b"127.0.0.1", server.port, b"/")
        if case == "tls-verify":
            server = await start_raw_server(
                lambda conn: _tls_serve(conn, tls, accepted)  # a real handshake
            )
            url = (b"https", b"127.0.0.1", server.port, b"/")
        expected = (
            trio_httpcore.ConnectError if case == "tls-verify" else trio_httpcore.ConnectTimeout
        )
    else:
        server = await start_raw_server(scripted if case != "read-timeout" else _read_stall)
        url = server.url4("/")
        expected = (
            trio_httpcore.ReadTimeout
            if case == "read-timeout"
            else trio_httpcore.ReadError
            if case == "reset-mid-body"
            else trio_httpcore.RemoteProtocolError
        )

    async with make_pool(ssl_context=context) as pool:
        async with trio.open_nursery() as inner:

            async def run() -> Any:
                _, _, stream, _ = await pool.arequest(
                    b"GET", url, ext={"timeout": {"connect": 2, "read": 2}}
                )
                return await read_all(stream)

            job = start_background(inner, run)
            await trio.testing.wait_all_tasks_blocked()
            if case == "cancel-connect":
                inner.cancel_scope.cancel()
            else:
                while not job.done.is_set():
                    mock_clock.jump(1)
                    await trio.testing.wait_all_tasks_blocked()
        if case != "cancel-connect":
            assert isinstance(job.error, expected), job.error
        assert_quiescent(pool)
        if server is not None and server.counter.total:
            await wait_closed(server, 0)  # our end of it is closed
    # (the autouse fixture then checks that no socket of the process is left)


async def _tls_serve(conn: RawConn, tls: TLSMaterial, accepted: trio.Event) -> None:
    accepted.set()
    stream = trio.SSLStream(conn.stream, tls.server_context(), server_side=True)
    try:
        await stream.do_handshake()
    except trio.BrokenResourceError:
        return
    await conn.wait_closed_by_peer()


async def _read_stall(conn: RawConn) -> None:
    await conn.read_request()
    await conn.wait_closed_by_peer()


# -- Row 20: python-trio/hip#235


async def test_hip_235_waiters_get_connections_fifo_and_pool_timeout_goes_to_the_right_one(
    make_pool: PoolFactory, http_server: Server, mock_clock: trio.testing.MockClock
) -> None:
    served: list[str] = []
    async with make_pool(max_connections=1) as pool:
        _, _, held, _ = await pool.arequest(b"GET", http_server.url4("/"))
        jobs = {}
        async with trio.open_nursery() as nursery:
            for name, pool_timeout in (("A", None), ("B", 2), ("C", None)):

                async def waiter(
                    name: str = name, pool_timeout: float | None = pool_timeout
                ) -> Any:
                    _, _, stream, _ = await pool.arequest(
                        b"GET", http_server.url4("/"), ext={"timeout": {"pool": pool_timeout}}
                    )
                    served.append(name)
                    return await read_all(stream)

                jobs[name] = start_background(nursery, waiter)
                await trio.testing.wait_all_tasks_blocked()  # queued in this order
            assert pool.statistics().waiting == 3
            mock_clock.jump(2.5)
            await trio.testing.wait_all_tasks_blocked()
            assert isinstance(jobs["B"].error, trio_httpcore.PoolTimeout)
            assert not jobs["A"].done.is_set() and not jobs["C"].done.is_set()
            assert pool.statistics().waiting == 2
            await read_all(held)
        assert served == ["A", "C"]
        assert jobs["A"].result == jobs["C"].result == b"hello"


# -- Row 22: encode/httpx#3215 (+ httpcore perf PRs)


def _count_library_calls() -> tuple[dict[str, int], Any]:
    counts = {"calls": 0}

    def profiler(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and "trio_httpcore" in frame.f_code.co_filename:
            counts["calls"] += 1

    return counts, profiler


async def test_httpx_3215_acquire_does_not_poll_each_idle_socket(
    make_pool: PoolFactory, http_server: Server, mock_clock: trio.testing.MockClock
) -> None:
    # The clock stands still (mock_clock, no autojump): the idle watchers' 0.1 s
    # delay never ends inside the measured request, however slow a loaded machine
    # makes it, so their wake-ups are never counted as calls of the acquire.
    async def calls_for_one_request(pool: Any) -> int:
        await trio.testing.wait_all_tasks_blocked()  # every idle watcher is waiting
        counts, profiler = _count_library_calls()
        sys.setprofile(profiler)
        try:
            assert await get_body(pool, http_server) == b"hello"
        finally:
            sys.setprofile(None)
        return counts["calls"]

    async with make_pool() as pool:
        assert await get_body(pool, http_server) == b"hello"
        with_one_idle = await calls_for_one_request(pool)
        # Now 50 idle connections to the same origin.
        streams = [
            (await pool.arequest(b"GET", http_server.url4("/"), ext=TIMEOUTS))[2] for _ in range(50)
        ]
        for stream in streams:
            await read_all(stream)
        assert pool.statistics().idle == 50
        with_fifty_idle = await calls_for_one_request(pool)
    # An acquire that checked each idle socket would cost at least 49 more calls.
    assert abs(with_fifty_idle - with_one_idle) < 10, (with_one_idle, with_fifty_idle)


# -- Row 24: encode/httpx#825, #1101, PR#1316


async def test_httpx_825_dropped_response_warns_and_frees_its_slot(
    make_pool: PoolFactory, stalling: tuple[Server, Phases]
) -> None:
    server, phases = stalling
    async with make_pool(max_connections=1) as pool:
        _, _, stream, _ = await pool.arequest(b"GET", server.url4("/body"), ext=TIMEOUTS)
        await phases.sent_part.wait()
        assert pool.statistics().active == 1
        with pytest.warns(ResourceWarning, match=f"127.0.0.1:{server.port}"):
            del stream
            gc.collect()
        await trio.testing.wait_all_tasks_blocked()
        assert_quiescent(pool)
        await wait_closed(server, 0)
        assert await get_body(pool, server) == b"hello"
