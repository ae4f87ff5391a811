"""HTTP/2 over one stream (RFC 9113): being built; this placeholder refuses every request."""

from __future__ import annotations

import trio

from .._exceptions import UnsupportedProtocol
from .._streams import AsyncByteStream
from .._types import URL4, Extensions, RawHeaders
from ._base import AsyncResponse
from ._interfaces import ConnectionListener
from ._network import close_now


class HTTP2Connection:
    """One HTTP/2 connection to one origin (placeholder until the implementation lands)."""

    http_version = "HTTP/2"

    def __init__(
        self,
        stream: trio.abc.Stream,
        origin: str,
        listener: ConnectionListener,
        keepalive_expiry: float | None = None,
    ) -> None:
        self._stream = stream
        self._origin = origin
        self._listener = listener
        self._keepalive_expiry = keepalive_expiry
        self._closed = False

    def try_reserve(self) -> bool:
        return False

    def unreserve(self) -> None:
        self.close_now()

    def is_idle(self) -> bool:
        return False

    def open_streams(self) -> int:
        return 0

    async def handle_request(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders,
        stream: AsyncByteStream | None,
        ext: Extensions,
    ) -> AsyncResponse:
        self.close_now()
        raise UnsupportedProtocol(f"HTTP/2 to {self._origin} is not implemented yet")

    async def serve(self) -> None:
        await trio.sleep_forever()

    def close_now(self) -> None:
        if not self._closed:
            self._closed = True
            close_now(self._stream)
            self._listener.closed()
