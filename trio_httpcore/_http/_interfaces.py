"""The contract between a pool's connections and the protocols they speak.

A protocol object (HTTP/1.1 or HTTP/2) owns one open byte stream. It knows
nothing of pools: it tells its :class:`ConnectionListener` when it can take
another request and when it has closed, and the pool does the bookkeeping.

Capacity is claimed synchronously: the pool calls :meth:`try_reserve` and, if
it answers ``True``, the next :meth:`handle_request` uses that reservation.
A reservation that will not be used (its request was cancelled while still in
the pool's hands) is returned with :meth:`unreserve`. A new protocol object starts
with one reservation, held by the request that opened the connection. Because trio switches
tasks only at checkpoints, reserve-then-assign is atomic by construction.
"""

from __future__ import annotations

from typing import Protocol

from .._streams import AsyncByteStream
from .._types import URL4, Extensions, RawHeaders
from ._base import AsyncResponse


class RetryOnNewConnection(Exception):
    """The request was not processed by the server and may be sent again elsewhere.

    Raised by a protocol for an HTTP/2 stream above a GOAWAY's last-stream-id or
    refused with REFUSED_STREAM (RFC 9113 sections 6.8 and 8.7); the pool
    catches it and queues the request again. It never reaches a user.

    ``refused_by_server`` tells a refusal by the server that made no progress
    (REFUSED_STREAM, or a GOAWAY on a connection that answered no request) from
    a request that found its connection full before sending anything or whose
    connection was ended by a GOAWAY after answering others: the pool bounds
    how often the former may repeat.
    """

    def __init__(self, message: str, *, refused_by_server: bool = False) -> None:
        super().__init__(message)
        self.refused_by_server = refused_by_server


class ConnectionListener(Protocol):
    """What a protocol tells its owner."""

    def released(self) -> None:
        """A request finished: capacity for another one is free again."""

    def closed(self) -> None:
        """The connection is closed (or handed over): it takes no more requests."""


class ConnectionProtocol(Protocol):
    """HTTP/1.1 or HTTP/2 over one open stream."""

    http_version: str

    def try_reserve(self) -> bool:
        """Claim capacity for one request now, or answer ``False``."""

    def unreserve(self) -> None:
        """Return a reservation that no request used."""

    def is_idle(self) -> bool:
        """No request is reserved or in flight."""

    def open_streams(self) -> int:
        """Requests in flight (HTTP/2 streams open); for statistics."""

    async def handle_request(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders,
        stream: AsyncByteStream | None,
        ext: Extensions,
    ) -> AsyncResponse:
        """Send one request on a reservation and return its response head and body stream."""

    async def serve(self) -> None:
        """The connection's own task, run in the pool's nursery until the connection closes."""

    def close_now(self) -> None:
        """Close at once, without an await; requests in flight fail with a transport error."""
