"""SyncConnectionPool: the async pool on a portal thread, used from plain threads."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Any

import pytest
import trio
import trio.testing

from tests.support.pool import TIMEOUTS
from tests.support.raw import closed_port
from tests.support.servers import pattern
from tests.support.threaded import SlowPaths, ThreadedServer
from trio_httpcore import (
    AsyncByteStream,
    AsyncConnectionPool,
    AsyncHTTPTransport,
    AsyncIteratorByteStream,
    ConnectError,
    IteratorByteStream,
    PlainByteStream,
    RemoteProtocolError,
    SyncByteStream,
    SyncConnectionPool,
    SyncHTTPTransport,
)
from trio_httpcore._sync._body import READ_AHEAD
from trio_httpcore._sync._pool import _SyncTransportFacade


def pool_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "SyncConnectionPool"]


@pytest.fixture
def pool() -> Iterator[SyncConnectionPool]:
    with SyncConnectionPool() as pool:
        yield pool
    assert not pool_threads()


def get(
    pool: SyncConnectionPool, server: ThreadedServer, path: str = "/", **kwargs: Any
) -> tuple[int, bytes]:
    status, _, stream, _ = pool.request(b"GET", server.url4(path), ext=TIMEOUTS, **kwargs)
    try:
        return status, b"".join(stream)
    finally:
        stream.close()


def assert_quiescent(pool: SyncConnectionPool) -> None:
    stats = pool.statistics()
    assert (stats.connecting, stats.active, stats.waiting) == (0, 0, 0), stats


def test_request_and_response(pool: SyncConnectionPool, h11_server: ThreadedServer) -> None:
    assert isinstance(pool, SyncHTTPTransport)
    status, headers, stream, ext = pool.request(
        b"GET", h11_server.url4("/"), headers=[(b"X-Test", b"1")], ext=TIMEOUTS
    )
    assert isinstance(stream, SyncByteStream)
    assert status == 200
    assert (b"content-length", b"5") in headers
    assert ext["http_version"] == "HTTP/1.1"
    assert b"".join(stream) == b"hello"
    stream.close()
    [request] = h11_server.server.extra["requests"]
    assert request.header(b"x-test") == b"1"


def test_thread_starts_on_first_request_and_stops_on_close(h11_server: ThreadedServer) -> None:
    pool = SyncConnectionPool()
    assert not pool_threads()
    assert pool.statistics().idle == 0  # no thread needed for that
    assert get(pool, h11_server) == (200, b"hello")
    [thread] = pool_threads()
    assert thread.daemon
    pool.close()
    assert not thread.is_alive()
    with pytest.raises(RuntimeError, match="SyncConnectionPool is closed"):
        get(pool, h11_server)
    # The server saw the connection closed by the pool, not left to the OS.
    assert h11_server.call(lambda: h11_server.server.counter.open_now) == 0


def test_dropped_pool_stops_its_thread(h11_server: ThreadedServer) -> None:
    pool = SyncConnectionPool()
    assert get(pool, h11_server) == (200, b"hello")
    [thread] = pool_threads()
    del pool
    gc.collect()
    assert not thread.is_alive()
    assert h11_server.call(lambda: h11_server.server.counter.open_now) == 0


def test_enter_starts_the_thread() -> None:
    with SyncConnectionPool():
        assert len(pool_threads()) == 1
    assert not pool_threads()


def test_close_without_use_starts_nothing() -> None:
    pool = SyncConnectionPool()
    pool.close()
    assert not pool_threads()


def test_streaming_response(
    pool: SyncConnectionPool, h11_server: ThreadedServer, slow: SlowPaths
) -> None:
    """Each chunk reaches the caller as it arrives: b"first" before the server sends the rest."""
    status, _, stream, _ = pool.request(b"GET", h11_server.url4("/gate"), ext=TIMEOUTS)
    assert status == 200
    chunks = iter(stream)
    assert next(chunks) == b"first"
    assert not slow.release.is_set()
    slow.release.set()
    assert b"".join(chunks) == b"last"
    stream.close()
    assert_quiescent(pool)


def test_large_body_in_many_chunks(pool: SyncConnectionPool, h11_server: ThreadedServer) -> None:
    _, _, stream, _ = pool.request(b"GET", h11_server.url4("/bytes/3000000"), ext=TIMEOUTS)
    chunks = list(stream)
    assert len(chunks) > 1
    assert b"".join(chunks) == pattern(3_000_000)


class EndlessBody(AsyncHTTPTransport):
    """Every response has an endless body of 10,000-byte chunks, produced without I/O,
    and the headers given (none by default: no declared length)."""

    def __init__(self, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.headers = headers or []

    async def arequest(
        self,
        method: bytes,
        url: tuple[bytes, bytes, int | None, bytes],
        headers: Any = None,
        stream: Any = None,
        ext: Any = None,
    ) -> tuple[int, list[tuple[bytes, bytes]], AsyncByteStream, dict[str, Any]]:
        async def chunks() -> AsyncIterator[bytes]:
            while True:
                await trio.lowlevel.checkpoint()
                yield b"x" * 10_000

        return 200, self.headers, AsyncIteratorByteStream(chunks()), {}


class SyncEndlessBody(_SyncTransportFacade[EndlessBody]):
    def __init__(self, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(EndlessBody(headers))


def test_body_read_ahead_is_bounded() -> None:
    """The trio thread reads a body ahead of the caller by READ_AHEAD bytes (plus a chunk),
    not to its end: a slow reader of a large download holds bounded memory. The body here
    never ends and costs no I/O, so once every task is blocked the reader waits for room."""
    with SyncEndlessBody() as transport:
        _, _, stream, _ = transport.request(b"GET", (b"http", b"example.org", None, b"/"))
        reader = stream._body  # type: ignore[attr-defined]
        settle = partial(transport._portal.run, trio.testing.wait_all_tasks_blocked)
        settle()
        assert READ_AHEAD <= reader._unacknowledged < READ_AHEAD + 10_000
        chunks = iter(stream)
        for _ in range(READ_AHEAD // 2 // 10_000 + 1):  # half the window: acknowledged
            assert next(chunks) == b"x" * 10_000
        settle()
        assert READ_AHEAD <= reader._unacknowledged < READ_AHEAD + 10_000
        assert len(reader.items) == reader._unacknowledged // 10_000
        stream.close()


def test_body_longer_than_declared_is_handed_over_when_the_window_fills() -> None:
    """A body declared to fit in the read-ahead window is read before the response is
    handed over; one that turns out longer is handed over once the window is full,
    instead of the reader waiting for room that only the caller can make."""
    with SyncEndlessBody([(b"content-length", b"10")]) as transport:
        _, _, stream, _ = transport.request(b"GET", (b"http", b"example.org", None, b"/"))
        assert READ_AHEAD <= stream._body._unacknowledged < READ_AHEAD + 10_000  # type: ignore[attr-defined]
        assert next(iter(stream)) == b"x" * 10_000
        stream.close()


def test_small_body_is_read_before_the_response_is_handed_over(
    pool: SyncConnectionPool, h11_server: ThreadedServer
) -> None:
    """Content-Length within the read-ahead window: request() returns once the body is
    in, its connection already back in the pool (one wake-up of the caller, not two)."""
    _, _, stream, _ = pool.request(b"GET", h11_server.url4("/"), ext=TIMEOUTS)
    assert len(stream._body.items) == 2  # type: ignore[attr-defined]  # b"hello", the end
    stats = pool.statistics()
    assert (stats.active, stats.idle) == (0, 1)
    assert b"".join(stream) == b"hello"
    stream.close()


def test_error_in_a_small_body_is_raised_by_its_iteration(
    pool: SyncConnectionPool, h11_server: ThreadedServer
) -> None:
    """Read before the hand-over or not, a body's error comes from reading the body."""
    status, _, stream, _ = pool.request(b"GET", h11_server.url4("/truncated"), ext=TIMEOUTS)
    assert status == 200
    chunks = iter(stream)
    assert next(chunks) == b"0123456789"
    with pytest.raises(RemoteProtocolError):
        next(chunks)
    stream.close()
    assert_quiescent(pool)
    assert get(pool, h11_server) == (200, b"hello")


