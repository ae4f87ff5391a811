"""The client tests' server: an ASGI app of our own on Hypercorn, in the test's nursery.

Routes (any method):

* ``/echo``: JSON ``{"method", "path", "query", "http_version", "headers", "body"}``;
  headers as ``[name, value]`` pairs and the body as latin-1 text.
* ``/status/<code>``: that status, body ``"status <code>"``.
* ``/redirect/<code>?location=<url>``: that status with ``Location: <url>``.
* ``/chain/<n>``: 302 to ``/chain/<n-1>``; ``/chain/0`` answers 200 ``"done"``.
* ``/encoded/<codings>?size=<n>``: ``n`` bytes of :func:`pattern` encoded with the
  comma-separated ``codings`` (gzip, deflate, rawdeflate, br, zstd) in that order.
* ``/gzip-stream/<mib>``: ``mib`` MiB, gzip-compressed on the fly, chunked.
* ``/text?charset=<c>&body=<text>``: ``text/plain`` (with the charset if given),
  the body encoded with the charset (UTF-8 without one).
* ``/chunks?part=<p>&part=<q>``: each part sent as its own chunk.
* ``/stall``: headers, then nothing until the client gives up.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from typing import Any
from urllib.parse import parse_qs, unquote

import pytest
import trio
import zstandard

from tests.support.asgi import serve_hypercorn
from tests.support.pool import assert_quiescent
from tests.support.servers import Server
from trio_httpcore._client import AsyncClient
from trio_httpcore._client._decoders import brotli  # brotli, or brotlicffi in its place

# ASGI's types as ASGITransport (and Starlette) give them: messages are mutable mappings.
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def pattern(n: int) -> bytes:
    """``n`` bytes of a text pattern that compresses well but not absurdly."""
    block = b"".join(b"line %05d of the pattern\n" % i for i in range(2000))
    return (block * (n // len(block) + 1))[:n]


def encode(data: bytes, coding: str) -> bytes:
    """``data`` in one content coding; ``rawdeflate`` is DEFLATE without the zlib wrapper."""
    if coding == "identity":
        return data
    if coding == "gzip":
        compressor = zlib.compressobj(wbits=31)
    elif coding == "deflate":
        compressor = zlib.compressobj()
    elif coding == "rawdeflate":
        compressor = zlib.compressobj(wbits=-15)
    elif coding == "br":
        return bytes(brotli.compress(data))
    elif coding == "zstd":
        return bytes(zstandard.ZstdCompressor().compress(data))
    else:  # pragma: no cover - a typo in a test
        raise ValueError(coding)
    return compressor.compress(data) + compressor.flush()


class ClientApp:
    """The ASGI app the client tests talk to (routes in the module docstring)."""

    def __init__(self) -> None:
        self.requests: list[Scope] = []
        # Set once a request reached /stall; a thread may wait for it.
        self.stalled = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        self.requests.append(scope)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        path: str = scope["path"]
        query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        route, _, rest = path.strip("/").partition("/")
        handler = getattr(self, f"route_{route.replace('-', '_')}", self.route_echo)
        await handler(scope, send, rest, query, body)

    @staticmethod
    async def respond(
        send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        fields = [(b"content-length", b"%d" % len(body)), *(headers or [])]
        await send({"type": "http.response.start", "status": status, "headers": fields})
        await send({"type": "http.response.body", "body": body})

    async def route_echo(
        self, scope: Scope, send: Send, rest: str, query: dict[str, list[str]], body: bytes
    ) -> None:
        echo = {
            "method": scope["method"],
            "path": scope["raw_path"].decode("latin-1"),
            "query": scope["query_string"].decode("latin-1"),
            "http_version": scope["http_version"],
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "body": body.decode("latin-1"),
        }
        content = json.dumps(echo).encode()
        await self.respond(send, 200, content, [(b"content-type", b"application/json")])

    async def route_status(
        self, scope: Scope, send: Send, rest: str, query: dict[str, list[str]], body: bytes
    ) -> None:
        await self.respond(send, int(rest), b"status " + rest.encode())

    async def route_redirect(
        self, scope: Scope, send: Send, rest: str, query: dict[str, list[str]], body: bytes
    ) -> None:
        location = query["location"][0].encode("utf-8")
        await self.respond(send, int(rest), b"moved", [(b"location", location)])

    async def route_chain(
        self, scope: Scope, send: Send, rest: str, query: dict[str, list[str]], body: bytes
    ) -> None:
        n = int(rest)
        if n == 0:
            await self.respond(send, 200, b"done")
        else:
            await self.respond(send, 302, b"", [(b"location", b"/chain/%d" % (n - 1))])

    async def route_encoded(
        self, scope: Scope, send: Send, rest: str, query: dict[str, list[str]], body: bytes
    ) -> None:
        data = pattern(int(query.get("size", ["10000"])[0]))
        codings = [coding for coding in unquote(rest).split(",") if coding]
        for coding in codings:
            data = encode(data, coding)
        names = ", ".join("deflate" if c == "rawdeflate" else c for c in codings)
        await self.respond(send, 200, data, [(b"content-encoding", names.encode())])

    async def route_gzip_stream(
        self, scope: Scope, send: Send, rest: str, query: dict[str, list[str]], body: bytes
    ) -> None:
        headers = [(b"content-encoding", b"gzip"), (b"content-type", b"application/octet-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        compressor = zlib.compressobj(level=1, wbits=31)
        block = pattern(1024 * 1024)
        for _ in range(int(rest)):
            chunk = compressor.compress(block)
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": compressor.flush()})

    async def route_text(
        self, scope: Scope, send: Send, rest: str, query: dict[str, list[str]], body: bytes
    ) -> None:
        charset = query.get("charset", [""])[0]
        text = query.get("body", [""])[0]
        content_type = f"text/plain; charset={charset}" if charset else "text/plain"
        content = text.encode(charset or "utf-8")
        await self.respond(send, 200, content, [(b"content-type", content_type.encode())])

    async def route_chunks(
        self, scope: Scope, send: Send, rest: str, query: dict[str, list[str]], body: bytes
    ) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in query.get("part", []):
            data = part.encode("latin-1")
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def route_stall(
        self, scope: Scope, send: Send, rest: str, query: dict[str, list[str]], body: bytes
    ) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        self.stalled.set()
        await trio.sleep_forever()


@pytest.fixture
def client_app() -> ClientApp:
    return ClientApp()


@pytest.fixture
async def server(nursery: trio.Nursery, client_app: ClientApp) -> Server:
    """Hypercorn serving :class:`ClientApp` on 127.0.0.1, plain HTTP."""
    return await serve_hypercorn(nursery, client_app)


@pytest.fixture
async def client(server: Server) -> AsyncIterator[AsyncClient]:
    """An open ``AsyncClient`` whose ``base_url`` is :func:`server`, checked for leaks."""
    async with AsyncClient(base_url=server.url) as client:
        yield client
        # Every response the test got was read or closed: no connection is held.
        assert_quiescent(client._transport)


@pytest.fixture
def serve_in_thread(client_app: ClientApp) -> Iterator[Callable[..., Server]]:
    """``server = serve_in_thread(**kwargs)``: :class:`ClientApp` on Hypercorn in a thread.

    For the blocking ``Client``, which can't be used inside the test's trio
    run: the server gets a trio run of its own, stopped when the test ends.
    ``kwargs`` go to ``serve_hypercorn`` (e.g. ``certfile``, ``keyfile``).
    """
    stops: list[Callable[[], None]] = []

    def serve(**kwargs: Any) -> Server:
        started = threading.Event()
        found: list[Server] = []

        async def main() -> None:
            async with trio.open_nursery() as nursery:
                server = await serve_hypercorn(nursery, client_app, **kwargs)
                found.append(server)
                token = trio.lowlevel.current_trio_token()
                stops.append(lambda: token.run_sync_soon(nursery.cancel_scope.cancel))
                started.set()

        thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
        thread.start()
        assert started.wait(30), "the server thread did not start"
        stops.append(thread.join)
        return found[0]

    yield serve
    for stop in stops:
        stop()
