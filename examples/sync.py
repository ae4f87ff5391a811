"""Blocking code: one pool shared by many threads, no async anywhere in sight.

    python examples/sync.py

Starts the standard library's threaded HTTP server, then makes 80 requests
from 8 threads through one ``SyncConnectionPool`` limited to 4 connections,
and one with the blocking ``Client``.
The pool runs the async pool on a background thread with its own
``trio.run``; each call goes through a trio portal, so all the threads share
its connections safely.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import trio_httpcore

N_THREADS = 8
PER_THREAD = 10
MAX_CONNECTIONS = 4


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connections are reused
    connections: ClassVar[set[tuple[str, int]]] = set()

    def do_GET(self) -> None:
        Handler.connections.add(self.client_address)
        body = f"hello {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet


def get(pool: trio_httpcore.SyncConnectionPool, port: int, path: str) -> bytes:
    status, _, stream, _ = pool.request(b"GET", (b"http", b"127.0.0.1", port, path.encode()))
    try:
        body = b"".join(stream)
    finally:
        stream.close()
    assert status == 200, status
    return body


def worker(pool: trio_httpcore.SyncConnectionPool, port: int, thread: int) -> int:
    for n in range(PER_THREAD):
        path = f"/{thread}/{n}"
        assert get(pool, port, path) == f"hello {path}".encode()
    return PER_THREAD


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    port = server.server_address[1]
    timeouts = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}
    try:
        with trio_httpcore.SyncConnectionPool(max_connections=MAX_CONNECTIONS) as pool:
            # One request by hand, showing the response tuple.
            status, headers, stream, ext = pool.request(
                b"GET", (b"http", b"127.0.0.1", port, b"/"), ext={"timeout": timeouts}
            )
            try:
                body = b"".join(stream)
            finally:
                stream.close()  # returns the connection to the pool
            print(f"{status} {ext['http_version']}, {len(headers)} headers, body {body!r}")

            with ThreadPoolExecutor(N_THREADS) as executor:
                futures = [executor.submit(worker, pool, port, t) for t in range(N_THREADS)]
                done = sum(f.result() for f in futures)
        pool_connections = len(Handler.connections)

        # The blocking client: the same portal design, requests-style API.
        # (trust_env=False: a proxy set in the environment must not get 127.0.0.1.)
        with trio_httpcore.Client(timeout=5.0, trust_env=False) as client:
            response = client.get(f"http://127.0.0.1:{port}/client", params={"q": "sync"})
            response.raise_for_status()
            print(f"Client: {response.status_code} {response.http_version} {response.text!r}")
    finally:
        server.shutdown()
        server.server_close()

    assert pool_connections <= MAX_CONNECTIONS
    print(f"{done} requests from {N_THREADS} threads over {pool_connections} connections")


if __name__ == "__main__":
    main()
