"""A request's read and write timeouts on HTTP/1.1: each bounds one wait, not the request, and
one cancel scope serves a whole stretch of I/O (its deadline moved before each wait), because a
scope per wait cost a sixth of a small request's instructions."""

from __future__ import annotations

import math
from typing import NoReturn

import trio

from .._exceptions import READ_ERRORS, WRITE_ERRORS, ExceptionMapping, map_exceptions
from .._types import Extensions, get_timeout


def raise_mapped(exc: Exception, mapping: ExceptionMapping, origin: str, doing: str) -> NoReturn:
    """Raise ``exc`` as ``map_exceptions(mapping, origin, doing)`` would have.

    The hot path (every send, every event read) enters no context manager:
    the mapping is applied only once something has gone wrong.
    """
    try:
        with map_exceptions(mapping, origin, doing):
            raise exc
    finally:
        del exc  # no cycle through this frame: the traceback holds it


# What a failure while sending, or while reading, is mapped with: the
# exception mapping and the words of the message.
SENDING = (WRITE_ERRORS, "sending the request to")
READING = (READ_ERRORS, "reading the response from")


class Unbounded:
    """What a request without timeouts runs its I/O in instead of a cancel scope: nothing."""

    cancelled_caught = False

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


UNBOUNDED = Unbounded()


class Timeouts:
    """A request's read and write timeouts, enforced with as few cancel scopes as possible.

    Each limit bounds one wait, not the request: the write timeout each send,
    the read timeout each wait for data (a response that trickles in, each
    piece within the read timeout, never times out). A stretch of I/O (the
    request and its response head; one read of the body) runs in one cancel
    scope, made by :meth:`sending` or :meth:`reading` with the limit of its
    first wait, counted from when it is entered; :meth:`arm_write` and
    :meth:`arm_read` move its deadline to the limit of each later wait as it
    begins. When the deadline passes, :meth:`expired` raises what the limit
    of the wait under way raises (``WriteTimeout`` or ``ReadTimeout``, from
    ``trio.TooSlowError``), as ``trio.fail_after`` around that wait would have.

    Why not a ``trio.fail_after`` per wait: entering and leaving a cancel
    scope (a cancel status, the deadline in trio's heap) costs about three
    times what moving the deadline of an entered one does (callgrind: 60k
    against 22k instructions); a scope per wait was a sixth of the
    instructions of a small keep-alive request. A request with
    neither timeout has no ``Timeouts`` (:meth:`of`) and enters no scope.
    """

    __slots__ = ("_armed", "_on_expiry", "_scope", "read", "write")

    # The scope of the stretch of I/O under way, from sending() or reading().
    _scope: trio.CancelScope

    def __init__(self, read: float | None, write: float | None) -> None:
        self.read = read
        self.write = write
        self._armed = False  # whether _scope has a deadline
        self._on_expiry = READING

    @classmethod
    def of(cls, ext: Extensions) -> Timeouts | None:
        """The read and write timeouts in ``ext["timeout"]``, or ``None`` if it sets neither."""
        read = get_timeout(ext, "read")
        write = get_timeout(ext, "write")
        if read is None and write is None:
            return None
        return cls(read, write)

    def sending(self) -> trio.CancelScope:
        """A new scope for I/O that begins with a send, armed for it; enter it at once."""
        self._on_expiry = SENDING
        return self._new_scope(self.write)

    def reading(self) -> trio.CancelScope:
        """A new scope for I/O that begins with a wait for data, armed for it; enter it at once."""
        self._on_expiry = READING
        return self._new_scope(self.read)

    def _new_scope(self, timeout: float | None) -> trio.CancelScope:
        self._armed = timeout is not None
        # A relative deadline starts counting when the scope is entered.
        self._scope = trio.CancelScope() if timeout is None else trio.move_on_after(timeout)
        return self._scope

    def arm_write(self) -> None:
        """Bound the send about to begin by the write timeout."""
        self._on_expiry = SENDING
        self._arm(self.write)

    def arm_read(self) -> None:
        """Bound the wait for data about to begin by the read timeout."""
        self._on_expiry = READING
        self._arm(self.read)

    def disarm(self) -> None:
        """No deadline of ours while other code runs (a request body's iterator)."""
        if self._armed:
            self._armed = False
            self._scope.deadline = math.inf

    def _arm(self, timeout: float | None) -> None:
        if timeout is None:
            self.disarm()
        else:
            self._armed = True
            self._scope.deadline = trio.current_time() + timeout

    def expired(self, origin: str) -> NoReturn:
        """Raise the timeout of the wait that was under way when the deadline passed."""
        mapping, doing = self._on_expiry
        raise_mapped(trio.TooSlowError(), mapping, origin, doing)