def test_reading_to_the_end_returns_the_connection(
    pool: SyncConnectionPool, h11_server: ThreadedServer
) -> None:
    for _ in range(3):
        assert get(pool, h11_server) == (200, b"hello")
        stats = pool.statistics()
        assert (stats.active, stats.idle) == (0, 1)
    assert h11_server.server.counter.total == 1  # one connection, reused


def test_close_unread_response_releases_the_connection(
    pool: SyncConnectionPool, h11_server: ThreadedServer
) -> None:
    _, _, stream, _ = pool.request(b"GET", h11_server.url4("/bytes/3000000"), ext=TIMEOUTS)
    assert pool.statistics().active == 1
    stream.close()
    stream.close()  # idempotent
    assert_quiescent(pool)
    assert get(pool, h11_server) == (200, b"hello")


def test_closed_or_consumed_body_iterates_empty(
    pool: SyncConnectionPool, h11_server: ThreadedServer
) -> None:
    _, _, stream, _ = pool.request(b"GET", h11_server.url4("/bytes/3000000"), ext=TIMEOUTS)
    stream.close()
    assert list(stream) == []
    _, _, stream, _ = pool.request(b"GET", h11_server.url4("/"), ext=TIMEOUTS)
    assert b"".join(stream) == b"hello"
    assert list(stream) == []
    stream.close()  # nothing left to do
    assert_quiescent(pool)


