"""One HTTP/2 stream as its request's task and the reader see it: a queue of h2's events.

The queue and the failure are the ones HTTP/3 uses too (``_http``'s
``StreamEvents``); an HTTP/2 stream adds the wait for the peer's windows, and
h2's event for a malformed response. Nothing here does I/O.
"""

from __future__ import annotations

import h2.events
import h2.exceptions
import trio

from .._http import StreamEvents, StreamFailure


class MalformedResponse(h2.events.Event):
    """Ours, not h2's: the response on ``stream_id`` is malformed and its stream was reset."""

    def __init__(self, stream_id: int, error: h2.exceptions.ProtocolError) -> None:
        self.stream_id = stream_id
        self.error = error


class Stream(StreamEvents[h2.events.Event]):
    """Our side of one HTTP/2 stream (RFC 9113 section 5.1): its events, state and failure
    (:class:`StreamEvents`), and the sender's wait for the peer's windows."""

    def __init__(self, stream_id: int) -> None:
        super().__init__(stream_id)
        # Set by the reader when the peer's windows may have grown; replaced by
        # the sender each time before it waits.
        self.window_open = trio.Event()

    def fail(self, failure: StreamFailure) -> None:
        super().fail(failure)
        self.window_open.set()
