"""The interfaces every transport implements, async and sync."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from .._streams import AsyncByteStream, SyncByteStream
from .._types import URL4, Extensions, RawHeaders

if TYPE_CHECKING:
    from typing_extensions import Self

AsyncResponse = tuple[int, RawHeaders, AsyncByteStream, Extensions]
SyncResponse = tuple[int, RawHeaders, SyncByteStream, Extensions]


class AsyncHTTPTransport:
    """Sends one request and returns ``(status, headers, stream, ext)``.

    The response ``stream`` must be read to its end or closed: until then it
    holds the connection it arrived on.
    """

    async def arequest(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders | None = None,
        stream: AsyncByteStream | None = None,
        ext: Extensions | None = None,
    ) -> AsyncResponse:
        """Send one request; return ``(status, headers, stream, ext)``.

        ``url`` is ``(scheme, host, port, target)``; ``ext["timeout"]`` may
        set the connect, read, write and pool timeouts in seconds. The
        response ``stream`` holds its connection until read to the end or
        closed.
        """
        raise NotImplementedError()

    async def aclose(self) -> None:
        """Release every resource the transport holds."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()


class SyncHTTPTransport:
    """The blocking form of :class:`AsyncHTTPTransport`."""

    def request(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders | None = None,
        stream: SyncByteStream | None = None,
        ext: Extensions | None = None,
    ) -> SyncResponse:
        """Send one request, blocking; return ``(status, headers, stream, ext)``.

        The same contract as :meth:`AsyncHTTPTransport.arequest`, with a
        :class:`SyncByteStream` body that is read with a plain ``for``.
        """
        raise NotImplementedError()

    def close(self) -> None:
        """Release every resource the transport holds."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.close()
