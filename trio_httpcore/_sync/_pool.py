"""The blocking transports: the async ones, run on a portal thread.

``SyncConnectionPool`` (and the sync proxies) hold their async counterpart,
entered in the trio thread of a :class:`~._portal.Portal` of their own, and
call into it: one portal call per request. Any number of threads may call
:meth:`request` at once; their requests run side by side in the one trio
loop, so they share connections (and HTTP/2 streams of one connection) with
no lock on the sync side.

A response body is read in the trio thread by the request's own task, up to
``READ_AHEAD`` bytes ahead of the caller, into a queue the caller's thread
takes the chunks from: a small body costs no portal call at all, and a large
one streams with bounded memory (the caller says how much it took, once per
half window). Reading it to the end, or an error, closes the async body in
the trio thread, returning its connection. A body whose ``Content-Length``
fits in that window is read to its end before the response is handed over:
the caller is woken once per request, not once for the head and again for
the body (a body error still surfaces when the body is iterated).

The client layer's blocking ``Client`` reaches the async transport of a
facade it is given through ``facade._portal`` and ``facade._async_transport``.
"""

from __future__ import annotations

import inspect
import ssl
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import suppress
from functools import partial
from typing import TYPE_CHECKING, Generic, TypeVar

import outcome
import trio

from .._http import AsyncHTTPTransport, SyncHTTPTransport, SyncResponse
from .._streams import AsyncByteStream, SyncByteStream, as_async_stream
from .._transport import AsyncConnectionPool, PoolStatistics, check_backend
from .._types import URL4, Extensions, RawHeaders
from ._once import OpenOnce
from ._portal import CallStatus, Parker, Portal, PortalClosed

if TYPE_CHECKING:
    from typing_extensions import Self

AsyncTransportT = TypeVar("AsyncTransportT", bound=AsyncHTTPTransport)

