"""Every cancellation rule of DESIGN.md, each at its exact point (server-side events).

After each: the pool's counters are back to zero, the connection in an unknown
state was closed (the server sees it go), and the next request succeeds on a
healthy connection. The autouse fixture checks that no socket leaked.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing

import trio_httpcore
from tests.support.h11server import H11Request, serve_http
from tests.support.pool import (
    TIMEOUTS,
    GatedBody,
    Phases,
    PoolFactory,
    assert_healthy_afterwards,
    assert_quiescent,
    cancel_when,
    get_body,
    read_all,
    stalling_handler,
    wait_closed,
)
from tests.support.raw import RawConn, serve_blackhole
from tests.support.servers import Server
from tests.support.tls import TLSMaterial


async def test_cancel_while_waiting_for_a_slot(make_pool: PoolFactory, http_server: Server) -> None:
    async with make_pool(max_connections=1) as pool:
        _, _, held, _ = await pool.arequest(b"GET", http_server.url4("/"), ext=TIMEOUTS)
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pool.arequest, b"GET", http_server.url4("/"))
                await trio.testing.wait_all_tasks_blocked()
                assert pool.statistics().waiting == 1
                scope.cancel()
        stats = pool.statistics()
        assert (stats.waiting, stats.active, stats.connecting) == (0, 1, 0)
        assert await read_all(held) == b"hello"
        assert await get_body(pool, http_server) == b"hello"
    assert http_server.counter.total == 1  # nothing else changed


async def test_cancel_while_connecting_tcp(
    make_pool: PoolFactory, nursery: trio.Nursery, http_server: Server
) -> None:
    blackhole = await serve_blackhole(nursery)
    async with make_pool(max_connections=1) as pool:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as inner:
                inner.start_soon(pool.arequest, b"GET", blackhole.url4("/"))
                await trio.testing.wait_all_tasks_blocked()
                assert pool.statistics().connecting == 1
                scope.cancel()
        assert_quiescent(pool)
        # The slot came back: with max_connections=1 another origin gets it.
        assert await get_body(pool, http_server) == b"hello"
    blackhole.stop.set()


async def test_cancel_during_tls_handshake(
    make_pool: PoolFactory, start_raw_server: Any, tls: TLSMaterial, http_server: Server
) -> None:
    accepted = trio.Event()

    async def handler(conn: RawConn) -> None:
        accepted.set()
        await conn.wait_closed_by_peer()  # never answers the ClientHello

    silent = await start_raw_server(handler)
    async with make_pool(ssl_context=tls.client_context(), max_connections=1) as pool:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    pool.arequest, b"GET", (b"https", b"localhost", silent.port, b"/")
                )
                await accepted.wait()
                await trio.testing.wait_all_tasks_blocked()
                assert pool.statistics().connecting == 1
                scope.cancel()
        assert_quiescent(pool)
        await wait_closed(silent, 0)  # the half-open connection was closed
        assert await get_body(pool, http_server) == b"hello"


async def test_cancel_mid_request_body(
    make_pool: PoolFactory, stalling: tuple[Server, Phases]
) -> None:
    server, phases = stalling
    body = GatedBody(trio.Event())
    async with make_pool() as pool:
        await cancel_when(
            pool,
            phases.got_first_chunk,
            b"POST",
            server.url4("/upload"),
            stream=body,
        )
        assert body.sent == 2  # cancelled while producing the second chunk
        await assert_healthy_afterwards(pool, server, 0)


async def test_cancel_while_waiting_for_response_headers(
    make_pool: PoolFactory, stalling: tuple[Server, Phases]
) -> None:
    server, phases = stalling
    async with make_pool() as pool:
        await cancel_when(pool, phases.got_request, b"GET", server.url4("/headers"))
        await assert_healthy_afterwards(pool, server, 0)


async def test_cancel_mid_response_body(
    make_pool: PoolFactory, stalling: tuple[Server, Phases]
) -> None:
    server, phases = stalling
    async with make_pool() as pool:
        _, _, stream, _ = await pool.arequest(b"GET", server.url4("/body"), ext=TIMEOUTS)
        await phases.sent_part.wait()
        received = b""
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:

                async def canceller() -> None:
                    await trio.testing.wait_all_tasks_blocked()
                    scope.cancel()

                nursery.start_soon(canceller)
                async for chunk in stream:
                    received += chunk
        assert scope.cancelled_caught
        assert received == b"12345"
        # The connection is closed at once; aclose() afterwards is harmless.
        await assert_healthy_afterwards(pool, server, 0)
        await stream.aclose()


async def test_cancel_reused_connection_mid_response(
    make_pool: PoolFactory, stalling: tuple[Server, Phases]
) -> None:
    server, phases = stalling
    async with make_pool() as pool:
        assert await get_body(pool, server) == b"hello"
        await cancel_when(pool, phases.got_request, b"GET", server.url4("/headers"))
        await assert_healthy_afterwards(pool, server, 0)
    assert server.connections[0].requests == 2


async def test_cancel_outside_pool_while_holding_response(
    make_pool: PoolFactory, stalling: tuple[Server, Phases]
) -> None:
    # A response stream abandoned by a cancelled task, then closed: the slot comes back.
    server, _ = stalling
    async with make_pool(max_connections=1) as pool:
        _, _, stream, _ = await pool.arequest(b"GET", server.url4("/body"), ext=TIMEOUTS)
        with trio.CancelScope() as scope:
            scope.cancel()
            await stream.aclose()
        await assert_healthy_afterwards(pool, server, 0)


async def test_cancel_mid_request_body_from_async_generator(
    make_pool: PoolFactory, stalling: tuple[Server, Phases]
) -> None:
    # The same rule as test_cancel_mid_request_body, with the body an async generator
    # (AsyncIteratorByteStream): the pool must close the iteration it abandons, or trio
    # reports "Async generator ... was garbage collected before it had been exhausted".
    server, phases = stalling
    gate = trio.Event()

    async def parts() -> AsyncIterator[bytes]:
        yield b"first chunk"
        await gate.wait()
        yield b"second chunk"

    async with make_pool() as pool:
        await cancel_when(
            pool,
            phases.got_first_chunk,
            b"POST",
            server.url4("/upload"),
            stream=trio_httpcore.AsyncIteratorByteStream(parts()),
        )
        await assert_healthy_afterwards(pool, server, 0)


async def test_cancel_while_sending_plain_body_blocked(
    make_pool: PoolFactory, stalling: Any
) -> None:
    # The server reads the head and never the body: the client's send blocks on a
    # full socket buffer; cancel there. PlainByteStream.__aiter__ is an async generator.
    server, phases = stalling
    body = trio_httpcore.PlainByteStream(b"x" * 32 * 1024 * 1024)
    async with make_pool() as pool:
        await cancel_when(
            pool,
            phases.got_head,
            b"POST",
            server.url4("/upload-noread"),
            stream=body,
            headers=[(b"Content-Length", str(len(body)).encode())],
        )
        phases.drain.set()
        await assert_healthy_afterwards(pool, server, 0)


# -- The Must-show: 200 cancellations at random points, then 100 normal requests


async def test_must_show_200_random_cancellations_then_100_requests(
    make_pool: PoolFactory, nursery: trio.Nursery, tls: TLSMaterial
) -> None:
    rng = random.Random(20261122)
    max_connections = 5
    phases = Phases()
    # Every stall phase is reached over and over: use events that never stay set.
    reached: dict[str, trio.Event] = {}

    async def handler(req: H11Request) -> None:
        event = reached.setdefault(req.path, trio.Event())
        if req.path in ("/headers", "/body", "/upload"):
            event.set()
            reached[req.path] = trio.Event()
        await stalling_handler(phases, req)

    server = await serve_http(nursery, handler)
    blackhole = await serve_blackhole(nursery)
    plan = {"pool": 0, "connect": 0, "send": 0, "headers": 0, "body": 0, "checkpoints": 0}

    async def cancelled_request(pool: Any) -> None:
        phase = rng.choice(["connect", "send", "headers", "body", "checkpoints"])
        delay = rng.randint(0, 30)
        url = {
            "connect": blackhole.url4("/"),
            "send": server.url4("/upload"),
            "headers": server.url4("/headers"),
            "body": server.url4("/body"),
            "checkpoints": server.url4(rng.choice(["/headers", "/body", "/upload", "/"])),
        }[phase]
        body = GatedBody(trio.Event()) if url[3] == b"/upload" else None
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as inner:

                async def canceller() -> None:
                    if phase in ("headers", "body", "send"):
                        key = {"headers": "/headers", "body": "/body", "send": "/upload"}[phase]
                        await reached.setdefault(key, trio.Event()).wait()
                    for _ in range(delay):
                        await trio.lowlevel.checkpoint()
                    if pool.statistics().waiting:
                        plan["pool"] += 1
                    scope.cancel()

                inner.start_soon(canceller)
                _, _, stream, _ = await pool.arequest(b"POST", url, stream=body, ext=TIMEOUTS)
                async for _ in stream:
                    pass
                scope.cancel()  # finished before its cancel: fine ("/" is quick)
        plan[phase] += 1

    async with make_pool(max_connections=max_connections) as pool:
        for _ in range(10):  # 10 waves of 20 requests at once: the pool is contended
            async with trio.open_nursery() as wave:
                for _ in range(20):
                    wave.start_soon(cancelled_request, pool)
        await trio.testing.wait_all_tasks_blocked()
        assert_quiescent(pool)

        results: list[bytes] = []

        async def normal() -> None:
            results.append(await get_body(pool, server, "/"))

        async with trio.open_nursery() as wave:
            for _ in range(100):
                wave.start_soon(normal)
        assert results == [b"hello"] * 100
        stats = pool.statistics()
        assert (stats.active, stats.waiting, stats.connecting) == (0, 0, 0)
    assert sum(plan[k] for k in ("connect", "send", "headers", "body", "checkpoints")) == 200
    assert plan["pool"] > 0  # some were cancelled while waiting for a slot
    assert min(plan[k] for k in ("connect", "send", "headers", "body")) > 0
    assert server.counter.peak <= max_connections
    blackhole.stop.set()


async def test_request_body_error_propagates_and_closes_the_connection(
    make_pool: PoolFactory, stalling: tuple[Server, Phases]
) -> None:
    server, phases = stalling

    class BodyFailure(Exception):
        pass

    async def parts() -> AsyncIterator[bytes]:
        yield b"first chunk"
        await phases.got_first_chunk.wait()
        raise BodyFailure("the caller's body broke")

    async with make_pool() as pool:
        with pytest.raises(BodyFailure):
            await pool.arequest(
                b"POST",
                server.url4("/upload"),
                stream=trio_httpcore.AsyncIteratorByteStream(parts()),
                ext=TIMEOUTS,
            )
        await assert_healthy_afterwards(pool, server, 0)
