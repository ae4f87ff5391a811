"""The sync facade's cost per request beside the async pool's, same server, same run.

Usage: python benchmarks/sync_vs_async.py [--requests N] [--rounds R] [--layer pool|client]

Workloads, each body read to its end and the stream closed, over keep-alive
HTTP/1.1 connections:

* ``seq``: requests one after another, a 14-byte body;
* ``seq-64k``: the same with a 64 KiB body (read before the response is handed over);
* ``seq-1m``: the same with a 1 MiB body (streamed past the read-ahead window);
* ``conc8``: 8 threads (sync) against 8 tasks (async), a 14-byte body.

With ``--layer pool`` (the default) ``SyncConnectionPool`` is used from plain
threads, ``AsyncConnectionPool`` inside ``trio.run``; with ``--layer client``,
``Client`` and ``AsyncClient`` (``get()``, the body read by the client).
Rounds alternate between the two so that drift in the machine's load hits
both; each figure is the best round (the least disturbed): wall time and
process CPU time per request (this process only: the client's threads, not
the server), the ratio sync / async, and the
process's context switches per request (from ``getrusage``: the handoffs
between the caller's thread and the portal's, which the load does not change).

The server is nginx when it is installed (a generated config, one worker),
else a small trio + h11 server in a subprocess: a separate process either
way, so it does not share the client's interpreter lock.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import trio

from trio_httpcore import AsyncClient, AsyncConnectionPool, Client, SyncConnectionPool

if sys.platform != "win32":  # no getrusage there: switches are not counted
    import resource

HOST = "127.0.0.1"
SMALL = b"Hello, world!\n"
BIG = bytes(range(256)) * 256  # 64 KiB
HUGE = BIG * 16  # 1 MiB
BODIES = {"/": SMALL, "/64k": BIG, "/1m": HUGE}

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    server {{
        listen {host}:{port};
        location = / {{ default_type text/plain; return 200 "{small}"; }}
        location = /64k {{ alias {dir}/64k; }}
        location = /1m {{ alias {dir}/1m; }}
    }}
}}
"""

# The fallback server: HTTP/1.1 keep-alive, BODIES by path.
H11_SERVER = """
import sys, h11, trio
BODIES = {b"/": b"Hello, world!\\n", b"/64k": bytes(range(256)) * 256}
BODIES[b"/1m"] = BODIES[b"/64k"] * 16

async def handle(stream):
    conn = h11.Connection(h11.SERVER)
    body = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await stream.receive_some(65536)
            if not data:
                return
            conn.receive_data(data)
        elif isinstance(event, h11.Request):
            body = BODIES[event.target]
        elif isinstance(event, h11.EndOfMessage):
            headers = [("content-length", str(len(body)))]
            await stream.send_all(
                conn.send(h11.Response(status_code=200, headers=headers))
                + conn.send(h11.Data(data=body))
                + conn.send(h11.EndOfMessage())
            )
            conn.start_next_cycle()
        else:
            return

trio.run(trio.serve_tcp, handle, int(sys.argv[1]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)


@contextmanager
def server() -> Iterator[tuple[str, int]]:
    """``(description, port)`` of a running server, stopped on exit."""
    port = free_port()
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    with tempfile.TemporaryDirectory() as tmp:
        if nginx is not None:
            os.chmod(tmp, 0o755)  # nginx's workers may run as another user
            Path(tmp, "64k").write_bytes(BIG)
            Path(tmp, "1m").write_bytes(HUGE)
            small = SMALL.decode().replace("\n", "\\n")
            conf = Path(tmp, "nginx.conf")
            conf.write_text(NGINX_CONF.format(dir=tmp, host=HOST, port=port, small=small))
            command = [nginx, "-c", str(conf), "-p", tmp, "-e", f"{tmp}/error.log"]
            description = "nginx (1 worker)"
        else:
            command = [sys.executable, "-c", H11_SERVER, str(port)]
            description = "trio + h11 subprocess"
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            wait_listening(port, process)
            yield description, port
        finally:
            process.terminate()
            process.wait()


@dataclass(frozen=True)
class Workload:
    name: str
    path: str
    concurrency: int


WORKLOADS = [
    Workload("seq", "/", 1),
    Workload("seq-64k", "/64k", 1),
    Workload("seq-1m", "/1m", 1),
    Workload("conc8", "/", 8),
]


def url(port: int, path: str) -> tuple[bytes, bytes, int, bytes]:
    return (b"http", HOST.encode(), port, path.encode())


async def async_get(pool: AsyncConnectionPool, port: int, path: str) -> None:
    status, _, stream, _ = await pool.arequest(b"GET", url(port, path))
    body = b"".join([chunk async for chunk in stream])
    await stream.aclose()
    assert status == 200 and body == BODIES[path], (status, len(body))


def sync_get(pool: SyncConnectionPool, port: int, path: str) -> None:
    status, _, stream, _ = pool.request(b"GET", url(port, path))
    body = b"".join(stream)
    stream.close()
    assert status == 200 and body == BODIES[path], (status, len(body))


async def async_client_get(client: AsyncClient, port: int, path: str) -> None:
    response = await client.get(f"http://{HOST}:{port}{path}")
    assert response.status_code == 200 and response.content == BODIES[path]


def sync_client_get(client: Client, port: int, path: str) -> None:
    response = client.get(f"http://{HOST}:{port}{path}")
    assert response.status_code == 200 and response.content == BODIES[path]


Timing = tuple[float, float, float]
"""Wall and CPU seconds, and context switches, per request."""


def context_switches() -> int:
    """This process's context switches so far, voluntary or not (0 where unknown).

    The sync facade hands each request to the portal thread and back; each
    handoff costs a thread two switches at least, whatever the machine's load.
    """
    if sys.platform == "win32":
        return 0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw + usage.ru_nivcsw


class Meter:
    """Started at creation; :meth:`per_request` is the :data:`Timing` since, over ``n``."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.switches = context_switches()
        self.cpu = time.process_time()
        self.wall = time.perf_counter()

    def per_request(self) -> Timing:
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        return wall / self.n, cpu / self.n, (context_switches() - self.switches) / self.n