def test_request_bodies(pool: SyncConnectionPool, h11_server: ThreadedServer) -> None:
    body = pattern(200_000)
    plain = PlainByteStream(body)
    status, _, stream, _ = pool.request(
        b"POST", h11_server.url4("/echo"), stream=plain, ext=TIMEOUTS
    )
    assert (status, b"".join(stream)) == (200, body)

    def generate() -> Iterator[bytes]:
        for i in range(0, len(body), 30_000):
            yield body[i : i + 30_000]

    closed = threading.Event()
    chunked = IteratorByteStream(generate(), close_func=closed.set)
    status, _, stream, _ = pool.request(
        b"POST", h11_server.url4("/echo"), stream=chunked, ext=TIMEOUTS
    )
    assert (status, b"".join(stream)) == (200, body)
    assert not closed.is_set()  # the body's owner closes it, as with async bodies
    [_, request] = h11_server.server.extra["requests"]
    assert request.header(b"transfer-encoding") == b"chunked"


def test_exceptions_are_the_async_pools(pool: SyncConnectionPool) -> None:
    url = (b"http", b"127.0.0.1", closed_port(), b"/")
    with pytest.raises(ConnectError) as sync_info:
        pool.request(b"GET", url, ext=TIMEOUTS)

    async def async_request() -> BaseException:
        async with AsyncConnectionPool() as async_pool:
            with pytest.raises(ConnectError) as info:
                await async_pool.arequest(b"GET", url, ext=TIMEOUTS)
        return info.value

    async_error = trio.run(async_request)
    assert type(sync_info.value) is type(async_error)
    assert type(sync_info.value.__cause__) is type(async_error.__cause__)
    assert isinstance(sync_info.value.__cause__, OSError)
    assert str(sync_info.value) == str(async_error)
    assert_quiescent(pool)


def test_backend_and_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="supports only backend='sync'"):
        SyncConnectionPool(backend="trio")
    with pytest.raises(ValueError, match="max_connections"):
        SyncConnectionPool(max_connections=0)
    assert not pool_threads()


async def test_request_from_inside_trio_raises(h11_server: ThreadedServer) -> None:
    pool = SyncConnectionPool()
    with pytest.raises(RuntimeError, match=r"inside a trio run.*AsyncConnectionPool"):
        pool.request(b"GET", h11_server.url4("/"))
    with pytest.raises(RuntimeError, match=r"inside a trio run.*AsyncConnectionPool"):
        pool.__enter__()
    assert not pool_threads()


