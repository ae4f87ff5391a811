"""Load: many requests, many in flight, against real servers; zero errors, bounded, flat.

CI runs the light variant (2,000 requests, 100 in flight). The full one,
20,000 requests with 500 in flight, runs with ``TRIO_HTTPCORE_SOAK=1`` (``nox
-s soak``; the tests carry the ``soak`` marker). Each run checks:

* zero errors, and every body is the server's;
* never more connections than ``max_connections``: the pool's own count,
  sampled after every request, and for Hypercorn the connections a TCP relay in
  front of it saw open at once;
* memory flat: the process's resident set after the run minus after a warm-up
  (a tenth of the requests, same concurrency) is under 20 MiB.

Hypercorn (``tests/reliability/_load_app.py``, trio worker) and nginx (see
``tests/support/nginx.py`` for when a missing nginx skips) run in
subprocesses, so the resident set measured is the client's alone; a TCP relay
in this process counts their connections. nginx ends a connection after 1,000
requests (``keepalive_requests``), so its runs go through many connections.
The sync facade's runs use the same Hypercorn.

Over HTTP/2 nginx ends each connection with a graceful GOAWAY, streams still
in flight below its last-stream-id; they must finish, and the requests above
it must be replayed on a new connection. Hypercorn's request limit is raised:
after its own HTTP/2 GOAWAY, Hypercorn (its h2 state machine closed) answers
any frame still on its way from the client, such as a WINDOW_UPDATE or the
HEADERS of a stream sent before the GOAWAY arrived, with GOAWAY(PROTOCOL_ERROR)
and drops the connection, failing streams it had promised to finish; no
client can avoid that race.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import trio_httpcore
from tests.support.nginx import start_nginx
from tests.support.servers import ConnectionCounter, serve_relay

SOAK = os.environ.get("TRIO_HTTPCORE_SOAK") == "1"
LIGHT = {"total": 2_000, "concurrency": 100, "max_connections": 50}
FULL = {"total": 20_000, "concurrency": 500, "max_connections": 100}
MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]
EXT: dict[str, Any] = {"timeout": {"connect": 10, "read": 30, "write": 30, "pool": None}}


def rss() -> int:
    """The resident set size of this process, in bytes."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")  # pragma: no cover


@dataclass
class Figures:
    server: str
    protocol: str
    requests: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    max_connections: int = 0
    peak_connections_pool: int = 0
    peak_connections_server: int | None = None
    connections_opened_server: int | None = None
    rss_after_warmup_mib: float = 0.0
    rss_growth_mib: float = 0.0
    duration_s: float = 0.0


async def run_load(
    url: tuple[bytes, bytes, int | None, bytes],
    *,
    total: int,
    concurrency: int,
    max_connections: int,
    http2: bool,
    figures: Figures,
    expected_body: bytes,
) -> None:
    figures.max_connections = max_connections
    options: dict[str, Any] = {"http1": False, "http2": True} if http2 else {}

    async with trio_httpcore.AsyncConnectionPool(
        max_connections=max_connections, max_keepalive_connections=max_connections, **options
    ) as pool:

        async def batch(count: int) -> None:
            remaining = [count]

            async def worker() -> None:
                while remaining[0] > 0:
                    remaining[0] -= 1
                    try:
                        _, _, stream, ext = await pool.arequest(b"GET", url, ext=EXT)
                        body = b"".join([chunk async for chunk in stream])
                        assert body == expected_body, body[:100]
                        assert ext["http_version"] == ("HTTP/2" if http2 else "HTTP/1.1")
                    except Exception as exc:
                        figures.errors += 1
                        if len(figures.error_samples) < 5:
                            figures.error_samples.append(repr(exc))
                    figures.requests += 1
                    stats = pool.statistics()
                    in_use = stats.connecting + stats.active + stats.idle
                    figures.peak_connections_pool = max(figures.peak_connections_pool, in_use)

            async with trio.open_nursery() as nursery:
                for _ in range(concurrency):
                    nursery.start_soon(worker)

        warmup = total // 10
        await batch(warmup)
        gc.collect()
        after_warmup = rss()
        started = time.perf_counter()
        await batch(total - warmup)
        figures.duration_s = round(time.perf_counter() - started, 2)
        gc.collect()
        figures.rss_after_warmup_mib = round(after_warmup / MIB, 1)
        figures.rss_growth_mib = round((rss() - after_warmup) / MIB, 2)
        await trio.testing.wait_all_tasks_blocked()
        stats = pool.statistics()
        assert (stats.connecting, stats.active, stats.waiting, stats.http2_streams) == (0, 0, 0, 0)