def timed(n: int, run: Callable[[], None]) -> Timing:
    meter = Meter(n)
    run()
    return meter.per_request()


async def async_round(port: int, work: Workload, n: int, layer: str) -> Timing:
    per_task = n // work.concurrency
    async with AsyncClient() if layer == "client" else AsyncConnectionPool() as opened:
        get = partial(async_client_get if layer == "client" else async_get, opened)  # type: ignore[arg-type]

        async def loop() -> None:
            for _ in range(per_task):
                await get(port, work.path)

        async def run_all(target: Callable[[], Awaitable[None]]) -> None:
            async with trio.open_nursery() as nursery:
                for _ in range(work.concurrency):
                    nursery.start_soon(target)

        await run_all(partial(get, port, work.path))  # connect before the timing starts
        meter = Meter(n)
        await run_all(loop)
        return meter.per_request()


def sync_round(port: int, work: Workload, n: int, layer: str) -> Timing:
    per_thread = n // work.concurrency
    with Client() if layer == "client" else SyncConnectionPool() as opened:
        get = partial(sync_client_get if layer == "client" else sync_get, opened)  # type: ignore[arg-type]

        def loop() -> None:
            for _ in range(per_thread):
                get(port, work.path)

        def in_threads(target: Callable[[], None]) -> None:
            threads = [threading.Thread(target=target) for _ in range(work.concurrency)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        in_threads(lambda: get(port, work.path))  # start, connect
        return timed(n, loop if work.concurrency == 1 else lambda: in_threads(loop))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--layer", choices=["pool", "client"], default="pool", help="pools or clients"
    )
    args = parser.parse_args()
    print(
        f"{args.layer}: {args.rounds} rounds x {args.requests} requests per workload,"
        " best round shown"
    )
    print(
        f"{'workload':10} {'async wall/cpu us':>18} {'sync wall/cpu us':>18} {'ratio wall/cpu':>16}"
        f" {'switches/req async/sync':>24}"
    )
    with server() as (description, port):
        for work in WORKLOADS:
            async_times: list[Timing] = []
            sync_times: list[Timing] = []
            for _ in range(args.rounds):
                async_times.append(trio.run(async_round, port, work, args.requests, args.layer))
                sync_times.append(sync_round(port, work, args.requests, args.layer))
            a_wall, a_cpu, a_sw = (min(t[i] for t in async_times) for i in range(3))
            s_wall, s_cpu, s_sw = (min(t[i] for t in sync_times) for i in range(3))
            print(
                f"{work.name:10} {a_wall * 1e6:8.0f} /{a_cpu * 1e6:6.0f}    "
                f"{s_wall * 1e6:8.0f} /{s_cpu * 1e6:6.0f}    "
                f"{s_wall / a_wall:6.2f}x /{s_cpu / a_cpu:5.2f}x"
                f" {a_sw:15.2f} /{s_sw:5.2f}"
            )
    print(f"server: {description}; target: sync within 1.30x of async")


if __name__ == "__main__":
    main()
