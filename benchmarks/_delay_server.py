"""A tiny HTTP/1.1 server that answers every request after 10 ms (trio, no parsing library).

Used for the latency-bound run when nginx has no echo module (nginx cannot
wait by itself). It reads request heads up to the blank line (GETs without
bodies only), sleeps 10 ms per request, and answers a fixed 14-byte body, so
that it costs far less than the clients it serves.

Usage: python _delay_server.py HOST PORT
"""

from __future__ import annotations

import sys

import trio

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello, world!\n"
)
DELAY = 0.01


async def handle(stream: trio.SocketStream) -> None:
    buffer = b""
    try:
        while True:
            data = await stream.receive_some(65536)
            if not data:
                return
            buffer += data
            while b"\r\n\r\n" in buffer:
                _, buffer = buffer.split(b"\r\n\r\n", 1)
                await trio.sleep(DELAY)
                await stream.send_all(RESPONSE)
    except trio.BrokenResourceError:
        return
    finally:
        await trio.aclose_forcefully(stream)


async def main(host: str, port: int) -> None:
    await trio.serve_tcp(handle, port, host=host, backlog=4096)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], int(sys.argv[2]))
