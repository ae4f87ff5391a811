"""Our side of one HTTP/3 request stream: the events routed to it, in order, and its state.

The connection's serve task appends events and ends the stream, with a failure
when it ends early; the request's task takes them. No I/O: the same pattern as
the HTTP/2 connection's streams (a deque and a parking lot).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import NoReturn

import trio
from aioquic.h3 import events as h3_events

from .._exceptions import TransportError


@dataclass(frozen=True)
class Failure:
    """Why a stream ended without a complete response."""

    error: type[TransportError]
    message: str
    cause: BaseException | None = None
    # The server did not process the stream (RFC 9114 section 5.2), so it may be sent again.
    unprocessed: bool = False

    def raise_error(self) -> NoReturn:
        raise self.error(self.message) from self.cause


class Stream:
    """Our side of one request stream: the events routed to it, in order, and its state.

    The serve task appends to ``events``; the request's task takes them,
    parked in ``arrival`` while there are none (the HTTP/2 connection's
    pattern). ``delivered`` counts the stream's bytes aioquic handed over and
    ``unread`` the body bytes routed but not yet read: their difference is how
    far the reader consumed the stream, the base of its receive credit.
    """

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id
        self.events: deque[h3_events.H3Event] = deque()
        self.arrival = trio.lowlevel.ParkingLot()
        self.ended = False
        self.failure: Failure | None = None
        self.local_ended = False
        self.remote_ended = False
        self.stopped = False  # the server sent STOP_SENDING: no more of the body
        self.reset = False
        self.delivered = 0
        self.unread = 0
        self.drained = trio.Event()  # set when the send buffer may have room

    @property
    def closed(self) -> bool:
        return self.reset or (self.local_ended and self.remote_ended)

    def deliver(self, event: h3_events.H3Event) -> None:
        self.events.append(event)
        self.arrival.unpark_all()

    def end(self) -> None:
        self.ended = True
        self.arrival.unpark_all()
        self.drained.set()

    def fail(self, failure: Failure) -> None:
        if self.failure is None and not self.remote_ended:
            self.failure = failure
        self.end()
