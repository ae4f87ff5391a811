"""What the benchmark measures: the workloads (scenarios) and a client's results on one."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


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
        "sync_dl",
        "sync 64 MiB download, HTTP/1.1",
        "download",
        "h1",
        "http_port",
        "/64MiB",
        1,
        1,
        sync=True,
    ),
    Scenario(
        "sync_dl_tls",
        "sync 64 MiB download, HTTP/1.1 over TLS",
        "download",
        "h1-tls",
        "tls_port",
        "/64MiB",
        1,
        1,
        sync=True,
    ),
    Scenario(
        "sync_t8",
        "sync, 8 threads sharing one client: {n:,} GETs, HTTP/1.1",
        "conc",
        "h1",
        "http_port",
        "/",
        2000,
        400,
        concurrency=8,
        sync=True,
    ),
    Scenario(
        "sync_latency",
        "sync latency-bound from 20 threads: {n:,} GETs, server waits 10 ms (ideal {ideal:g} s)",
        "conc",
        "h1",
        "delay_port",
        "/delay",
        2000,
        400,
        concurrency=20,
        sync=True,
        latency=True,
        reps=3,
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
