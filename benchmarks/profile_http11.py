"""Profile trio_httpcore's HTTP/1.1 hot path against the benchmark server.

Usage: python benchmarks/profile_http11.py [--workload seq|c50|dl|h2] [--layer pool|client] [--n N]
                                           [--tool pyinstrument|cprofile] [--html FILE]

``h2`` is 100 GETs in flight over one HTTP/2 connection (TLS), for comparison.
Runs the workload once on a warm ``AsyncConnectionPool`` or ``AsyncClient`` (same server setup
as bench.py: nginx if on PATH, pinned) and prints the profile of the timed part.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time

import trio
from _clients import ConnCfg, th_client, th_pool
from _server import start_server


async def run(server, workload: str, n: int, layer: str, profile_start, profile_stop) -> float:
    if workload == "h2":
        cfg = ConnCfg("h2", server.tls_port, 1)
    else:
        cfg = ConnCfg("h1", server.http_port, 100)
    opener = th_pool if layer == "pool" else th_client
    async with opener(cfg, server) as session:
        for _ in range(50):
            await session.get("/")
        profile_start()
        t0 = time.perf_counter()
        if workload == "seq":
            for _ in range(n):
                await session.get("/")
        elif workload in ("c50", "h2"):
            remaining = n

            async def worker() -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    await session.get("/")

            async with trio.open_nursery() as nursery:
                for _ in range(100 if workload == "h2" else 50):
                    nursery.start_soon(worker)
        else:
            for _ in range(n):
                await session.download("/64MiB")
        elapsed = time.perf_counter() - t0
        profile_stop()
        return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=["seq", "c50", "dl", "h2"], default="seq")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--layer", choices=["pool", "client"], default="pool")
    parser.add_argument("--tool", choices=["pyinstrument", "cprofile"], default="pyinstrument")
    parser.add_argument("--html", default="", help="also write pyinstrument's HTML here")
    args = parser.parse_args()
    n = args.n or {"seq": 5000, "c50": 5000, "dl": 4, "h2": 5000}[args.workload]

    pin = (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")
    server = start_server(0 if pin else None)
    if pin:
        os.sched_setaffinity(0, {1})
    try:
        if args.tool == "pyinstrument":
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002, async_mode="disabled")
            elapsed = trio.run(
                run, server, args.workload, n, args.layer, profiler.start, profiler.stop
            )
            print(profiler.output_text(unicode=True, color=False, show_all=False))
            if args.html:
                with open(args.html, "w") as f:
                    f.write(profiler.output_html())
        else:
            prof = cProfile.Profile()
            elapsed = trio.run(run, server, args.workload, n, args.layer, prof.enable, prof.disable)
            stats = pstats.Stats(prof, stream=sys.stdout)
            stats.sort_stats("tottime").print_stats(35)
    finally:
        server.close()
    unit = "downloads" if args.workload == "dl" else "requests"
    print(f"{n} {unit} in {elapsed:.3f} s (under the profiler)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
