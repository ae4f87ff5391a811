"""HTTP/3 beside HTTP/2 and HTTP/1.1 (all TLS), trio_httpcore's pool, one Hypercorn, one run.

Usage: python benchmarks/h3.py [--quick] [--reps N] [--seq N] [--json FILE]

Hypercorn (asyncio worker, in a subprocess) serves the bench app over TLS on
a TCP port and over QUIC on the same UDP port, so the three protocols meet the
same server process and the ratios hold whatever the machine's speed. Per
protocol: N sequential GETs, 1,000 GETs 100 in flight, and one 64 MiB
download; the median of the repetitions is reported, with HTTP/3's ratio to
HTTP/2 and HTTP/1.1. Hypercorn is likely the bottleneck: the ratios say how the
protocols compare against one Python server, not against nginx.
"""

from __future__ import annotations

import argparse
import json
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio
import trustme
from _server import BIG_SIZE, HOST, _write_files, free_port, hypercorn_process, wait_for_port

import trio_httpcore

PROTOCOLS = {
    "HTTP/1.1": {"http1": True, "http2": False, "max_connections": 100},
    "HTTP/2": {"http1": False, "http2": True, "max_connections": 1},
    "HTTP/3": {"http3": "only", "max_connections": 1},
}
CONCURRENT_REQUESTS = 1000
IN_FLIGHT = 100


def start_hypercorn(directory: Path, port: int) -> subprocess.Popen[bytes]:
    """Hypercorn serving ``_bench_app`` over TLS (TCP) and QUIC (UDP) on ``port``."""
    process = hypercorn_process(
        directory, ["--bind", f"{HOST}:{port}", "--quic-bind", f"{HOST}:{port}"]
    )
    wait_for_port(port, process, "hypercorn")
    return process


async def _measure(
    context: ssl.SSLContext, protocol: str, port: int, workload: str, n: int
) -> tuple[float, float]:
    """One repetition: ``(seconds, rate)``, rate in requests/s, or MB/s for the download.

    The connection is opened (and one request made) before the clock starts.
    """
    url = (b"https", HOST.encode(), port, b"/")
    big = (b"https", HOST.encode(), port, b"/64MiB")
    async with trio_httpcore.AsyncConnectionPool(
        ssl_context=context, **PROTOCOLS[protocol]
    ) as pool:

        async def get(target: Any = url) -> int:
            _, _, stream, ext = await pool.arequest(b"GET", target)
            size = 0
            async for chunk in stream:
                size += len(chunk)
            assert ext["http_version"] == protocol, ext
            return size

        await get()
        start = time.perf_counter()
        if workload == "seq":
            for _ in range(n):
                await get()
        elif workload == "c100":
            await _concurrently(n, IN_FLIGHT, get)
        else:
            assert await get(big) == BIG_SIZE
        seconds = time.perf_counter() - start
    rate = BIG_SIZE / 1e6 / seconds if workload == "dl" else n / seconds
    return seconds, rate


async def _concurrently(n: int, in_flight: int, fn: Callable[[], Awaitable[Any]]) -> None:
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await fn()

    async with trio.open_nursery() as nursery:
        for _ in range(min(n, in_flight)):
            nursery.start_soon(worker)


def run(reps: int, seq: int) -> dict[str, dict[str, float]]:
    """``{workload: {protocol: median rate}}``, every protocol against one Hypercorn."""
    directory = Path(tempfile.mkdtemp(prefix="trio-httpcore-h3-bench-"))
    ca = trustme.CA()
    process = None
    try:
        _write_files(directory, ca)
        port = free_port()
        process = start_hypercorn(directory, port)
        context = ssl.create_default_context()
        ca.configure_trust(context)
        workloads = {"seq": seq, "c100": CONCURRENT_REQUESTS, "dl": 1}
        results: dict[str, dict[str, float]] = {}
        for workload, n in workloads.items():
            for protocol in PROTOCOLS:
                rates = [
                    trio.run(_measure, context, protocol, port, workload, n)[1] for _ in range(reps)
                ]
                results.setdefault(workload, {})[protocol] = statistics.median(rates)
                print(f"  {workload:5} {protocol:8} {results[workload][protocol]:10.1f}")
        return results
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


TITLES = {
    "seq": "sequential GETs (req/s)",
    "c100": f"{CONCURRENT_REQUESTS:,} GETs, {IN_FLIGHT} in flight (req/s)",
    "dl": "64 MiB download (MB/s)",
}


def table(results: dict[str, dict[str, float]]) -> str:
    """A Markdown table: one row per workload, a column per protocol, HTTP/3's ratios."""
    lines = [
        "| workload | HTTP/1.1 | HTTP/2 | HTTP/3 | h3/h2 | h3/h1.1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for workload, rates in results.items():
        h1, h2, h3 = rates["HTTP/1.1"], rates["HTTP/2"], rates["HTTP/3"]
        lines.append(
            f"| {TITLES[workload]} | {h1:,.0f} | {h2:,.0f} | {h3:,.0f} "
            f"| {h3 / h2:.2f} | {h3 / h1:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 repetition, 200 sequential")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seq", type=int, default=1000, help="sequential GETs per repetition")
    parser.add_argument("--json", help="write the medians to this file")
    args = parser.parse_args()
    reps, seq = (1, 200) if args.quick else (args.reps, args.seq)
    print(f"trio_httpcore {trio_httpcore.__version__}, Python {sys.version.split()[0]}")
    results = run(reps, seq)
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
