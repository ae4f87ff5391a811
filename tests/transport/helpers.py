"""Helpers shared by the transport tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio

from tests._servers import Server, read_all

TIMEOUTS: dict[str, Any] = {"timeout": {"connect": 5, "read": 5, "write": 5, "pool": 5}}
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
