"""Fetch one URL: the status line and headers go to stderr, the body to stdout.

    python examples/fetch.py                     # starts a local server, fetches from it
    python examples/fetch.py https://example.org

With no URL the script starts a small HTTP/1.1 server of its own (h11 on trio,
so nothing beyond the library's own dependencies is needed), fetches a page
from it, and stops it: it works offline. Exit status 0 on any response, 1 on a
transport error (printed as one line).
"""

from __future__ import annotations

import sys
from functools import partial
from urllib.parse import urlsplit

import h11
import trio

import trio_httpcore

PAGE = b"Hello from a local trio server, fetched with trio_httpcore.\n"


async def handle(stream: trio.SocketStream) -> None:
    """Serve HTTP/1.1 requests on one connection until the client closes it."""
    conn = h11.Connection(h11.SERVER)
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await stream.receive_some(65536)
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                continue  # wait for the end of its (empty) body
            if isinstance(event, h11.EndOfMessage):
                headers = [("content-type", "text/plain"), ("content-length", str(len(PAGE)))]
                await stream.send_all(
                    conn.send(h11.Response(status_code=200, reason=b"OK", headers=headers))
                )
                await stream.send_all(conn.send(h11.Data(data=PAGE)))
                await stream.send_all(conn.send(h11.EndOfMessage()))
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
                continue
            return  # ConnectionClosed, or a protocol error: drop the connection
    except (trio.BrokenResourceError, h11.ProtocolError):
        pass
    finally:
        await stream.aclose()


def to_url4(url: str) -> tuple[bytes, bytes, int | None, bytes]:
    """``"https://host:port/path?q"`` as the transport's ``(scheme, host, port, target)``."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = (parts.hostname or "").encode("idna")
    return (parts.scheme.encode("ascii"), host, parts.port, target.encode("ascii"))


async def fetch(url: str) -> None:
    timeouts = {"connect": 10.0, "read": 10.0, "write": 10.0, "pool": 10.0}
    async with trio_httpcore.AsyncConnectionPool() as pool:
        status, headers, stream, ext = await pool.arequest(
            b"GET",
            to_url4(url),
            headers=[(b"user-agent", b"trio_httpcore-example")],
            ext={"timeout": timeouts},
        )
        try:
            print(f"{ext['http_version']} {status} {ext['reason']}", file=sys.stderr)
            for name, value in headers:
                print(f"{name.decode('latin-1')}: {value.decode('latin-1')}", file=sys.stderr)
            print(file=sys.stderr)
            async for chunk in stream:
                sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
        finally:
            await stream.aclose()


async def main(argv: list[str]) -> int:
    try:
        if len(argv) > 1:
            await fetch(argv[1])
            return 0
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
            port = listeners[0].socket.getsockname()[1]
            await fetch(f"http://127.0.0.1:{port}/")
            nursery.cancel_scope.cancel()  # stop the server
        return 0
    except trio_httpcore.HTTPError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(trio.run(main, sys.argv))
