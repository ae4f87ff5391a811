"""Our side of one HTTP/3 request stream: the events routed to it, in order, and its state.

The connection's serve task appends events and ends the stream, with a failure
when it ends early; the request's task takes them. The queue and the failure
are the ones HTTP/2 uses too (``_http``'s ``StreamEvents``). No I/O.
"""

from __future__ import annotations

import trio
from aioquic.h3 import events as h3_events

from .._http import StreamEvents


class Stream(StreamEvents[h3_events.H3Event]):
    """Our side of one HTTP/3 request stream: its events, state and failure
    (:class:`StreamEvents`), and its receive credit.

    ``delivered`` counts the stream's bytes aioquic handed over and ``unread``
    the body bytes routed but not yet read: their difference is how far the
    reader consumed the stream, the base of its receive credit.
    """

    def __init__(self, stream_id: int) -> None:
        super().__init__(stream_id)
        self.stopped = False  # the server sent STOP_SENDING: no more of the body
        self.delivered = 0
        self.unread = 0
        self.drained = trio.Event()  # set when the send buffer may have room

    def end(self) -> None:
        super().end()
        self.drained.set()
