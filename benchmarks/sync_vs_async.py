"""The sync facade's cost per request beside the async pool's, same server, same run.

Usage: python benchmarks/sync_vs_async.py [--requests N] [--rounds R] [--path /]

One keep-alive connection, requests one after another, each body read to
its end and the stream closed: ``SyncConnectionPool`` from this thread
against ``AsyncConnectionPool`` inside ``trio.run``. Rounds alternate
between the two so that drift in machine load hits both; the figure is the
best round of each (the least disturbed), and the ratio sync / async.

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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import trio

from trio_httpcore import AsyncConnectionPool, SyncConnectionPool

HOST = "127.0.0.1"
BODY = b"Hello, world!\n"

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
        location / {{ default_type text/plain; return 200 "{body}"; }}
    }}
}}
"""

# The fallback server: HTTP/1.1 keep-alive, BODY for every request.
H11_SERVER = """
import sys, h11, trio
BODY = sys.argv[2].encode()

async def handle(stream):
    conn = h11.Connection(h11.SERVER)
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await stream.receive_some(65536)
            if not data:
                return
            conn.receive_data(data)
        elif isinstance(event, h11.Request):
            pass
        elif isinstance(event, h11.EndOfMessage):
            headers = [("content-length", str(len(BODY))), ("content-type", "text/plain")]
            await stream.send_all(
                conn.send(h11.Response(status_code=200, headers=headers))
                + conn.send(h11.Data(data=BODY))
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
            conf = Path(tmp, "nginx.conf")
            body = BODY.decode().replace("\n", "\\n")
            conf.write_text(NGINX_CONF.format(dir=tmp, host=HOST, port=port, body=body))
            command = [nginx, "-c", str(conf), "-p", tmp, "-e", f"{tmp}/error.log"]
            description = "nginx (1 worker)"
        else:
            command = [sys.executable, "-c", H11_SERVER, str(port), BODY.decode()]
            description = "trio + h11 subprocess"
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            wait_listening(port, process)
            yield description, port
        finally:
            process.terminate()
            process.wait()


def url(port: int, path: str) -> tuple[bytes, bytes, int, bytes]:
    return (b"http", HOST.encode(), port, path.encode())


async def async_round(port: int, path: str, n: int) -> float:
    async with AsyncConnectionPool() as pool:
        await read(pool, port, path)  # connect outside the timing
        start = time.perf_counter()
        for _ in range(n):
            await read(pool, port, path)
        return (time.perf_counter() - start) / n


async def read(pool: AsyncConnectionPool, port: int, path: str) -> None:
    status, _, stream, _ = await pool.arequest(b"GET", url(port, path))
    body = b"".join([chunk async for chunk in stream])
    await stream.aclose()
    assert status == 200 and body == BODY, (status, body)


def sync_round(port: int, path: str, n: int) -> float:
    with SyncConnectionPool() as pool:
        sync_read(pool, port, path)  # start the thread and connect outside the timing
        start = time.perf_counter()
        for _ in range(n):
            sync_read(pool, port, path)
        return (time.perf_counter() - start) / n


def sync_read(pool: SyncConnectionPool, port: int, path: str) -> None:
    status, _, stream, _ = pool.request(b"GET", url(port, path))
    body = b"".join(stream)
    stream.close()
    assert status == 200 and body == BODY, (status, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--path", default="/")
    args = parser.parse_args()
    with server() as (description, port):
        async_times: list[float] = []
        sync_times: list[float] = []
        for _ in range(args.rounds):
            async_times.append(trio.run(async_round, port, args.path, args.requests))
            sync_times.append(sync_round(port, args.path, args.requests))
    best_async, best_sync = min(async_times), min(sync_times)
    print(f"server: {description}; {args.rounds} rounds x {args.requests} sequential requests")
    print("async per request: " + " ".join(f"{t * 1e6:.0f}" for t in async_times) + " us")
    print("sync  per request: " + " ".join(f"{t * 1e6:.0f}" for t in sync_times) + " us")
    print(
        f"best: async {best_async * 1e6:.1f} us, sync {best_sync * 1e6:.1f} us, "
        f"sync/async = {best_sync / best_async:.2f}x (target <= 1.30x)"
    )


if __name__ == "__main__":
    main()