def check(figures: Figures, total: int) -> None:
    report = os.environ.get("TRIO_HTTPCORE_SOAK_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as f:
            f.write(json.dumps(asdict(figures)) + "\n")
    print(json.dumps(asdict(figures)))  # shown with -s (the soak session)
    assert figures.requests == total
    assert figures.errors == 0, figures.error_samples
    assert figures.peak_connections_pool <= figures.max_connections
    if figures.peak_connections_server is not None:
        assert figures.peak_connections_server <= figures.max_connections
    assert figures.rss_growth_mib < 20, figures


# The light runs take 10-15 s on a loaded CI machine; the full ones many minutes.
SIZES = [
    pytest.param(LIGHT, id="light", marks=pytest.mark.timeout(180)),
    pytest.param(
        FULL,
        id="full",
        marks=[
            pytest.mark.timeout(3600),
            pytest.mark.soak,
            pytest.mark.skipif(not SOAK, reason="the full load runs with TRIO_HTTPCORE_SOAK=1"),
        ],
    ),
]


PROTOCOLS = ["HTTP/1.1", "HTTP/2"]


async def start_hypercorn_process(nursery: trio.Nursery, directory: Path) -> int:
    """Hypercorn (trio worker, in one process) serving ``_load_app``; returns its port once
    it listens (it says so on stderr). Out of this process, so the resident set measured
    here is the client's alone."""
    config = directory / "hypercorn.toml"
    config.write_text(
        'bind = ["127.0.0.1:0"]\nworker_class = "trio"\nworkers = 0\nerrorlog = "-"\n'
        # Hypercorn's own GOAWAY races the client's frames (see the module docstring).
        "keep_alive_max_requests = 10000000\n"
        "h2_max_concurrent_streams = 100\n"
    )
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "hypercorn", "-c", str(config), "tests.reliability._load_app:app"],
        cwd=str(ROOT),
        stdin=None,
        stdout=None,
        stderr=-1,  # subprocess.PIPE
    )
    assert process.stderr is not None
    log = b""
    while (match := re.search(rb"Running on http://127\.0\.0\.1:(\d+)", log)) is None:
        data = await process.stderr.receive_some(4096)
        if not data:
            raise RuntimeError(f"hypercorn exited while starting: {log.decode(errors='replace')}")
        log += data
    await nursery.start(_drain_and_stop, process)
    return int(match.group(1))


