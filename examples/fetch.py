"""Fetch one URL: the status line and headers go to stderr, the body to stdout.

    python examples/fetch.py                     # starts a local server, fetches from it
    python examples/fetch.py https://example.org

With no URL the script starts a small HTTP/1.1 server of its own (h11 on trio,
so nothing beyond the library's own dependencies is needed), fetches a page
from it with ``AsyncClient``, and stops it: it works offline. Exit status 0 on
any response, 1 on an error (printed as one line). The command line,
``python -m trio_httpcore URL``, does the same and much more.
"""

from __future__ import annotations

import sys
from functools import partial

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


async def fetch(url: str, *, trust_env: bool = True) -> None:
    """GET ``url`` (following redirects), streaming the body to stdout.

    ``trust_env=True`` lets ``HTTP_PROXY`` and friends apply; the local demo
    turns it off, so that a proxy set in the environment is not asked to
    reach our own 127.0.0.1.
    """
    async with (
        trio_httpcore.AsyncClient(timeout=10.0, trust_env=trust_env) as client,
        client.stream("GET", url) as response,
    ):
        print(
            f"{response.http_version} {response.status_code} {response.reason_phrase}",
            file=sys.stderr,
        )
        for name, value in response.headers.multi_items():
            print(f"{name}: {value}", file=sys.stderr)
        print(file=sys.stderr)
        async for chunk in response.aiter_bytes():
            sys.stdout.buffer.write(chunk)
        sys.stdout.flush()


async def main(argv: list[str]) -> int:
    try:
        if len(argv) > 1:
            await fetch(argv[1])
            return 0
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
            port = listeners[0].socket.getsockname()[1]
            await fetch(f"http://127.0.0.1:{port}/", trust_env=False)
            nursery.cancel_scope.cancel()  # stop the server
        return 0
    except trio_httpcore.HTTPError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(trio.run(main, sys.argv))
