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
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import trio
from _clients import ASYNC_CLIENTS, SYNC_CLIENTS, Client, ConnCfg, NotApplicable
from _server import BIG_SIZE, Server, start_server

SERVER_CORE = 0
CLIENT_CORE = 1
TIME_LIMIT = 120.0  # seconds for one measurement before it counts as failed


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    kind: str  # "seq", "conc", "download"
    proto: str  # ConnCfg.proto
    port: str  # Server attribute
    path: str
    n: int  # requests (seq/conc) or downloads
    quick_n: int
    concurrency: int = 1
    max_connections: int = 100
    sync: bool = False
    latency: bool = False  # report seconds, lower is better
    reps: int | None = None  # override of the run's repetitions

    def title_for(self, n: int) -> str:
        return self.title.format(n=n, ideal=n * 0.01 / self.concurrency)


SCENARIOS = [
    Scenario(
        "seq",
        "HTTP/1.1 sequential keep-alive GETs ({n:,} per repetition)",
        "seq",
        "h1",
        "http_port",
        "/",
        2000,
        300,
    ),
    Scenario(
        "c50",
        "HTTP/1.1, {n:,} GETs, 50 in flight",
        "conc",
        "h1",
        "http_port",
        "/",
        1000,
        1000,
        concurrency=50,
    ),
    Scenario(
        "h2",
        "HTTP/2 (TLS), {n:,} GETs, 100 streams on one connection",
        "conc",
        "h2",
        "tls_port",
        "/",
        1000,
        1000,
        concurrency=100,
        max_connections=1,
    ),
    Scenario(
        "dl",
        "64 MiB download, HTTP/1.1",
        "download",
        "h1",
        "http_port",
        "/64MiB",
        1,
        1,
    ),
    Scenario(
        "dl_tls",
        "64 MiB download, HTTP/1.1 over TLS",
        "download",
        "h1-tls",
        "tls_port",
        "/64MiB",
        1,
        1,
    ),
    Scenario(
        "dl_h2",
        "64 MiB download, HTTP/2 (TLS)",
        "download",
        "h2",
        "tls_port",
        "/64MiB",
        1,
        1,
    ),
    Scenario(
        "dl_h2c",
        "64 MiB download, HTTP/2 prior knowledge (h2c)",
        "download",
        "h2c",
        "h2c_port",
        "/64MiB",
        1,
        1,
    ),
    Scenario(
        "sync",
        "sync sequential keep-alive GETs, HTTP/1.1 ({n:,} per repetition)",
        "seq",
        "h1",
        "http_port",
        "/",
        2000,
        300,
        sync=True,
    ),
    Scenario(
        "latency",
        "latency-bound: {n:,} GETs, 20 in flight, server waits 10 ms (ideal {ideal:g} s)",
        "conc",
        "h1",
        "delay_port",
        "/delay",
        5000,
        1000,
        concurrency=20,
        latency=True,
        reps=3,
    ),
]


@dataclass
class Cell:
    """All repetitions of one client on one scenario."""

    rates: list[float] = field(default_factory=list)  # req/s or MB/s
    seconds: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)  # process CPU per request
    na: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.rates) if self.rates else float("nan")


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


def _sync_workload(
    client: Client, scenario: Scenario, cfg: ConnCfg, server: Server, n: int
) -> tuple[float, float, float]:
    with client.open(cfg, server) as session:
        for _ in range(20):
            session.get(scenario.path)
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            session.get(scenario.path)
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
    return "httpx_sync" if scenario.sync else "httpx"


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


TARGETS = [
    ("seq", "HTTP/1.1 sequential", 2.0),
    ("c50", "50 in flight", 10.0),
    ("h2", "HTTP/2, 100 streams on one connection", 2.5),
    ("dl", "64 MiB download (HTTP/1.1)", 2.0),
    ("sync", "sync sequential", 2.0),
]


def targets_lines(results: dict[str, dict[str, Cell]]) -> list[str]:
    lines = []

    def r(scenario: str, key: str, base: str) -> float | None:
        return ratio(results.get(scenario, {}), key, base)

    def show(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.2f}x"

    def verdict(x: float | None, goal: float) -> str:
        return "not measured" if x is None else ("met" if x >= goal else "NOT met")

    for scenario, title, goal in TARGETS:
        if scenario == "sync":
            tp, tc, hc, hx = "th_sync_pool", "th_sync_client", "httpcore_sync", "httpx_sync"
        else:
            tp, tc, hc, hx = "th_pool", "th_client", "httpcore", "httpx"
        transport = r(scenario, tp, hc)
        client = r(scenario, tc, hx)
        lines.append(
            f"{title} >= {goal:g}x: transport (pool vs httpcore pool) {show(transport)} "
            f"[{verdict(transport, goal)}; vs httpx {show(r(scenario, tp, hx))}], "
            f"client (vs httpx) {show(client)} [{verdict(client, goal)}]"
        )
    for key in ("th_pool", "th_client"):
        a = results.get("dl_h2", {}).get(key)
        b = results.get("dl_tls", {}).get(key)
        c = results.get("dl_h2c", {}).get(key)
        d = results.get("dl", {}).get(key)
        tls = a.median / b.median if a and b and a.rates and b.rates else None
        plain = c.median / d.median if c and d and c.rates and d.rates else None
        lines.append(
            f"HTTP/2 download >= 0.8x HTTP/1.1 ({key}): TLS h2/h1 {show(tls)} "
            f"[{verdict(tls, 0.8)}], cleartext h2c/h1 {show(plain)} [{verdict(plain, 0.8)}]"
        )
    latency = results.get("latency", {})
    for key in ("th_pool", "th_client"):
        cell = latency.get(key)
        if cell and cell.seconds:
            sec = statistics.median(cell.seconds)
            lines.append(
                f"latency-bound <= 3.0 s ({key}): {sec:.2f} s "
                f"[{'met' if sec <= 3.0 else 'NOT met'}]"
            )
        else:
            lines.append(f"latency-bound <= 3.0 s ({key}): not measured")
    seq = results.get("seq", {}).get("th_pool")
    if seq and seq.cpu_us:
        cpu = statistics.median(seq.cpu_us)
        lines.append(
            f"CPU per keep-alive HTTP/1.1 request <= 100 us (th_pool): {cpu:.0f} us "
            f"[{'met' if cpu <= 100 else 'NOT met'}]"
        )
    seq_c = results.get("seq", {}).get("th_client")
    if seq_c and seq_c.cpu_us:
        cpu = statistics.median(seq_c.cpu_us)
        lines.append(
            f"CPU per keep-alive HTTP/1.1 request <= 100 us (th_client): {cpu:.0f} us "
            f"[{'met' if cpu <= 100 else 'NOT met'}]"
        )
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
            header = ["client", "layer", unit, "min-max", "vs httpx", "CPU us/req"]
            rows = block_rows(scenario, clients, results[scenario.key])
            print()
            print(f"{scenario.title_for(n)} [{scenario.key}]")
            print_table(header, rows)
            sys.stdout.flush()
    finally:
        server.close()

    load_after = os.getloadavg()
    print()
    print("Summary: medians (ratio to httpx; sync rows to httpx.Client)")
    for header, rows in summary_tables(scenarios, results, wanted):
        print_table(header, rows, right=set(range(1, len(header))))
        print()
    print("Targets (issue 10), like for like:")
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
