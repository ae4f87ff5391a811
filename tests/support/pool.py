"""Driving a pool in the tests: requests with generous limits, bodies, background
requests, cancelling at a server-side event, and the checks that a pool is quiescent,
empty, and left no task of the library behind."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import trio
import trio.testing

import trio_httpcore

from .h11server import H11Request
from .servers import Server

# Generous: these only guard against hangs, and a loaded CI machine is slow.
TIMEOUTS: dict[str, Any] = {"timeout": {"connect": 30, "read": 30, "write": 30, "pool": 30}}
"""Generous per-phase limits: a hang fails the test instead of blocking CI (no test relies
on them firing)."""

NO_TIMEOUTS: dict[str, Any] = {"timeout": {"connect": None, "read": None, "write": None}}
"""For tests under a MockClock: the only deadlines are the ones the test sets up."""


async def request(
    pool: Any,
    server: Server,
    path: str = "/",
    method: bytes = b"GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    stream: Any = None,
    ext: dict[str, Any] | None = None,
) -> tuple[int, list[tuple[bytes, bytes]], bytes, dict[str, Any]]:
    """One request through ``pool``, body read to the end: ``(status, headers, body, ext)``."""
    status, resp_headers, body_stream, resp_ext = await pool.arequest(
        method, server.url4(path), headers=headers or [], stream=stream, ext=ext or TIMEOUTS
    )
    body = await read_all(body_stream)
    return status, resp_headers, body, resp_ext


async def get_body(pool: Any, server: Server, path: str = "/") -> bytes:
    status, _, body, _ = await request(pool, server, path)
    assert status == 200
    return body


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


async def wait_closed(server: Server, index: int = -1) -> None:
    """Wait until the server has seen its connection ``index`` closed by the client.

    The server's handler must be reading (or watching) that connection when it
    stalls, as ``H11Request.stall()`` and ``RawConn.wait_closed_by_peer()`` do.
    ``fail_after`` only guards against a hang; no result depends on time.
    """
    with trio.fail_after(5):
        await server.counter.wait_for(lambda: len(server.connections) > max(index, 0))
        await server.connections[index].closed.wait()


class Background:
    """Run ``fn()`` in a nursery and keep its result or exception (no ExceptionGroup)."""

    def __init__(self) -> None:
        self.done = trio.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    async def run(self, fn: Callable[[], Awaitable[Any]]) -> None:
        try:
            self.result = await fn()
        except Exception as exc:
            self.error = exc
        finally:
            self.done.set()


def start_background(nursery: trio.Nursery, fn: Callable[[], Awaitable[Any]]) -> Background:
    job = Background()
    nursery.start_soon(job.run, fn)
    return job


class Phases:
    """Events a stalling server sets as a request reaches each phase."""

    def __init__(self) -> None:
        self.got_request = trio.Event()  # /headers: whole request read, no response
        self.sent_part = trio.Event()  # /body: head and 5 of 10 body bytes sent
        self.got_first_chunk = trio.Event()  # /upload: first body chunk read
        self.got_head = trio.Event()  # /upload-noread: head read, body not read...
        self.drain = trio.Event()  # ...until the test sets this


async def stalling_handler(phases: Phases, req: H11Request) -> None:
    if req.path == "/headers":
        await req.read_body()
        phases.got_request.set()
        await req.stall()
    elif req.path == "/body":
        await req.read_body()
        await req.start_response(200, [(b"content-length", b"10")])
        await req.send_data(b"12345")
        phases.sent_part.set()
        await req.stall()
    elif req.path == "/upload":
        assert await req.read_body_chunk()
        phases.got_first_chunk.set()
        await req.stall()
    elif req.path == "/upload-noread":
        phases.got_head.set()
        await phases.drain.wait()  # reads nothing till then: the client's send blocks
        await req.stall()
    else:
        await req.respond(200, b"hello")


class GatedBody(trio_httpcore.AsyncByteStream):
    """A request body (a plain async iterator, not a generator): one chunk, then waits."""

    def __init__(self, gate: trio.Event) -> None:
        self.gate = gate
        self.sent = 0
        self.closed = False

    def __aiter__(self) -> GatedBody:
        return self

    async def __anext__(self) -> bytes:
        self.sent += 1
        if self.sent == 1:
            return b"first chunk"
        if self.sent == 2:
            await self.gate.wait()
            return b"second chunk"
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.closed = True


async def cancel_when(
    pool: Any, event: trio.Event, method: bytes, url: Any, **kwargs: Any
) -> list[Any]:
    """Start the request; cancel it as soon as ``event`` is set and every task is blocked."""
    got: list[Any] = []
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:

            async def canceller() -> None:
                await event.wait()
                await trio.testing.wait_all_tasks_blocked()
                scope.cancel()

            nursery.start_soon(canceller)
            got.append(await pool.arequest(method, url, ext=TIMEOUTS, **kwargs))
    assert scope.cancelled_caught, "the request finished before the cancel"
    return got


async def assert_healthy_afterwards(pool: Any, server: Server, closed_index: int) -> None:
    """The cancelled connection is gone, the pool is clean, the next request gets a new one."""
    await wait_closed(server, closed_index)
    await trio.testing.wait_all_tasks_blocked()
    assert_quiescent(pool)
    assert pool.statistics().idle == 0
    assert await get_body(pool, server) == b"hello"
    assert server.counter.total == closed_index + 2


# ---------------------------------------------------------------------------
# Checks of a pool's state


def assert_quiescent(pool: Any) -> None:
    """No connection connecting or in use, and nobody waiting (idle ones are fine)."""
    stats = pool.statistics()
    assert (stats.connecting, stats.active, stats.waiting) == (0, 0, 0), stats


def assert_empty(pool: Any) -> None:
    """No connection at all, nobody waiting and no HTTP/2 or HTTP/3 stream."""
    stats = pool.statistics()
    counts = (stats.connecting, stats.active, stats.idle, stats.waiting)
    assert (*counts, stats.http2_streams, stats.http3_streams) == (0,) * 6, stats


PoolFactory = Callable[..., AbstractAsyncContextManager[Any]]


def library_tasks() -> set[trio.lowlevel.Task]:
    """Every live task of this trio run whose coroutine is trio_httpcore's own code."""
    found: set[trio.lowlevel.Task] = set()
    stack = [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        if task is None:
            continue
        code = getattr(task.coro, "cr_code", None)
        if code is not None and f"{os.sep}trio_httpcore{os.sep}" in code.co_filename:
            found.add(task)
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return found


# ---------------------------------------------------------------------------
# Request and response bodies


async def read_all(stream: Any) -> bytes:
    """Read a response stream to its end (``async for``) and return the bytes."""
    chunks = [chunk async for chunk in stream]
    return b"".join(chunks)


async def gated_body(chunks: list[bytes], gate: trio.Event, after: int = 1) -> AsyncIterator[bytes]:
    """A request body that yields ``after`` chunks, waits for ``gate``, then the rest."""
    for i, chunk in enumerate(chunks):
        if i == after:
            await gate.wait()
        yield chunk