async def _drain_and_stop(
    process: trio.Process, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    assert process.stderr is not None
    try:
        task_status.started()
        while await process.stderr.receive_some(4096):
            pass
        await trio.sleep_forever()
    finally:
        process.terminate()
        with trio.CancelScope(shield=True):
            await process.wait()
            await process.stderr.aclose()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_load_hypercorn(size: dict[str, int], protocol: str) -> None:
    with tempfile.TemporaryDirectory(prefix="trio-httpcore-soak-") as tmp:
        async with trio.open_nursery() as nursery:
            port = await start_hypercorn_process(nursery, Path(tmp))
            relay_port, counter = await count_connections(nursery, port)
            figures = Figures("hypercorn", protocol)
            await run_load(
                (b"http", b"127.0.0.1", relay_port, b"/"),
                **size,
                http2=protocol == "HTTP/2",
                figures=figures,
                expected_body=b"hello",
            )
            figures.peak_connections_server = counter.peak
            figures.connections_opened_server = counter.total
            nursery.cancel_scope.cancel()
    check(figures, size["total"])


# -- nginx, in a subprocess, when installed (tests/support/nginx.py)


async def count_connections(nursery: trio.Nursery, port: int) -> tuple[int, ConnectionCounter]:
    """A TCP relay to ``port`` on 127.0.0.1 that counts the connections through it."""
    relay = await serve_relay(nursery, port, backlog=4096)
    return relay.port, relay.counter


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_load_nginx(size: dict[str, int], protocol: str) -> None:
    with tempfile.TemporaryDirectory(prefix="trio-httpcore-soak-") as tmp:
        async with trio.open_nursery() as nursery:
            http_port, h2c_port = await start_nginx(nursery, Path(tmp))
            port = h2c_port if protocol == "HTTP/2" else http_port
            relay_port, counter = await count_connections(nursery, port)
            figures = Figures("nginx", protocol)
            await run_load(
                (b"http", b"127.0.0.1", relay_port, b"/"),
                **size,
                http2=protocol == "HTTP/2",
                figures=figures,
                expected_body=b"hello",
            )
            figures.peak_connections_server = counter.peak
            figures.connections_opened_server = counter.total
            nursery.cancel_scope.cancel()
    check(figures, size["total"])


# -- The sync facade: threads through one SyncConnectionPool

SYNC_SIZES = [
    pytest.param(
        {"threads": 16, "per_thread": 125, "max_connections": 8},
        id="light",
        marks=pytest.mark.timeout(180),
    ),
    pytest.param(
        {"threads": 64, "per_thread": 312, "max_connections": 32},
        id="full",
        marks=[
            pytest.mark.timeout(3600),
            pytest.mark.soak,
            pytest.mark.skipif(not SOAK, reason="the full load runs with TRIO_HTTPCORE_SOAK=1"),
        ],
    ),
]


@pytest.mark.parametrize("size", SYNC_SIZES)
async def test_load_sync_facade_hypercorn(nursery: trio.Nursery, size: dict[str, int]) -> None:
    """Threads x requests through one SyncConnectionPool (the portal), more threads than
    connections: zero errors, connections within the limit (counted by the relay)."""
    import threading

    tmp = tempfile.TemporaryDirectory(prefix="trio-httpcore-soak-")
    port = await start_hypercorn_process(nursery, Path(tmp.name))
    relay_port, counter = await count_connections(nursery, port)
    url = (b"http", b"127.0.0.1", relay_port, b"/")
    figures = Figures("hypercorn", "HTTP/1.1 (sync facade)")
    figures.max_connections = size["max_connections"]
    lock = threading.Lock()

    def in_threads() -> None:
        with trio_httpcore.SyncConnectionPool(max_connections=size["max_connections"]) as pool:

            def work(count: int) -> None:
                for _ in range(count):
                    try:
                        _, _, stream, _ = pool.request(b"GET", url, ext=EXT)
                        assert b"".join(stream) == b"hello"
                        failed = None
                    except Exception as exc:
                        failed = repr(exc)
                    with lock:
                        figures.requests += 1
                        if failed is not None:
                            figures.errors += 1
                            if len(figures.error_samples) < 5:
                                figures.error_samples.append(failed)
                        stats = pool.statistics()
                        figures.peak_connections_pool = max(
                            figures.peak_connections_pool,
                            stats.connecting + stats.active + stats.idle,
                        )

            def run_threads(count: int) -> None:
                threads = [
                    threading.Thread(target=work, args=(count,)) for _ in range(size["threads"])
                ]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()

            warmup = size["per_thread"] // 10
            run_threads(warmup)
            gc.collect()
            before = rss()
            started = time.perf_counter()
            run_threads(size["per_thread"] - warmup)
            figures.duration_s = round(time.perf_counter() - started, 2)
            gc.collect()
            figures.rss_after_warmup_mib = round(before / MIB, 1)
            figures.rss_growth_mib = round((rss() - before) / MIB, 2)

    await trio.to_thread.run_sync(in_threads)
    figures.peak_connections_server = counter.peak
    figures.connections_opened_server = counter.total
    nursery.cancel_scope.cancel()  # Hypercorn and the relay
    tmp.cleanup()
    check(figures, size["threads"] * size["per_thread"])
