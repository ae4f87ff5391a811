"""The blocking transports: the async ones, run on a portal thread.

``SyncConnectionPool`` (and the sync proxies) hold their async counterpart,
entered in the trio thread of a :class:`~._portal.Portal` of their own, and
call into it: one portal call per request, one per response body chunk.
Any number of threads may call :meth:`request` at once; their requests run
side by side in the one trio loop, so they share connections (and HTTP/2
streams of one connection) with no lock on the sync side.

The client layer's blocking ``Client`` reaches the async transport of a
facade it is given through ``facade._portal`` and ``facade._async_transport``.
"""

from __future__ import annotations

import ssl
import threading
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from typing import TYPE_CHECKING, Generic, TypeVar

import trio

from .._streams import AsyncByteStream, SyncByteStream
from .._types import URL4, Extensions, RawHeaders
from ._base import AsyncHTTPTransport, AsyncResponse, SyncHTTPTransport, SyncResponse
from ._pool import AsyncConnectionPool, PoolStatistics, _check_backend
from ._portal import Portal, PortalClosed

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
        self._open_lock = threading.Lock()
        self._opened = False

    def _open(self) -> Portal:
        """The portal, with the async transport entered in it."""
        if not self._opened:
            with self._open_lock:  # one thread enters; the others wait for it
                if not self._opened:
                    self._portal.enter_async_context(self._async_transport)
                    self._opened = True
        return self._portal

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
        status, response_headers, response_stream, response_ext = portal.run(
            self._async_transport.arequest,
            method,
            url,
            headers,
            _to_async(stream),
            ext,
            discard=_close_response,
        )
        return status, response_headers, _PortalByteStream(portal, response_stream), response_ext

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
    :class:`AsyncConnectionPool` there.
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
        _check_backend(type(self).__name__, backend, "sync")
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
        if not self._opened or self._portal.closed:
            return self._async_transport.statistics()  # no thread changes it
        return self._portal.run_sync(self._async_transport.statistics)


# -- Bodies across the portal.


def _to_async(stream: SyncByteStream | None) -> AsyncByteStream | None:
    """A request body the async transport can read in the trio thread."""
    if stream is None or isinstance(stream, AsyncByteStream):
        return stream  # PlainByteStream is both: its bytes are already in memory
    return _ThreadedByteStream(stream)


class _ThreadedByteStream(AsyncByteStream):
    """A sync request body, each chunk pulled by ``trio.to_thread`` (trio's cached threads).

    The iterator may block (a file read, a generator computing the body):
    it must not stall the trio thread, where every other request of the pool
    runs. Closing the body stays its owner's job, as for async bodies.
    """

    def __init__(self, stream: SyncByteStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = iter(self._stream)
        while (chunk := await trio.to_thread.run_sync(next, chunks, None)) is not None:
            yield chunk


async def _close_response(response: AsyncResponse) -> None:
    await response[2].aclose()


async def _next_chunk(chunks: AsyncIterator[bytes], stream: AsyncByteStream) -> bytes | None:
    """The next chunk, or ``None`` at the end. Whatever ends the iteration closes the stream,
    in the same portal call: at the end (saving a call), or on an error or cancellation."""
    try:
        return await chunks.__anext__()
    except StopAsyncIteration:
        await stream.aclose()
        return None
    except BaseException:
        with trio.CancelScope() as scope:
            scope.cancel()  # close forcefully: we may be cancelled already
            await stream.aclose()
        raise


class _PortalByteStream(SyncByteStream):
    """A response body in the trio thread, read from this one: one portal call per chunk.

    It holds its connection until read to the end or closed. One dropped
    unclosed warns (``ResourceWarning``) and is closed in the trio thread,
    scheduled without a lock or a wait: ``__del__`` may run in any thread, at
    any point, even inside the pool's own code.
    """

    def __init__(self, portal: Portal, stream: AsyncByteStream) -> None:
        self._portal = portal
        self._stream = stream
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        chunks = self._stream.__aiter__()
        while (chunk := self._portal.run(_next_chunk, chunks, self._stream)) is not None:
            yield chunk
        self._closed = True  # _next_chunk closed it

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with suppress(PortalClosed):  # the transport closed, and every response with it
            self._portal.run(self._stream.aclose)

    def __del__(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._portal.run_soon(self._stream.aclose)
        warnings.warn(
            "a response stream was garbage-collected without being read to the end or "
            "closed: close it (`stream.close()`) to free its connection promptly",
            ResourceWarning,
            source=self,
            stacklevel=1,
        )
