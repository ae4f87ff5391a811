"""The body of one HTTP/1.1 response, read through its connection's h11 state machine.

The body holds its connection until read to the end or closed: read to the end (or closed with
the rest already here) the connection goes back to the pool; closed early, or broken, it is
closed. Each read is bounded by the read timeout alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import h11
import trio

from .._exceptions import ReadError
from .._http import ConnectionBoundStream
from ._h11compat import body_room, take_held_body
from ._state import ConnectionState
from ._timeouts import UNBOUNDED, Timeouts

if TYPE_CHECKING:
    from typing_extensions import Self

    from .._http import Tracer


class BodySource(Protocol):
    """What a body reads through: the parts of its HTTP/1.1 connection it uses.

    ``HTTP11Connection`` is the one implementation; naming
    it here would make the body and the connection import each other.
    """

    _origin: str
    _state: ConnectionState
    _h11: h11.Connection

    def close_now(self) -> None: ...

    def _held_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]: ...

    def _next_buffered_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]: ...

    async def _receive_body(
        self, timeouts: Timeouts | None
    ) -> bytes | h11.Event | type[h11.PAUSED]: ...

    def _response_complete(self) -> None: ...


class HTTP11ResponseStream(ConnectionBoundStream):
    """The body of one HTTP/1.1 response; holds its connection until read or closed."""

    def __init__(
        self, connection: BodySource, timeouts: Timeouts | None, trace: Tracer | None
    ) -> None:
        super().__init__(connection._origin)
        self._connection = connection
        self._timeouts = timeouts
        self._trace = trace

    def _abandon(self) -> None:
        self._connection.close_now()

    def _holds_connection(self) -> bool:
        return self._connection._state is ConnectionState.BUSY

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        connection = self._connection
        if connection._state is not ConnectionState.BUSY:
            self._done = True
            raise ReadError(f"the connection to {connection._origin} was closed")
        try:
            # What h11 already holds needs no coroutine (a small body, and the
            # end of most bodies, come with the read before); held body bytes
            # of a Content-Length body need no event either. In the middle of
            # a large body h11 holds nothing: no need to ask it.
            event: bytes | h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED] | None
            state = connection._h11
            if body_room(state):
                event = h11.NEED_DATA
            else:
                event = take_held_body(state)
                if event is None:
                    event = connection._held_event()
            if event is h11.NEED_DATA:
                timeouts = self._timeouts
                scope = UNBOUNDED if timeouts is None else timeouts.reading()
                with scope:
                    event = await connection._receive_body(timeouts)
                if scope.cancelled_caught:
                    assert timeouts is not None
                    timeouts.expired(connection._origin)
        except BaseException:
            self._done = True
            connection.close_now()
            raise
        if type(event) is bytes:
            return event
        if isinstance(event, h11.Data):
            return bytes(event.data)
        # EndOfMessage; a close-delimited body ends with it too (h11 turns the
        # EOF into EndOfMessage, then ConnectionClosed).
        self._done = True
        connection._response_complete()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Release the connection: kept if the rest of the body is already here, else closed."""
        if self._trace is not None:
            trace, self._trace = self._trace, None  # reported once
            await trace("response_closed.started")
            await self.aclose()
            await trace("response_closed.complete")
            return
        if self._done:
            await trio.lowlevel.checkpoint()
            return
        self._done = True
        connection = self._connection
        if connection._state is ConnectionState.BUSY:
            while True:
                event = connection._next_buffered_event()
                if isinstance(event, h11.EndOfMessage):
                    connection._response_complete()
                    break
                if not isinstance(event, h11.Data):
                    connection.close_now()
                    break
        await trio.lowlevel.checkpoint()
