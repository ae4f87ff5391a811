"""The blocking transports: the async ones, each entered in a portal of its own and called
there, one portal call per request. Threads share the one trio loop, hence its connections and
HTTP/2 streams, with no lock on the sync side; bodies come back through the read-ahead body
bridge (:mod:`._body`).
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Generic, TypeVar

from .._http import AsyncHTTPTransport, SyncHTTPTransport, SyncResponse
from .._streams import AsyncByteStream, SyncByteStream, as_async_stream
from .._transport import AsyncConnectionPool, PoolStatistics, check_backend
from .._types import URL4, Extensions, RawHeaders
from ._body import BodyReader, PortalByteStream, read_ahead, stop_reading
from ._once import OpenOnce
from ._portal import CallStatus, Portal

if TYPE_CHECKING:
    from typing_extensions import Self

AsyncTransportT = TypeVar("AsyncTransportT", bound=AsyncHTTPTransport)


class _SyncTransportFacade(SyncHTTPTransport, Generic[AsyncTransportT]):
    """A blocking transport that runs ``transport`` (an async one) on a portal thread.

    The thread starts, and ``transport`` is entered there, on the first
    request or on ``__enter__``; :meth:`close` exits ``transport`` and joins
    the thread (so does garbage collection, and interpreter exit). A subclass
    is its constructor: check ``backend``, build the async transport, pass it here.
    """

    def __init__(self, transport: AsyncTransportT) -> None:
        name = type(self).__name__
        async_name = type(transport).__name__
        self._async_transport = transport
        self._portal = Portal(
            name,
            async_api=f"{async_name} (`async with {async_name}(...) as t:`, "
            "then `await t.arequest(...)`)",
        )
        self._open = OpenOnce(self._portal, transport)

    def __enter__(self) -> Self:
        self._open()
        return self

    def request(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders | None = None,
        stream: SyncByteStream | None = None,
        ext: Extensions | None = None,
    ) -> SyncResponse:
        portal = self._open()
        head, body = portal.start_task(
            self._request_task,
            method,
            url,
            headers,
            as_async_stream(stream),
            ext,
            discard=stop_reading,
        )
        status, response_headers, response_ext = head
        return status, response_headers, PortalByteStream(portal, body), response_ext

    async def _request_task(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders | None,
        stream: AsyncByteStream | None,
        ext: Extensions | None,
        *,
        task_status: CallStatus[tuple[tuple[int, RawHeaders, Extensions], BodyReader]],
    ) -> None:
        """In the trio thread: the request, then the reading of its body."""
        response = await self._async_transport.arequest(method, url, headers, stream, ext)
        status, response_headers, response_stream, response_ext = response
        head = (status, response_headers, response_ext)
        await read_ahead(self._portal, task_status, response_stream, response_headers, head)

    def close(self) -> None:
        """Close every connection and response, then stop the thread; later requests fail."""
        self._portal.close()


class SyncConnectionPool(_SyncTransportFacade[AsyncConnectionPool]):
    """The blocking :class:`AsyncConnectionPool`: same parameters, ``backend="sync"``.

    The async pool runs on a background thread with its own ``trio.run``.
    Use it with or without ``with``; without, :meth:`close` ends it. Any
    number of threads may share one pool. ``KeyboardInterrupt`` while a
    thread waits cancels that thread's request (the pool stays usable).
    Calling it from inside a trio run raises ``RuntimeError``: use
    :class:`AsyncConnectionPool` there. A response whose ``Content-Length``
    is below the read-ahead window (256 KiB) comes back with its body read (its connection
    free again); a longer or undeclared body streams.
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int | None = None,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = None,
        http1: bool = True,
        http2: bool = False,
        uds: str | None = None,
        local_address: str | None = None,
        retries: int = 0,
        max_keepalive: int | None = None,
        backend: str = "sync",
    ) -> None:
        check_backend(type(self).__name__, backend, "sync")
        super().__init__(
            AsyncConnectionPool(
                ssl_context=ssl_context,
                max_connections=max_connections,
                max_keepalive_connections=max_keepalive_connections,
                keepalive_expiry=keepalive_expiry,
                http1=http1,
                http2=http2,
                uds=uds,
                local_address=local_address,
                retries=retries,
                max_keepalive=max_keepalive,
                backend="trio",
            )
        )

    def statistics(self) -> PoolStatistics:
        """Connections by state, requests waiting, HTTP/2 streams open (read in the trio thread)."""
        if not self._open.opened or self._portal.closed:
            return self._async_transport.statistics()  # no thread changes it
        return self._portal.run_sync(self._async_transport.statistics)
