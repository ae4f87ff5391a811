"""``ASGITransport``: requests answered by an ASGI app run in-process, under trio.

The app runs in the task that sends the request (no thread, no other event
loop), so a framework that runs on trio (Starlette through anyio, Quart-Trio)
runs as it would under a trio server. The response is whole when the app
returns, as in httpx; the app's lifespan is the caller's to run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

import trio

from ..._http import AsyncHTTPTransport, AsyncResponse
from ..._streams import AsyncByteStream, PlainByteStream
from ..._types import URL4, Extensions, RawHeaders
from .._urlparse import DEFAULT_PORTS
from ._wire import read_body

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]


class _Exchange:
    """One request's ``receive`` and ``send``, and the response the app sends (ASGI HTTP)."""

    def __init__(self, body: bytes, head_only: bool) -> None:
        self._body: bytes | None = body
        self._head_only = head_only
        self.status: int | None = None
        self.headers: RawHeaders = []
        self.chunks: list[bytes] = []
        self.complete = trio.Event()

    async def receive(self) -> Message:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        # After the body, the client "disconnects" once the response is complete: an app
        # that listens for it (a streaming response) gets it then.
        await self.complete.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if self.status is not None:
                raise RuntimeError("The ASGI app sent http.response.start twice.")
            self.status = int(message["status"])
            self.headers = [(bytes(name), bytes(value)) for name, value in message["headers"]]
        elif message["type"] == "http.response.body":
            if self.status is None or self.complete.is_set():
                raise RuntimeError("The ASGI app sent a body outside its response.")
            if not self._head_only:
                self.chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self.complete.set()


class ASGITransport(AsyncHTTPTransport):
    """A transport that hands each request to the ASGI app ``app`` (ASGI 3, HTTP scope).

    ``raise_app_exceptions``: an exception the app raises is raised to the
    caller (else the answer is a 500 if the app had not started one).
    ``root_path`` is the scope's; ``client`` the ``(host, port)`` the app
    sees the request come from.
    """

    def __init__(
        self,
        app: ASGIApp,
        raise_app_exceptions: bool = True,
        root_path: str = "",
        client: tuple[str, int] = ("127.0.0.1", 123),
    ) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self.root_path = root_path
        self.client = client

    async def arequest(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders | None = None,
        stream: AsyncByteStream | None = None,
        ext: Extensions | None = None,
    ) -> AsyncResponse:
        body = await read_body(stream)
        scheme, host, port, target = url
        path, _, query = target.partition(b"?")
        scope: Message = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method.decode("ascii"),
            "headers": [(name.lower(), value) for name, value in headers or []],
            "scheme": scheme.decode("ascii"),
            "path": unquote(path.decode("ascii")),
            "raw_path": path,
            "query_string": query,
            "server": (host.decode("ascii"), port or DEFAULT_PORTS[scheme.decode("ascii")]),
            "client": self.client,
            "root_path": self.root_path,
        }
        exchange = _Exchange(body, head_only=method == b"HEAD")
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except Exception:
            if self.raise_app_exceptions:
                raise
            exchange.complete.set()
            if exchange.status is None:
                exchange.status, exchange.headers, exchange.chunks = 500, [], []
        if exchange.status is None:
            raise RuntimeError("The ASGI app returned without sending a response.")
        content = PlainByteStream(b"".join(exchange.chunks))
        return exchange.status, exchange.headers, content, {"http_version": "HTTP/1.1"}
