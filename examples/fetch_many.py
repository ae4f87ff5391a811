"""Fetch many URLs concurrently: one task per request in a nursery, a pool limit on connections.

    python examples/fetch_many.py

Starts a local server that takes 50 ms per request, then makes 40 requests
with ``max_connections=5``. The pool lets five run at once and queues the rest
(first come, first served), so the batch takes about 40 / 5 * 50 ms = 0.4 s,
and the server never sees more than five connections.
"""

from __future__ import annotations

import time
from functools import partial

import h11
import trio

import trio_httpcore

N_REQUESTS = 40
MAX_CONNECTIONS = 5


class Server:
    """An HTTP/1.1 server that answers each request after 50 ms and counts connections."""

    def __init__(self) -> None:
        self.open_connections = 0
        self.peak_connections = 0

    async def handle(self, stream: trio.SocketStream) -> None:
        self.open_connections += 1
        self.peak_connections = max(self.peak_connections, self.open_connections)
        conn = h11.Connection(h11.SERVER)
        target = b"/"
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive_some(65536))
                elif isinstance(event, h11.Request):
                    target = event.target
                elif isinstance(event, h11.EndOfMessage):
                    await trio.sleep(0.05)
                    body = b"you asked for " + target
                    head = h11.Response(
                        status_code=200, headers=[("content-length", str(len(body)))]
                    )
                    await stream.send_all(conn.send(head) + conn.send(h11.Data(data=body)))
                    await stream.send_all(conn.send(h11.EndOfMessage()))
                    conn.start_next_cycle()
                else:
                    return
        except (trio.BrokenResourceError, h11.ProtocolError):
            pass
        finally:
            self.open_connections -= 1
            await stream.aclose()


async def fetch(
    pool: trio_httpcore.AsyncConnectionPool, port: int, n: int, results: dict[int, bytes]
) -> None:
    url = (b"http", b"127.0.0.1", port, f"/item/{n}".encode())
    status, _, stream, _ = await pool.arequest(b"GET", url)
    try:
        results[n] = b"".join([chunk async for chunk in stream])
    finally:
        await stream.aclose()
    assert status == 200


async def main() -> None:
    server = Server()
    async with trio.open_nursery() as server_nursery:
        listeners = await server_nursery.start(
            partial(trio.serve_tcp, server.handle, 0, host="127.0.0.1")
        )
        port = listeners[0].socket.getsockname()[1]

        results: dict[int, bytes] = {}
        started = time.perf_counter()
        with trio.fail_after(10):  # a deadline on the whole batch
            async with (
                trio_httpcore.AsyncConnectionPool(max_connections=MAX_CONNECTIONS) as pool,
                trio.open_nursery() as nursery,
            ):
                for n in range(N_REQUESTS):
                    nursery.start_soon(fetch, pool, port, n, results)
        elapsed = time.perf_counter() - started

        server_nursery.cancel_scope.cancel()

    assert all(results[n] == f"you asked for /item/{n}".encode() for n in range(N_REQUESTS))
    assert server.peak_connections <= MAX_CONNECTIONS
    print(
        f"{len(results)} responses in {elapsed:.2f} s over at most "
        f"{server.peak_connections} connections (limit {MAX_CONNECTIONS})"
    )


if __name__ == "__main__":
    trio.run(main)
