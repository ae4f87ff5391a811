"""The read-ahead body bridge: the request's own task reads a response body in the portal's
trio thread, up to ``READ_AHEAD`` bytes ahead of the caller, who takes it from any thread as a
:class:`PortalByteStream` (a small body costs no portal call; a large one streams with bounded
memory). A body declared to fit in the window is read before the response is handed over, and
the end of the body, an error or the cancellation of the call's scope closes it in the trio
thread. The trio side keeps nothing that holds the caller's stream, whose ``__del__`` closes a
body its caller dropped.
"""

from __future__ import annotations

import inspect
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from functools import partial
from typing import TypeVar

import outcome
import trio

from .._streams import AsyncByteStream, SyncByteStream
from ._portal import CallStatus, Parker, Portal, PortalClosed

T = TypeVar("T")

READ_AHEAD = 256 * 1024
"""How many bytes of a response body are read ahead of the caller, at most (plus one chunk)."""


async def read_ahead(
    portal: Portal,
    task_status: CallStatus[tuple[T, BodyReader]],
    stream: AsyncByteStream,
    headers: Iterable[tuple[bytes, bytes]],
    value: T,
) -> None:
    """In a request's task in ``portal``: read ``stream`` (whose response has ``headers``), and
    hand ``(value, reader)`` over to the caller, who takes the body from
    ``PortalByteStream(portal, reader)``.

    The reading runs in this task, under the call's own cancel scope: no task
    to spawn, and cancelling the call (an interrupted caller, ``body.close()``)
    stops it; the call's ``discard`` is :func:`stop_reading`. Once handed over,
    ``value`` is not kept here: what holds the caller's stream must be free to
    be collected, for the stream's ``__del__`` to close a body its caller dropped.
    """
    reader = BodyReader(portal, stream, task_status.cancel_scope)
    reader.hand_over = partial(task_status.started, (value, reader))
    del value  # not kept by this frame either, while it reads
    await reader.run(at_once=not fits_read_ahead(headers))


async def stop_reading(handed_over: tuple[object, BodyReader | None]) -> None:
    """The ``discard`` of a :func:`read_ahead` call whose caller was interrupted once the
    response was handed over: stop the reading, and return once the body is closed."""
    reader = handed_over[1]
    if reader is not None:
        reader.scope.cancel()
        await reader.done.wait()


def fits_read_ahead(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether the response declares a body shorter than ``READ_AHEAD`` bytes (RFC 9110
    section 8.6; a malformed value, or several, count as no declaration).

    The declared length only decides when the response is handed over: the async
    body still says where it ends (none for a HEAD, a 204 or a 304).
    """
    lengths = [value for name, value in headers if name.lower() == b"content-length"]
    return len(lengths) == 1 and lengths[0].isdigit() and int(lengths[0]) < READ_AHEAD


class _End:
    """The last item of a body's queue: how the reading ended (``Value(None)`` or an error)."""

    __slots__ = ("outcome",)

    def __init__(self, result: outcome.Outcome[None]) -> None:
        self.outcome = result


class BodyReader:
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
        self.hand_over: Callable[[], object] | None = None
        """Gives the response to the caller: called once, then forgotten."""
        self.done = trio.Event()
        """Set once the body is closed and the :class:`_End` put."""
        # Trio-thread state: bytes put but not yet acknowledged, and a wait for more room.
        self._unacknowledged = 0
        self._room: trio.Event | None = None

    async def run(self, *, at_once: bool) -> None:
        """Read the body; :attr:`hand_over` gives the response to the caller.

        That is at once, or else (a body declared to fit in the window) once the
        body was read to its end, or failed, or filled the window (a body longer than
        declared: the caller must take some for the reading to go on). Not at all
        if the portal closes first: the call then ends with that.
        """
        if at_once:
            self._hand_over()
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
                    self._hand_over()
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
                self.done.set()
        self._hand_over()

    def _hand_over(self) -> None:
        hand_over, self.hand_over = self.hand_over, None
        if hand_over is not None:
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


class PortalByteStream(SyncByteStream):
    """A response body read in the trio thread (by a :class:`BodyReader`), taken from here.

    It holds its connection until read to the end or closed. One dropped
    while neither warns (``ResourceWarning``) and has its reading stopped,
    which closes it: scheduled on the trio thread without a lock or a wait,
    since ``__del__`` may run in any thread, at any point, even inside the
    pool's own code. Iterating or closing it inside a trio run raises
    ``RuntimeError``, as every blocking call does.
    """

    def __init__(self, portal: Portal, body: BodyReader) -> None:
        self._portal = portal
        self._body = body
        self._ended = False  # the caller took the _End, or gave up: the body is closed
        self._taken = 0  # bytes taken and not yet acknowledged to the reader

    def __iter__(self) -> Iterator[bytes]:
        self._portal.check_not_in_trio()  # waiting for a chunk there would stall that loop
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
            self._portal.check_not_in_trio()
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