def test_many_threads_respect_max_connections(h11_server: ThreadedServer) -> None:
    """Must show: 16 threads x 200 requests, max_connections=8: all succeed, at most 8 open."""
    threads, per_thread, limit = 16, 200, 8
    results: list[int] = []
    errors: list[BaseException] = []

    def worker(pool: SyncConnectionPool, n: int) -> None:
        ok = 0
        try:
            for i in range(per_thread):
                status, body = get(pool, h11_server, f"/bytes/{(n * 7 + i) % 50 + 1}")
                assert status == 200
                assert body == pattern((n * 7 + i) % 50 + 1)
                ok += 1
        except BaseException as exc:  # reported below, with the count
            errors.append(exc)
        results.append(ok)

    with SyncConnectionPool(max_connections=limit) as pool:
        workers = [threading.Thread(target=worker, args=(pool, n)) for n in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        assert not errors, errors[:3]
        assert sum(results) == threads * per_thread
        assert_quiescent(pool)
    counter = h11_server.server.counter
    assert len(h11_server.server.extra["requests"]) == threads * per_thread
    assert 1 <= counter.peak <= limit, (counter.peak, counter.total)
    print(f"\n{threads}x{per_thread} requests: {counter.total} connections, peak {counter.peak}")


def test_sigint_cancels_the_waiting_request(
    pool: SyncConnectionPool, h11_server: ThreadedServer, slow: SlowPaths
) -> None:
    """Must show: Ctrl-C while a request waits on a slow server reaches the caller as
    KeyboardInterrupt; the request is cancelled in the trio thread; the pool goes on."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    def interrupt() -> None:
        slow.arrived.wait()
        os.kill(os.getpid(), signal.SIGINT)

    helper = threading.Thread(target=interrupt)
    helper.start()
    with pytest.raises(KeyboardInterrupt):
        pool.request(b"GET", h11_server.url4("/slow"), ext=TIMEOUTS)
    helper.join()
    # The cancelled HTTP/1.1 request closed its connection and freed its slot.
    assert_quiescent(pool)
    assert pool.statistics().idle == 0
    assert get(pool, h11_server) == (200, b"hello")
    assert h11_server.server.counter.total == 2  # the interrupted connection was not reused


def test_sigint_while_reading_the_body(
    pool: SyncConnectionPool, h11_server: ThreadedServer, slow: SlowPaths
) -> None:
    _, _, stream, _ = pool.request(b"GET", h11_server.url4("/gate"), ext=TIMEOUTS)
    chunks = iter(stream)
    assert next(chunks) == b"first"
    # The server is parked until `release`, so the next chunk waits, and Ctrl-C comes.
    # The helper needs the GIL to send it, which this thread holds until it blocks
    # waiting for the chunk (its only release before is after the call is queued).
    reading = threading.Event()

    def interrupt() -> None:
        reading.wait()
        os.kill(os.getpid(), signal.SIGINT)

    helper = threading.Thread(target=interrupt)
    helper.start()
    with pytest.raises(KeyboardInterrupt):
        reading.set()
        next(chunks)
    helper.join()
    # The read was cancelled in the trio thread: the connection, mid-body, was closed.
    assert pool.statistics().active == 0
    slow.release.set()
    stream.close()
    assert_quiescent(pool)
    assert get(pool, h11_server) == (200, b"hello")


@pytest.fixture
def eager_gc() -> Iterator[None]:
    """The cycle collector runs every few allocations: in any thread, inside any code."""
    thresholds = gc.get_threshold()
    gc.set_threshold(20, 1, 1)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("eager_gc")
def test_sigint_while_the_body_iterator_blocks(
    pool: SyncConnectionPool, h11_server: ThreadedServer, slow: SlowPaths
) -> None:
    """Ctrl-C is not held up by a request body whose next chunk never comes: the upload
    is cancelled at once (the blocked step finishes in the background and is dropped)."""
    blocked = threading.Event()
    unblock = threading.Event()

    def body() -> Iterator[bytes]:
        yield b"first"
        blocked.set()
        unblock.wait()  # a pipe with no writer, say
        yield b"never sent"

    def interrupt() -> None:
        slow.arrived.wait()
        blocked.wait()
        os.kill(os.getpid(), signal.SIGINT)

    helper = threading.Thread(target=interrupt)
    helper.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            pool.request(
                b"POST", h11_server.url4("/slow"), stream=IteratorByteStream(body()), ext=TIMEOUTS
            )
    finally:
        unblock.set()  # let the abandoned step end
        helper.join()
    assert_quiescent(pool)
    assert get(pool, h11_server) == (200, b"hello")


def test_dropped_unread_responses_from_many_threads_gc(h11_server: ThreadedServer) -> None:
    """FIELD-LESSONS 14 (encode/httpcore#996): threads drop unread streamed responses, half
    of them in reference cycles that the collector frees at arbitrary points, in whichever
    thread (the trio thread too, inside the pool's own code). Closing is scheduled on the
    trio thread without a lock: no deadlock, and every connection comes back.

    No ``max_connections``: a response in a cycle holds its connection until the collector
    runs (as with any unclosed resource), and the test must not wait on that."""
    threads, per_thread = 8, 25
    errors: list[BaseException] = []

    def worker(pool: SyncConnectionPool) -> None:
        try:
            for i in range(per_thread):
                _, _, stream, _ = pool.request(
                    b"GET", h11_server.url4("/bytes/300000"), ext=TIMEOUTS
                )
                if i % 3 == 0:
                    next(iter(stream))  # partly read
                if i % 2 == 0:
                    cycle: list[Any] = [stream]
                    cycle.append(cycle)
                    del stream, cycle  # garbage for the collector
                    if i % 4 == 0:
                        gc.collect()
                else:
                    del stream  # freed here, now
        except BaseException as exc:
            errors.append(exc)

    with (
        pytest.warns(ResourceWarning, match="without being read to the end or closed"),
        SyncConnectionPool() as pool,
    ):
        workers = [threading.Thread(target=worker, args=(pool,)) for _ in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        assert not errors, errors[:3]
        gc.collect()
        pool._portal.run(trio.testing.wait_all_tasks_blocked)  # the scheduled closes ran
        assert_quiescent(pool)
        assert get(pool, h11_server) == (200, b"hello")


def test_interpreter_exit_without_close_does_not_hang(h11_server: ThreadedServer) -> None:
    """A script that forgets close() (and leaves a response unread) exits normally."""
    port = h11_server.server.port
    script = f"""
import trio_httpcore
pool = trio_httpcore.SyncConnectionPool()
status, _, stream, _ = pool.request(b"GET", (b"http", b"127.0.0.1", {port}, b"/bytes/300000"))
print(status, len(next(iter(stream))) > 0)
keep = (pool, stream)  # alive until the interpreter exits
"""
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", script],
        capture_output=True,
        timeout=60,  # a hang fails here
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "200 True\n"
