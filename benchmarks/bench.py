"""trio_httpcore beside httpx, httpcore, aiohttp and urllib3, in one run, against one server.

Usage: python benchmarks/bench.py [--quick] [--reps N] [--only KEY,...]
                                  [--clients KEY,...] [--json FILE] [--rst FILE]

See benchmarks/README.md for what is measured and how to set up nginx.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import os
import platform
import statistics
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from _clients import Client, ConnCfg, NotApplicable
from _peers import ASYNC_CLIENTS, SYNC_CLIENTS
from _scenarios import SCENARIOS, Cell, Scenario
from _server import BIG_SIZE, Server, start_server

SERVER_CORE = 0
CLIENT_CORE = 1
TIME_LIMIT = 120.0  # seconds for one measurement before it counts as failed


# -- Workloads.


def _shared_work(n: int, fn: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
    """A worker coroutine function: its instances together make ``n`` calls of ``fn``."""
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await fn()

    return worker


async def _trio_concurrently(n: int, c: int, fn: Callable[[], Awaitable[Any]]) -> None:
    worker = _shared_work(n, fn)
    async with trio.open_nursery() as nursery:
        for _ in range(min(c, n)):
            nursery.start_soon(worker)


async def _asyncio_concurrently(n: int, c: int, fn: Callable[[], Awaitable[Any]]) -> None:
    worker = _shared_work(n, fn)
    await asyncio.gather(*(worker() for _ in range(min(c, n))))


async def _async_workload(
    client: Client, scenario: Scenario, cfg: ConnCfg, server: Server, n: int, concurrently: Any
) -> tuple[float, float, float]:
    """(seconds, process CPU seconds, units): the timed part only, on a warm session."""
    async with client.open(cfg, server) as session:
        path = scenario.path
        if scenario.kind == "seq":
            for _ in range(20):
                await session.get(path)
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(n):
                await session.get(path)
            units = float(n)
        elif scenario.kind == "conc":
            c = scenario.concurrency
            await concurrently(c, c, lambda: session.get(path))
            c0, t0 = time.process_time(), time.perf_counter()
            await concurrently(n, c, lambda: session.get(path))
            units = float(n)
        else:  # download
            await session.get("/")
            c0, t0 = time.process_time(), time.perf_counter()
            total = 0
            for _ in range(n):
                total += await session.download(path)
            if total != n * BIG_SIZE:
                raise RuntimeError(f"downloaded {total} bytes, expected {n * BIG_SIZE}")
            units = total / 1e6
        return time.perf_counter() - t0, time.process_time() - c0, units


def _threads(n: int, c: int, fn: Callable[[], Any]) -> None:
    """``n`` calls of ``fn`` from ``c`` threads (each takes the next call when it is free)."""
    remaining = n
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        nonlocal remaining
        try:
            while True:
                with lock:
                    if remaining <= 0:
                        return
                    remaining -= 1
                fn()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(min(c, n))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _sync_workload(
    client: Client, scenario: Scenario, cfg: ConnCfg, server: Server, n: int
) -> tuple[float, float, float]:
    """What _async_workload does, for a blocking client (threads for concurrency)."""
    with client.open(cfg, server) as session:
        path = scenario.path
        if scenario.kind == "download":
            session.get("/")
            c0, t0 = time.process_time(), time.perf_counter()
            total = sum(session.download(path) for _ in range(n))
            if total != n * BIG_SIZE:
                raise RuntimeError(f"downloaded {total} bytes, expected {n * BIG_SIZE}")
            return time.perf_counter() - t0, time.process_time() - c0, total / 1e6
        if scenario.kind == "conc" and hasattr(session, "many"):
            # The raw HTTP/2 loop: its own batches of streams on one connection.
            session.many(scenario.concurrency, scenario.concurrency)
            c0, t0 = time.process_time(), time.perf_counter()
            session.many(n, scenario.concurrency)
            return time.perf_counter() - t0, time.process_time() - c0, float(n)
        if scenario.kind == "conc":
            if getattr(session, "single_threaded", False):
                raise NotApplicable("one socket: threads cannot share it")
            c = scenario.concurrency
            _threads(c, c, lambda: session.get(path))
            c0, t0 = time.process_time(), time.perf_counter()
            _threads(n, c, lambda: session.get(path))
            return time.perf_counter() - t0, time.process_time() - c0, float(n)
        for _ in range(20):
            session.get(path)
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            session.get(path)
        return time.perf_counter() - t0, time.process_time() - c0, float(n)


def measure(
    client: Client, scenario: Scenario, server: Server, n: int
) -> tuple[float, float, float]:
    cfg = ConnCfg(scenario.proto, getattr(server, scenario.port), scenario.max_connections)
    gc.collect()
    if client.runtime == "trio":

        async def main() -> tuple[float, float, float]:
            with trio.fail_after(TIME_LIMIT):
                return await _async_workload(client, scenario, cfg, server, n, _trio_concurrently)

        return trio.run(main)
    if client.runtime == "asyncio":

        async def amain() -> tuple[float, float, float]:
            return await asyncio.wait_for(
                _async_workload(client, scenario, cfg, server, n, _asyncio_concurrently),
                TIME_LIMIT,
            )

        return asyncio.run(amain())
    return _sync_workload(client, scenario, cfg, server, n)


# -- Reporting.


def fmt(value: float, latency: bool = False) -> str:
    if value != value:  # NaN
        return "n/a"
    if latency:
        return f"{value:.2f} s"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def baseline_key(scenario: Scenario) -> str:
    return "urllib3" if scenario.sync else "httpx"


def ratio(cells: dict[str, Cell], key: str, base: str) -> float | None:
    a, b = cells.get(key), cells.get(base)
    if a is None or b is None or not a.rates or not b.rates:
        return None
    return a.median / b.median


def machine_text() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    python = sys.version.split()[0]
    return f"{os.cpu_count()} cores, {cpu}; Linux {platform.release()}; Python {python}"


def versions_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for name in (
        "trio_httpcore",
        "trio",
        "h11",
        "h2",
        "httpx",
        "httpcore",
        "anyio",
        "aiohttp",
        "urllib3",
        "httpx2",
        "niquests",
        "pyreqwest",
        "pycurl",
    ):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} missing")
    return ", ".join(parts)


def block_rows(
    scenario: Scenario, clients: list[Client], cells: dict[str, Cell]
) -> list[list[str]]:
    """Rows for one scenario: client, layer, median, min-max, ratio, CPU us/req."""
    rows = []
    base = baseline_key(scenario)
    for client in clients:
        cell = cells[client.key]
        if not cell.rates:
            rows.append([client.label, client.layer, "n/a", cell.na or "not run", "", ""])
            continue
        if scenario.latency:
            med = statistics.median(cell.seconds)
            spread = f"{min(cell.seconds):.2f}-{max(cell.seconds):.2f} s"
            value = f"{med:.2f} s ({cell.median:,.0f} req/s)"
        else:
            value = fmt(cell.median)
            spread = f"{fmt(min(cell.rates))}-{fmt(max(cell.rates))}"
        r = ratio(cells, client.key, base)
        cpu = f"{statistics.median(cell.cpu_us):.0f}" if scenario.kind != "download" else ""
        rows.append([client.label, client.layer, value, spread, f"{r:.2f}x" if r else "", cpu])
    return rows


def print_table(header: list[str], rows: list[list[str]], right: set[int] | None = None) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    right = {2, 3, 4, 5} if right is None else right

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print("  " + line(header))
    print("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        print("  " + line(row))


# Issue 18's targets: (title, scenario, client, scenario of the reference, reference, goal).
# The client's median over the reference's must reach the goal; for the
# latency-bound and CPU rows, lower is better.
TARGETS = [
    ("64 MiB HTTP/1.1 download vs raw trio loop", "dl", "th_pool", "dl", "raw", 0.8),
    ("64 MiB HTTP/1.1 download vs aiohttp", "dl", "th_pool", "dl", "aiohttp", 1.0),
    ("64 MiB HTTPS download vs raw blocking ssl", "dl_tls", "th_pool", "dl_tls", "raw_ssl", 0.8),
    ("64 MiB HTTPS download vs aiohttp", "dl_tls", "th_pool", "dl_tls", "aiohttp", 1.0),
    ("HTTP/2 download vs HTTPS/1.1 (pool)", "dl_h2", "th_pool", "dl_tls", "th_pool", 0.8),
    ("100 streams on one connection vs raw HTTP/2 loop", "h2", "th_pool", "h2", "raw_h2", 0.5),
    ("sequential: pool vs aiohttp", "seq", "th_pool", "seq", "aiohttp", 1.2),
    ("sequential: pool vs pyreqwest", "seq", "th_pool", "seq", "pyreqwest", 1.0),
    ("sequential: client vs aiohttp", "seq", "th_client", "seq", "aiohttp", 1.0),
    ("blocking 64 MiB download vs urllib3", "sync_dl", "th_sync_pool", "sync_dl", "urllib3", 1.0),
    (
        "blocking HTTPS download vs urllib3",
        "sync_dl_tls",
        "th_sync_pool",
        "sync_dl_tls",
        "urllib3",
        1.0,
    ),
    (
        "8 threads sharing one client vs urllib3",
        "sync_t8",
        "th_sync_client",
        "sync_t8",
        "urllib3",
        1.2,
    ),
    ("blocking sequential vs urllib3", "sync", "th_sync_pool", "sync", "urllib3", 0.7),
]
CPU_TARGETS = [("th_pool", 150.0), ("th_client", 200.0)]


def targets_lines(results: dict[str, dict[str, Cell]]) -> list[str]:
    lines = []
    for title, scenario, key, base_scenario, base, goal in TARGETS:
        a = results.get(scenario, {}).get(key)
        b = results.get(base_scenario, {}).get(base)
        if not (a and b and a.rates and b.rates):
            lines.append(f"{title} >= {goal:g}x ({key}): not measured")
            continue
        x = a.median / b.median
        lines.append(
            f"{title} >= {goal:g}x ({key}): {x:.2f}x "
            f"({fmt(a.median)} vs {fmt(b.median)}) [{'met' if x >= goal else 'NOT met'}]"
        )
    seq = results.get("seq", {})
    for key, limit in CPU_TARGETS:
        cell = seq.get(key)
        if cell and cell.cpu_us:
            cpu = statistics.median(cell.cpu_us)
            lines.append(
                f"CPU per keep-alive request <= {limit:.0f} us ({key}): {cpu:.0f} us "
                f"[{'met' if cpu <= limit else 'NOT met'}]"
            )
        else:
            lines.append(f"CPU per keep-alive request <= {limit:.0f} us ({key}): not measured")
    return lines


def rst_table(header: list[str], rows: list[list[str]]) -> str:
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        out.append("   * - " + (row[0] or "\\"))
        for cell in row[1:]:
            out.append("     - " + (str(cell).replace("*", "\\*") if cell else "\\ "))
    return "\n".join(out) + "\n"


SUMMARY_HEADS = {
    "seq": "seq req/s",
    "c50": "50 in flight req/s",
    "h2": "h2, 100 streams req/s",
    "dl": "64 MiB MB/s",
    "dl_tls": "64 MiB TLS MB/s",
    "dl_h2": "64 MiB h2 MB/s",
    "dl_h2c": "64 MiB h2c MB/s",
    "latency": "latency-bound s",
    "sync": "sync seq req/s",
    "sync_dl": "sync 64 MiB MB/s",
    "sync_dl_tls": "sync 64 MiB TLS MB/s",
    "sync_t8": "sync 8 threads req/s",
    "sync_latency": "sync latency-bound s",
}


def summary_cell(scenario: Scenario, cells: dict[str, Cell], key: str) -> str:
    cell = cells.get(key)
    if cell is None or not cell.rates:
        return "n/a"
    r = ratio(cells, key, baseline_key(scenario))
    shown = f"{statistics.median(cell.seconds):.2f}" if scenario.latency else fmt(cell.median)
    return f"{shown} ({r:.2f}x)" if r is not None else shown


def summary_tables(
    scenarios: list[Scenario], results: dict[str, dict[str, Cell]], wanted: set[str] | None
) -> list[tuple[list[str], list[list[str]]]]:
    """Medians, with the ratio to httpx in brackets: async clients, then sync ones."""
    out = []
    for sync in (False, True):
        chosen = [s for s in scenarios if s.sync == sync and s.key in results]
        if not chosen:
            continue
        pool = SYNC_CLIENTS if sync else ASYNC_CLIENTS
        clients = [c for c in pool if wanted is None or c.key in wanted]
        header = ["client", *(SUMMARY_HEADS[s.key] for s in chosen)]
        rows = [
            [c.label, *(summary_cell(s, results[s.key], c.key) for s in chosen)] for c in clients
        ]
        out.append((header, rows))
    return out


def rst_summary(
    scenarios: list[Scenario], results: dict[str, dict[str, Cell]], wanted: set[str] | None
) -> str:
    tables = summary_tables(scenarios, results, wanted)
    return "\n".join(rst_table(header, rows) for header, rows in tables)


# -- Main.


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run: 1 repetition")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 5)")
    parser.add_argument("--only", default="", help="scenario keys, comma-separated")
    parser.add_argument("--clients", default="", help="client keys, comma-separated")
    parser.add_argument(
        "--server", choices=["auto", "nginx", "hypercorn"], default="auto", help="which server"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and client")
    parser.add_argument("--json", default="", help="write raw results to this file")
    parser.add_argument("--rst", default="", help="write the tables as reStructuredText")
    args = parser.parse_args(argv)

    reps = args.reps or (1 if args.quick else 5)
    scenarios = [s for s in SCENARIOS if not args.only or s.key in args.only.split(",")]
    wanted = set(args.clients.split(",")) if args.clients else None

    pin = not args.no_pin and (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")
    server = start_server(SERVER_CORE if pin else None, args.server)
    if pin:
        os.sched_setaffinity(0, {CLIENT_CORE})
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    print(f"date      {started:%Y-%m-%d %H:%M} UTC")
    print(f"machine   {machine_text()}")
    print(f"load      {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} (1/5/15 min)")
    print(f"server    {server.description}")
    print(f"client    {f'pinned to CPU {CLIENT_CORE}' if pin else 'not pinned'}, one process")
    print(f"versions  {versions_text()}")
    print(f"runs      median of {reps} repetitions (latency-bound: up to 3), spread min-max")
    for note in server.notes:
        print(f"NOTE      {note}")
    sys.stdout.flush()

    results: dict[str, dict[str, Cell]] = {}
    try:
        for scenario in scenarios:
            clients = SYNC_CLIENTS if scenario.sync else ASYNC_CLIENTS
            clients = [c for c in clients if wanted is None or c.key in wanted]
            results[scenario.key] = {c.key: Cell() for c in clients}
            n = scenario.quick_n if args.quick else scenario.n
            scenario_reps = min(reps, scenario.reps) if scenario.reps else reps
            for _ in range(scenario_reps):
                for client in clients:
                    cell = results[scenario.key][client.key]
                    if cell.na:
                        continue
                    try:
                        seconds, cpu, units = measure(client, scenario, server, n)
                    except NotApplicable as exc:
                        cell.na = str(exc)
                        continue
                    except Exception as exc:
                        cell.na = f"failed: {type(exc).__name__}: {exc}"[:200]
                        if os.environ.get("BENCH_DEBUG"):
                            traceback.print_exc()
                        continue
                    cell.rates.append(units / seconds)
                    cell.seconds.append(seconds)
                    cell.cpu_us.append(cpu / n * 1e6)
            unit = "MB/s" if scenario.kind == "download" else "req/s"
            if scenario.latency:
                unit = "time"
            base = baseline_key(scenario)
            header = ["client", "layer", unit, "min-max", f"vs {base}", "CPU us/req"]
            rows = block_rows(scenario, clients, results[scenario.key])
            print()
            print(f"{scenario.title_for(n)} [{scenario.key}]")
            print_table(header, rows)
            sys.stdout.flush()
    finally:
        server.close()

    load_after = os.getloadavg()
    print()
    print("Summary: medians (ratio to httpx; blocking rows to urllib3)")
    for header, rows in summary_tables(scenarios, results, wanted):
        print_table(header, rows, right=set(range(1, len(header))))
        print()
    print("Targets (issue 18), ratios within this run:")
    for line in targets_lines(results):
        print(f"  {line}")
    print()
    print(
        f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; "
        f"took {(datetime.datetime.now(datetime.timezone.utc) - started).total_seconds():.0f} s"
    )

    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "date": started.isoformat(),
                    "machine": machine_text(),
                    "load_before": load_before,
                    "load_after": load_after,
                    "server": server.description,
                    "versions": versions_text(),
                    "reps": reps,
                    "results": {
                        s: {k: vars(c) for k, c in cells.items()} for s, cells in results.items()
                    },
                },
                f,
                indent=1,
            )
    if args.rst:
        with open(args.rst, "w") as f:
            f.write(rst_summary(scenarios, results, wanted))
            f.write("\nTargets:\n\n")
            f.write("\n".join(f"* {line}" for line in targets_lines(results)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
