"""One HTTP/2 stream as its request's task and the reader see it: a queue of h2's events.

The reader appends each event for the stream and wakes whoever waits; the
request's task takes them in order, then the stream's :class:`Failure` if it
ended without a complete response. Nothing here does I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import NoReturn

import h2.events
import h2.exceptions
import trio

from .._exceptions import TransportError


class MalformedResponse(h2.events.Event):
    """Ours, not h2's: the response on ``stream_id`` is malformed and its stream was reset."""

    def __init__(self, stream_id: int, error: h2.exceptions.ProtocolError) -> None:
        self.stream_id = stream_id
        self.error = error


@dataclass(frozen=True)
class Failure:
    """Why a stream ended without a complete response."""

    error: type[TransportError]
    message: str
    cause: BaseException | None = None
    # The server did not process the stream (RFC 9113 section 8.7), so it may be sent again.
    unprocessed: bool = False
    # Unprocessed because a GOAWAY ended the connection (not a REFUSED_STREAM of its own).
    by_goaway: bool = False

    @classmethod
    def repeating(cls, exc: TransportError) -> Failure:
        """The failure of every stream a connection-wide ``exc`` ends: same type, message, cause."""
        return cls(type(exc), str(exc), exc.__cause__)

    def raise_error(self) -> NoReturn:
        raise self.error(self.message) from self.cause


class Stream:
    """Our side of one HTTP/2 stream (RFC 9113 section 5.1).

    The reader task appends h2's events for the stream to ``events``; the
    request's task takes them in order, parked in ``arrival`` while there are
    none. The stream ``ended`` once its last event is in (END_STREAM routed),
    or with a failure, recorded in ``failure``: the reading side raises it
    once it has taken everything that arrived before. A deque and a parking
    lot, not a memory channel: nothing is ever refused or waited for on the
    sending side, so a channel's machinery (and its cost on every request)
    buys nothing.
    """

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id
        self.events: deque[h2.events.Event] = deque()
        self.arrival = trio.lowlevel.ParkingLot()
        self.ended = False  # no event will be added any more
        # Set by the reader when the peer's windows may have grown; replaced by
        # the sender each time before it waits.
        self.window_open = trio.Event()
        self.local_ended = False  # we sent END_STREAM
        self.remote_ended = False  # the reader routed the peer's END_STREAM
        self.reset = False  # RST_STREAM sent or received
        self.failure: Failure | None = None

    @property
    def closed(self) -> bool:
        """Whether the stream is closed on the wire (RFC 9113 section 5.1, "closed")."""
        return self.reset or (self.local_ended and self.remote_ended)

    def deliver(self, event: h2.events.Event) -> None:
        self.events.append(event)
        if self.arrival:
            self.arrival.unpark_all()

    def end(self) -> None:
        """No more events: whoever waits for one wakes, takes what is left, then sees the end."""
        self.ended = True
        if self.arrival:
            self.arrival.unpark_all()

    def fail(self, failure: Failure) -> None:
        """End the stream with ``failure`` (the first one wins); wake whoever waits on it."""
        if self.failure is None and not self.remote_ended:
            self.failure = failure
        self.end()
        self.window_open.set()
