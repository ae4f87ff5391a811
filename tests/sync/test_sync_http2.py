"""SyncConnectionPool(http2=True): many threads, one HTTP/2 connection."""

from __future__ import annotations

import threading
from collections.abc import Callable

from tests.support.pool import TIMEOUTS
from tests.support.servers import pattern
from tests.support.threaded import ThreadedServer
from tests.support.tls import TLSMaterial
from trio_httpcore import SyncConnectionPool


def run_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """``work(n)`` in ``count`` threads at once; the errors they raised."""
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


def test_many_threads_share_one_http2_connection(
    tls_h2_server: ThreadedServer, tls: TLSMaterial
) -> None:
    """Must show: 16 threads x 200 requests, http2=True (max_connections=8): all succeed
    over one connection (counted by the server side, TLS passed through a relay)."""
    threads, per_thread = 16, 200
    with SyncConnectionPool(
        ssl_context=tls.client_context(), http2=True, max_connections=8
    ) as pool:

        def work(n: int) -> None:
            for i in range(per_thread):
                size = (n * 7 + i) % 50 + 1
                status, _, stream, ext = pool.request(
                    b"GET", tls_h2_server.url4(f"/bytes/{size}"), ext=TIMEOUTS
                )
                assert (status, ext["http_version"]) == (200, "HTTP/2")
                assert b"".join(stream) == pattern(size)

        errors = run_threads(threads, work)
        assert not errors, errors[:3]
        stats = pool.statistics()
        assert (stats.connecting, stats.active, stats.idle, stats.http2_streams) == (0, 0, 1, 0)
    app = tls_h2_server.server.extra["app"]
    assert len(app.requests) == threads * per_thread
    counter = tls_h2_server.server.counter
    assert (counter.total, counter.peak) == (1, 1)


def test_threads_share_http2_without_corrupting_it(
    h2_server: ThreadedServer, tls: TLSMaterial
) -> None:
    """FIELD-LESSONS 13 (pydantic/httpx2#1153; httpx#3324, #3072, #3002): a sync HTTP/2
    client shared by threads corrupted h2 state (StreamIDTooLowError, interleaved HEADERS).
    32 threads x 20 requests: exactly one TCP connection, stream ids increasing on the
    wire (the server's h2 would also reject a lower one), no error."""
    threads, per_thread = 32, 20
    with SyncConnectionPool(ssl_context=tls.client_context(), http2=True) as pool:

        def work(n: int) -> None:
            for _ in range(per_thread):
                status, _, stream, _ = pool.request(b"GET", h2_server.url4("/"), ext=TIMEOUTS)
                assert (status, b"".join(stream)) == (200, b"hello")

        errors = run_threads(threads, work)
        assert not errors, errors[:3]
    stream_ids = h2_server.server.extra["stream_ids"]
    assert len(stream_ids) == threads * per_thread
    assert stream_ids == sorted(set(stream_ids))  # strictly increasing
    assert stream_ids[0] % 2 == 1  # client-initiated
    assert h2_server.server.counter.total == 1
