"""An offline transport for client tests that need no server."""

from __future__ import annotations

from collections.abc import Callable

from trio_httpcore._http._base import AsyncHTTPTransport, AsyncResponse
from trio_httpcore._streams import AsyncByteStream, PlainByteStream
from trio_httpcore._types import URL4, Extensions, RawHeaders

Sent = tuple[bytes, URL4, RawHeaders, bytes, Extensions]
Handler = Callable[[Sent], tuple[int, RawHeaders, bytes]]


def answer_ok(sent: Sent) -> tuple[int, RawHeaders, bytes]:
    return 200, [(b"content-type", b"text/plain")], b"ok"


class MockTransport(AsyncHTTPTransport):
    """Answers each request with ``handler(sent)`` and records what was sent."""

    def __init__(self, handler: Handler = answer_ok) -> None:
        self.handler = handler
        self.sent: list[Sent] = []
        self.entered = self.closed = False

    async def arequest(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders | None = None,
        stream: AsyncByteStream | None = None,
        ext: Extensions | None = None,
    ) -> AsyncResponse:
        body = b"".join([chunk async for chunk in stream]) if stream is not None else b""
        sent = (method, url, headers or [], body, ext or {})
        self.sent.append(sent)
        status, response_headers, content = self.handler(sent)
        return status, response_headers, PlainByteStream(content), {"http_version": "HTTP/1.1"}

    async def __aenter__(self) -> MockTransport:
        self.entered = True
        return self

    async def aclose(self) -> None:
        self.closed = True
