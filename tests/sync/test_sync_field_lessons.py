"""FIELD-LESSONS rows 13, 14, 21 and 23, as tests named after their references.

Rows 13, 14 and 23 also have fuller tests beside this file (named for what they
do); these are the index's entries, small enough for CI, and each can fail on its
own. Row 21 is about when a ``with`` block is needed: the blocking API is where
it is not.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

import pytest
import trio
import trio.testing

import trio_httpcore
from tests.support.pool import TIMEOUTS, assert_quiescent
from tests.support.raw import closed_port
from tests.support.servers import pattern
from tests.support.threaded import ThreadedServer


def _run_threads(count: int, work: Any) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            work(n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


# -- Row 13: pydantic/httpx2#1153 (a sync HTTP/2 client shared by threads corrupts h2)


def test_httpx2_1153_threads_share_one_http2_connection_in_stream_order(
    h2_server: ThreadedServer, tls: Any
) -> None:
    """32 threads x 20 requests through one SyncConnectionPool(http2=True): one TCP
    connection, stream ids strictly increasing on the wire, no error."""
    threads, per_thread = 32, 20
    with trio_httpcore.SyncConnectionPool(ssl_context=tls.client_context(), http2=True) as pool:

        def work(n: int) -> None:
            for _ in range(per_thread):
                status, _, stream, ext = pool.request(b"GET", h2_server.url4("/"), ext=TIMEOUTS)
                assert (status, ext["http_version"], b"".join(stream)) == (200, "HTTP/2", b"hello")

        errors = _run_threads(threads, work)
        assert not errors, errors[:3]
        assert pool.statistics().http2_streams == 0
    ids = h2_server.server.extra["stream_ids"]
    assert len(ids) == threads * per_thread
    assert ids == sorted(set(ids))
    assert h2_server.server.counter.total == 1


# -- Row 14: encode/httpcore#996 (GC-closed streams deadlock the sync pool's lock)


def test_httpcore_996_responses_dropped_by_gc_in_many_threads_do_not_deadlock(
    h11_server: ThreadedServer,
) -> None:
    """Threads drop unread streamed responses, half of them in reference cycles that
    ``gc.collect()`` frees inside whichever thread runs it: nothing deadlocks, every
    connection comes back, and the pool still serves."""
    threads, per_thread = 6, 10
    with (
        pytest.warns(ResourceWarning),
        trio_httpcore.SyncConnectionPool(max_keepalive_connections=4) as pool,
    ):

        def work(n: int) -> None:
            for i in range(per_thread):
                _, _, stream, _ = pool.request(
                    b"GET", h11_server.url4("/bytes/200000"), ext=TIMEOUTS
                )
                if i % 2:
                    cycle: list[Any] = [stream]
                    cycle.append(cycle)
                    del cycle
                del stream
                if i % 3 == 0:
                    gc.collect()

        errors = _run_threads(threads, work)
        assert not errors, errors[:3]
        gc.collect()
        pool._portal.run(trio.testing.wait_all_tasks_blocked)  # the scheduled closes ran
        assert_quiescent(pool)
        status, _, stream, _ = pool.request(b"GET", h11_server.url4("/"), ext=TIMEOUTS)
        assert (status, b"".join(stream)) == (200, b"hello")


# -- Row 21: python-trio/hip#125 (HTTP/2 needs a background task, so a `with` block)


async def test_hip_125_pool_not_entered_raises_runtime_error_naming_async_with() -> None:
    pool = trio_httpcore.AsyncConnectionPool()
    with pytest.raises(RuntimeError, match="async with"):
        await pool.arequest(b"GET", (b"http", b"127.0.0.1", closed_port(), b"/"))
    await pool.aclose()  # never entered: nothing to do


def test_hip_125_sync_pool_works_without_with(h11_server: ThreadedServer) -> None:
    pool = trio_httpcore.SyncConnectionPool()
    try:
        status, _, stream, _ = pool.request(b"GET", h11_server.url4("/"), ext=TIMEOUTS)
        assert (status, b"".join(stream)) == (200, b"hello")
    finally:
        pool.close()


async def test_hip_125_async_client_not_entered_raises_runtime_error_naming_async_with() -> None:
    client = trio_httpcore.AsyncClient()
    try:
        with pytest.raises(RuntimeError, match="async with"):
            await client.get(f"http://127.0.0.1:{closed_port()}/")
    finally:
        await client.aclose()


# -- Row 23: encode/httpx#572 (sync and async drift apart)

CASES: list[tuple[str, bytes, str, bytes | None]] = [
    ("get", b"GET", "/", None),
    ("large", b"GET", "/bytes/300000", None),
    ("status", b"GET", "/status/404", None),
    ("post", b"POST", "/echo", pattern(50_000)),
    ("refused", b"GET", "refused", None),
]


def _url(server: ThreadedServer, path: str, refused_port: int) -> Any:
    if path == "refused":
        return (b"http", b"127.0.0.1", refused_port, b"/")
    return server.url4(path)


async def test_httpx_572_sync_and_async_give_the_same_results(
    h11_server: ThreadedServer,
) -> None:
    """The same cases through AsyncConnectionPool (here) and SyncConnectionPool (in a
    worker thread): same status, body and headers, or the same exception class."""
    refused = closed_port()

    def outcome_sync() -> list[Any]:
        results: list[Any] = []
        with trio_httpcore.SyncConnectionPool() as pool:
            for _, method, path, body in CASES:
                try:
                    status, _, stream, ext = pool.request(
                        method,
                        _url(h11_server, path, refused),
                        stream=None if body is None else trio_httpcore.PlainByteStream(body),
                        ext=TIMEOUTS,
                    )
                    results.append((status, b"".join(stream), ext["http_version"]))
                except trio_httpcore.HTTPError as exc:
                    results.append(type(exc))
        return results

    results_async: list[Any] = []
    async with trio_httpcore.AsyncConnectionPool() as pool:
        for _, method, path, body in CASES:
            try:
                status, _, stream, ext = await pool.arequest(
                    method,
                    _url(h11_server, path, refused),
                    stream=None if body is None else trio_httpcore.PlainByteStream(body),
                    ext=TIMEOUTS,
                )
                data = b"".join([chunk async for chunk in stream])
                results_async.append((status, data, ext["http_version"]))
            except trio_httpcore.HTTPError as exc:
                results_async.append(type(exc))
    results_sync = await trio.to_thread.run_sync(outcome_sync)
    assert results_sync == results_async
    assert results_async[0] == (200, b"hello", "HTTP/1.1")
    assert results_async[3][1] == pattern(50_000)
    assert results_async[4] is trio_httpcore.ConnectError