READ_AHEAD = 256 * 1024
"""How many bytes of a response body are read ahead of the caller, at most (plus one chunk)."""


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
        status, response_headers, body, response_ext = portal.start_task(
            self._request_task, method, url, headers, as_async_stream(stream), ext, discard=_discard
        )
        return status, response_headers, _PortalByteStream(portal, body), response_ext

    async def _request_task(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders | None,
        stream: AsyncByteStream | None,
        ext: Extensions | None,
        *,
        task_status: CallStatus[tuple[int, RawHeaders, _BodyReader, Extensions]],
    ) -> None:
        """In the trio thread: the request and the reading of its body (one task per
        request, no second one to spawn; the call's cancel scope stops it)."""
        response = await self._async_transport.arequest(method, url, headers, stream, ext)
        status, response_headers, response_stream, response_ext = response
        body = _BodyReader(self._portal, response_stream, task_status.cancel_scope)
        await body.run(
            partial(task_status.started, (status, response_headers, body, response_ext)),
            at_once=not _fits_read_ahead(response_headers),
        )

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
    is below ``READ_AHEAD`` comes back with its body read (its connection
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


# -- Bodies across the portal.


def _fits_read_ahead(headers: RawHeaders) -> bool:
    """Whether the response declares a body shorter than ``READ_AHEAD`` bytes (RFC 9110
    section 8.6; a malformed value, or several, count as no declaration).

    The declared length only decides when the response is handed over: the async
    body still says where it ends (none for a HEAD, a 204 or a 304).
    """
    lengths = [value for name, value in headers if name.lower() == b"content-length"]
    return len(lengths) == 1 and lengths[0].isdigit() and int(lengths[0]) < READ_AHEAD


async def _discard(response: tuple[int, RawHeaders, _BodyReader, Extensions]) -> None:
    """A response whose caller was interrupted: stop reading it (which closes it)."""
    response[2].scope.cancel()


class _End:
    """The last item of a body's queue: how the reading ended (``Value(None)`` or an error)."""

    __slots__ = ("outcome",)

    def __init__(self, result: outcome.Outcome[None]) -> None:
        self.outcome = result


class _BodyReader:
    """Reads one response body in the trio thread into ``items``, ``READ_AHEAD`` bytes ahead.

    :meth:`run` runs in the request's task, in the portal, under ``scope`` (the
    portal call's: cancelling it stops the reading). It always ends by closing the
    async body (normally at its end; forcefully on an error or when ``scope`` is
    cancelled) and then putting an :class:`_End` in ``items``, so a caller
    that sees ``_End`` knows the connection was released.

    ``items`` is a deque: appending and popping are atomic, take no lock
    (nothing for ``__del__`` to re-enter) and never block. A caller that found
    it empty sets ``waiter`` to its parker, looks once more, then parks; each
    put wakes the waiter, at the end of the trio thread's batch (several
    chunks read in one batch cost one wake-up).
    """

    def __init__(self, portal: Portal, stream: AsyncByteStream, scope: trio.CancelScope) -> None:
        self.portal = portal
        self.stream = stream
        self.scope = scope
        self.items: deque[bytes | _End] = deque()
        self.waiter: Parker | None = None
        # Trio-thread state: bytes put but not yet acknowledged, and a wait for more room.
        self._unacknowledged = 0
        self._room: trio.Event | None = None

    async def run(self, hand_over: Callable[[], object], *, at_once: bool) -> None:
        """Read the body; ``hand_over()`` gives the response to the caller.

        That is at once, or else (a body declared to fit in the window) once the
        body was read to its end, or failed, or filled the window (a body longer than
        declared: the caller must take some for the reading to go on). Not at all
        if the portal closes first: the call then ends with that.
        """
        if at_once:
            hand_over()
        handed_over = at_once
        end: outcome.Outcome[None] = outcome.Value(None)
        closed = False
        # The iterator is taken once, here (``async for`` would call ``__aiter__`` on it
        # again), to be closed below if it is an async generator left suspended.
        chunks = self.stream.__aiter__()
        try:
            while True:
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    break
                self._put(chunk)
                self._unacknowledged += len(chunk)
                while self._unacknowledged >= READ_AHEAD:
                    if not handed_over:
                        hand_over()
                        handed_over = True
                    self._room = trio.Event()
                    await self._room.wait()
            await self.stream.aclose()
            closed = True
        except trio.Cancelled:
            # ``scope`` was cancelled (the caller closed the body, or gave up on it: the
            # end is for nobody), or the portal is closing (for a caller still reading).
            end = outcome.Error(PortalClosed("the transport was closed while reading the body"))
            raise
        except Exception as exc:
            end = outcome.Error(exc)
        finally:
            # Put _End even if the forced close is cancelled again (portal closing).
            try:
                if not closed:
                    with trio.CancelScope() as forced, suppress(Exception):
                        # Abandoned mid-body: close at once (an HTTP/1.1 connection in an
                        # unknown state is dropped); a failure here leaves nothing to do.
                        forced.cancel()
                        if inspect.isasyncgen(chunks):
                            # A body that is an async generator, left suspended: finish
                            # it here, not in the garbage collector (trio warns there).
                            await chunks.aclose()
                        await self.stream.aclose()
            finally:
                self._put(_End(end))
        if not handed_over:
            hand_over()

    def _put(self, item: bytes | _End) -> None:
        self.items.append(item)
        waiter, self.waiter = self.waiter, None
        if waiter is not None:
            self.portal.wake(waiter)

    def take(self) -> bytes | _End:
        """In the caller's thread: the next item, waiting for it (a signal handler's
        exception, such as ``KeyboardInterrupt``, ends the wait)."""
        items = self.items
        while True:
            if items:
                return items.popleft()
            self.waiter = Parker.current()
            # Looked at again after setting the waiter: an item put in between woke nobody.
            if not items:
                self.waiter.park()

    def acknowledge(self, taken: int) -> None:
        """In the trio thread: the caller took ``taken`` more bytes; read on if there is room."""
        self._unacknowledged -= taken
        if self._room is not None and self._unacknowledged < READ_AHEAD:
            self._room.set()


class _PortalByteStream(SyncByteStream):
    """A response body read in the trio thread (by a :class:`_BodyReader`), taken from here.

    It holds its connection until read to the end or closed. One dropped
    while neither warns (``ResourceWarning``) and has its reading stopped,
    which closes it: scheduled on the trio thread without a lock or a wait,
    since ``__del__`` may run in any thread, at any point, even inside the
    pool's own code.
    """

    def __init__(self, portal: Portal, body: _BodyReader) -> None:
        self._portal = portal
        self._body = body
        self._ended = False  # the caller took the _End, or gave up: the body is closed
        self._taken = 0  # bytes taken and not yet acknowledged to the reader

    def __iter__(self) -> Iterator[bytes]:
        while not self._ended:
            item = self._take()
            if isinstance(item, _End):
                self._ended = True
                item.outcome.unwrap()  # the error that ended the body, as it was raised
                return
            yield item

    def _take(self) -> bytes | _End:
        # No acknowledgement is due before waiting: the reader waits for room only
        # with READ_AHEAD bytes unacknowledged, and we acknowledge every half of
        # that, so it never waits while the queue is empty.
        try:
            item = self._body.take()
        except BaseException:
            # Interrupted (Ctrl-C): stop the reading, which closes the body, then go.
            self._stop()
            raise
        self._count(item)
        return item

    def _count(self, item: bytes | _End) -> None:
        """Acknowledge what we took to the reader, once per half window (not per chunk)."""
        if isinstance(item, bytes):
            self._taken += len(item)
            if self._taken >= READ_AHEAD // 2:
                taken, self._taken = self._taken, 0
                self._portal.call_soon(self._body.acknowledge, taken)

    def _stop(self) -> None:
        """Stop the reader and wait until it closed the body."""
        self._ended = True
        self._portal.call_soon(self._body.scope.cancel)
        while not isinstance(self._body.take(), _End):
            pass

    def close(self) -> None:
        """Release the body's connection; what was not read is dropped (errors included)."""
        if not self._ended:
            self._stop()

    def __del__(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._portal.call_soon(self._body.scope.cancel)
        warnings.warn(
            "a response stream was garbage-collected without being read to the end or "
            "closed: close it (`stream.close()`) to free its connection promptly",
            ResourceWarning,
            source=self,
            stacklevel=1,
        )
