"""One multiplexed stream's events as its request's task sees them (HTTP/2 and HTTP/3 alike).

The connection's reader appends each event routed to the stream and wakes whoever waits; the
request's task takes them in order, then the stream's :class:`StreamFailure` if it ended
without a complete response. Nothing here does I/O but the wait for the next event.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic, NoReturn, TypeVar

import trio

from .._exceptions import READ_ERRORS, ReadError, TransportError, map_exceptions
from .._types import fail_after

EventT = TypeVar("EventT")


@dataclass(frozen=True)
class StreamFailure:
    """Why a stream ended without a complete response."""

    error: type[TransportError]
    message: str
    cause: BaseException | None = None
    # The server did not process the stream (RFC 9113 section 8.7, RFC 9114
    # section 5.2), so it may be sent again.
    unprocessed: bool = False
    # Unprocessed because a GOAWAY ended the connection (not a refusal of its own).
    by_goaway: bool = False

    @classmethod
    def repeating(cls, exc: TransportError) -> StreamFailure:
        """The failure of every stream a connection-wide ``exc`` ends: same type, message, cause."""
        return cls(type(exc), str(exc), exc.__cause__)

    def raise_error(self) -> NoReturn:
        raise self.error(self.message) from self.cause


class StreamEvents(Generic[EventT]):
    """Our side of one request stream: its events in order, its state on the wire, its failure.

    The reader appends to ``events``; the request's task takes them in order,
    parked in ``arrival`` while there are none. The stream has ``ended`` once
    its last event is in (the peer's end of stream routed), or with a failure,
    recorded in ``failure``: the reading side raises it once it has taken
    everything that arrived before. A deque and a parking lot, not a memory
    channel: nothing is ever refused or waited for on the sending side, so a
    channel's machinery (and its cost on every request) buys nothing.
    """

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id
        self.events: deque[EventT] = deque()
        self.arrival = trio.lowlevel.ParkingLot()
        self.ended = False  # no event will be added any more
        self.failure: StreamFailure | None = None
        self.local_ended = False  # we sent our end of stream
        self.remote_ended = False  # the reader routed the peer's end of stream
        self.reset = False  # the stream was reset, by either side

    @property
    def closed(self) -> bool:
        """Whether the stream is closed on the wire (RFC 9113 section 5.1, "closed")."""
        return self.reset or (self.local_ended and self.remote_ended)

    def deliver(self, event: EventT) -> None:
        self.events.append(event)
        if self.arrival:
            self.arrival.unpark_all()

    def end(self) -> None:
        """No more events: whoever waits for one wakes, takes what is left, then sees the end."""
        self.ended = True
        if self.arrival:
            self.arrival.unpark_all()

    def fail(self, failure: StreamFailure) -> None:
        """End the stream with ``failure`` (the first one wins); wake whoever waits on it."""
        if self.failure is None and not self.remote_ended:
            self.failure = failure
        self.end()

    async def next_event(self, origin: str, timeout: float | None) -> EventT:
        """The next event, waiting up to ``timeout``; once none is left, the failure raised.

        A checkpoint whether or not an event is waiting, as a channel's
        ``receive`` is. The read timeout (and the exception mapping) is set up
        only to wait: mostly the event is already there.
        """
        if self.events or self.ended:
            await trio.lowlevel.checkpoint()
        while not self.events and not self.ended:
            with (
                map_exceptions(READ_ERRORS, origin, "reading the response from"),
                fail_after(timeout),
            ):
                await self.arrival.park()
        if self.events:
            return self.events.popleft()
        # The events end early only with a failure (after the end of stream
        # nobody reads), or when another task let the response go meanwhile.
        failure = self.failure or StreamFailure(
            ReadError, f"the response on stream {self.stream_id} was closed while being read"
        )
        failure.raise_error()
