"""The bookkeeping of one HTTP/2 connection (RFC 9113), without I/O: streams, routing, capacity.

:class:`H2State` owns h2's connection object: the driver feeds it h2's events
(:meth:`H2State.receive`) and calls its other methods as requests come and go;
each answers with the flags of what the driver must do (:data:`FREED`,
:data:`RELEASED`, :data:`CLOSED`). It never reads, writes or sleeps; a
malformed response fails its stream, a connection-level violation raises h2's
``ProtocolError`` with a GOAWAY queued (RFC 9113 section 5.4).
"""

from __future__ import annotations

import logging
import math
from contextlib import suppress
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hyperframe.frame
import trio
from h2.errors import ErrorCodes

from .._exceptions import RemoteProtocolError
from .._http import RetryOnNewConnection, StreamFailure
from .._types import URL4, RawHeaders
from . import _h2compat
from ._frames import FrameBuffer, Payload
from ._headers import ResponseFieldsChecker, request_headers
from ._hpack import CachingDecoder, CachingEncoder
from ._stream import MalformedResponse, Stream

# Our receive windows (RFC 9113 section 6.9). The default of 65,535 bytes caps
# a download at one window per round trip; megabytes do not. The connection's
# is four streams' worth, so a consumer that stops reading holds back only its
# own stream, not the others. h2 sends WINDOW_UPDATE once half a window is consumed.
STREAM_RECEIVE_WINDOW = 8 * 1024 * 1024
CONNECTION_RECEIVE_WINDOW = 4 * STREAM_RECEIVE_WINDOW

# The largest DATA frame we accept (RFC 9113 section 6.5.2, SETTINGS_MAX_FRAME_SIZE):
# fewer, larger frames cost less to parse than many 16 KiB ones.
MAX_INBOUND_FRAME_SIZE = 1024 * 1024

# The last client stream id there is (RFC 9113 section 5.1.1).
MAX_STREAM_ID = 2**31 - 1

# Fields dropped from received blocks are logged here, at DEBUG.
logger = logging.getLogger("trio_httpcore.http2")

# What the driver must do after a call: flags, or'ed together (0: nothing).
FREED = 1  # a stream or reservation ended: tell the pool; if idle, start the keep-alive clock
RELEASED = 2  # the peer's stream limit changed: tell the pool
CLOSED = 4  # the connection just closed: close the socket, tell the pool


def _error_name(code: ErrorCodes | int | None) -> str:
    return code.name if isinstance(code, ErrorCodes) else str(code)


class H2State:
    """One HTTP/2 connection's streams and capacity, over h2's connection object (``h2``).

    Capacity: up to the peer's SETTINGS_MAX_CONCURRENT_STREAMS streams at once
    (section 5.1.2), counting streams open on the wire and reservations not yet
    used. Until the peer's first SETTINGS frame arrives its limit is unknown:
    the first request goes at once, every other reservation is granted and
    waits for the SETTINGS (``settings_received``); one that then finds no
    stream free goes back to the pool (:class:`RetryOnNewConnection`).

    After a GOAWAY the streams already open may finish and no new one starts;
    once closed, every stream has failed and nothing more happens.
    """

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.streams: dict[int, Stream] = {}  # open on the wire
        # Outbound header blocks are neither normalised nor validated by h2:
        # every request passed the pool's check_request, and request_headers
        # builds a block that meets each rule h2 would check. Received blocks
        # are checked as they are routed (RFC 9113 section 8.2), so that a
        # malformed one fails its stream only (section 8.1.1).
        self.h2 = conn = _h2compat.new_connection(
            h2.config.H2Configuration(
                client_side=True,
                header_encoding=None,
                validate_inbound_headers=False,
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            ),
            self.streams,
        )
        conn.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_RECEIVE_WINDOW,
                h2.settings.SettingCodes.MAX_FRAME_SIZE: MAX_INBOUND_FRAME_SIZE,
            },
        )
        # A server-side setting (RFC 8441); some servers refuse to hear it from a client.
        del conn.local_settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL]
        # We stop new streams after a GOAWAY ourselves (draining), and let the
        # others finish (RFC 9113 section 6.8), which h2 would not.
        _h2compat.stay_open_after_goaway(conn)
        # h2 read this from the settings it was made with; ours replace them.
        conn.max_inbound_frame_size = MAX_INBOUND_FRAME_SIZE
        # The reader fills it, and calls h2 only once a frame is complete.
        # None: h2's own buffer, fed each read.
        self.incoming: FrameBuffer | None = None
        if _h2compat.FRAME_BUFFER:
            self.incoming = conn.incoming_buffer = FrameBuffer()
        self._checker = ResponseFieldsChecker()
        # Flags of events routed while h2 handled the frames (see _route_now).
        self._pending = 0
        if _h2compat.FRAME_HOOKS:
            _h2compat.hook_frames(conn, hyperframe.frame.DataFrame, self._data_frames)
            _h2compat.hook_frames(conn, hyperframe.frame.HeadersFrame, self._headers_frames)
            _h2compat.hook_frames(conn, hyperframe.frame.RstStreamFrame, self._rst_stream_frames)
        if _h2compat.HPACK_CACHES:
            conn.encoder = CachingEncoder()
            decoder = CachingDecoder()
            decoder.max_header_list_size = conn.decoder.max_header_list_size
            conn.decoder = decoder
        conn.initiate_connection()
        conn.increment_flow_control_window(
            CONNECTION_RECEIVE_WINDOW - conn.inbound_flow_control_window
        )

        self.reserved = 1  # the connection is made for a first request
        self.opened_any = False
        # A final response arrived: the connection made progress (see refusal_counts).
        self.answered_any = False
        self.settings_received = trio.Event()
        # The peer's SETTINGS_MAX_CONCURRENT_STREAMS once known; until then
        # reservations are not limited (see the class docstring).
        self.stream_limit: float = math.inf
        self.closed = False
        # Set by a GOAWAY: the streams already open may finish, no new one starts.
        self.goaway_failure: StreamFailure | None = None
        # Why the connection closed, once it has.
        self.close_failure: StreamFailure | None = None

    # -- h2's handling of received frames, hooked (_h2compat.hook_frames).

    def _route_now(self, result: tuple[list[Any], list[h2.events.Event]]) -> Any:
        """Route a stream frame's events as h2 makes them, not after the whole read.

        A frame later in the same read that breaks the connection then finds
        the responses before it complete and forgotten, so they stand (RFC
        9113 section 6.8: what was processed stays processed).
        """
        frames, events = result
        for event in events:
            self._pending |= self.route(event)
        return frames, []

    def _data_frames(self, receive: _h2compat.FrameHandler) -> _h2compat.FrameHandler:
        """h2's DATA handling, with a body that breaks its content-length a stream error.

        h2 raises it out of ``receive_data`` as a connection error; it is a
        stream error (RFC 9113 section 8.1.1), and h2 has no option for it.
        """

        def receive_data_frame(frame: hyperframe.frame.DataFrame) -> Any:
            try:
                result = receive(frame)
            except h2.exceptions.InvalidBodyLengthError as exc:
                # h2 counted the frame against both windows, and its stream
                # refused it before taking END_STREAM: the stream is still open.
                malformed = self.reset_malformed(frame.stream_id, exc)
                # Nobody will read the frame: the connection gets it back now.
                self.h2.acknowledge_received_data(frame.flow_controlled_length, frame.stream_id)
                result = [], [malformed]
            return self._route_now(result)

        return receive_data_frame

    def _headers_frames(self, receive: _h2compat.FrameHandler) -> _h2compat.FrameHandler:
        """h2's HEADERS handling, with an invalid or conflicting content-length a stream error.

        h2 refuses one as a connection error, after decoding the block and
        moving the stream's state; it is a stream error (RFC 9113 section 8.1.1).
        """

        def receive_headers_frame(frame: hyperframe.frame.HeadersFrame) -> Any:
            try:
                result = receive(frame)
            except h2.exceptions.ProtocolError as exc:
                if not (_h2compat.is_content_length_error(exc) and frame.stream_id in self.streams):
                    raise
                result = [], [self.reset_malformed(frame.stream_id, exc)]
            return self._route_now(result)

        return receive_headers_frame

    def _rst_stream_frames(self, receive: _h2compat.FrameHandler) -> _h2compat.FrameHandler:
        """h2's RST_STREAM handling, refusing one on an idle stream (RFC 9113 section 6.4).

        h2 ignores it; it is a connection error of type PROTOCOL_ERROR. Idle:
        an even id (the server opens none, push being off), or above every id we used.
        """

        def receive_rst_stream_frame(frame: hyperframe.frame.RstStreamFrame) -> Any:
            stream_id = frame.stream_id
            if not stream_id % 2 or stream_id > self.h2.highest_outbound_stream_id:
                raise h2.exceptions.ProtocolError(f"RST_STREAM on idle stream {stream_id}")
            return receive(frame)

        return receive_rst_stream_frame

    def reset_malformed(
        self, stream_id: int, error: h2.exceptions.ProtocolError
    ) -> MalformedResponse:
        """Reset a stream whose response is malformed; the event that fails it.

        RST_STREAM(PROTOCOL_ERROR) goes out with the reader's next write (RFC
        9113 section 8.1.1), unless the stream is closed already (its END_STREAM
        came with the malformed block, and ours went before). A DATA frame
        that broke its content-length is credited to the connection by the
        caller (h2 credits only the connection for a reset stream); data routed
        before is credited as it is read or released.
        """
        with suppress(h2.exceptions.StreamClosedError):
            self.h2.reset_stream(stream_id, ErrorCodes.PROTOCOL_ERROR)
        return MalformedResponse(stream_id, error)

    # -- Capacity.

    def try_reserve(self) -> bool:
        """Claim a stream for a request, if the peer's limit and the stream ids allow."""
        # Called for every waiting request whenever the pool dispatches: cheap tests first.
        if self.draining or len(self.streams) + self.reserved >= self.stream_limit:
            return False
        if self.h2.highest_outbound_stream_id + 2 * (self.reserved + 1) > MAX_STREAM_ID:
            return False  # stream ids ran out: the next request needs a new connection
        self.reserved += 1
        return True

    def unreserve(self) -> int:
        self.reserved -= 1
        return self.freed()

    @property
    def draining(self) -> bool:
        """Closed, or told by a GOAWAY to take no new stream: no more requests here."""
        return self.closed or self.goaway_failure is not None

    def is_idle(self) -> bool:
        return not self.streams and self.reserved == 0

    def freed(self) -> int:
        """A stream or reservation ended; after a GOAWAY, the last one closes the connection."""
        if self.goaway_failure is not None and self.is_idle():
            return self.close(self.goaway_failure) | FREED
        return FREED

    def forget(self, stream: Stream) -> int:
        """Stop routing to ``stream`` once it is closed on the wire; its slot is free again."""
        if stream.closed and self.streams.pop(stream.stream_id, None) is not None:
            _h2compat.drop_closed(self.h2, stream.stream_id)
            return self.freed()
        return 0

    def h2_open_streams(self) -> int:
        """How many of our streams h2 itself holds open (its own states, not our table)."""
        return _h2compat.h2_open_outbound_streams(self.h2)

    def close(self, failure: StreamFailure) -> int:
        """Closed from now on: every open stream ends with ``failure``."""
        if self.closed:
            return 0
        self.closed = True
        self.close_failure = failure
        for stream in self.streams.values():
            stream.reset = True  # nothing more goes over the wire for it
            stream.fail(failure)
        self.streams.clear()
        self.settings_received.set()  # reservations waiting for SETTINGS go elsewhere
        return CLOSED

    # -- Requests.

    def open_stream(
        self, method: bytes, url: URL4, headers: RawHeaders, end_stream: bool
    ) -> Stream:
        """Use a reservation to open a stream and queue its HEADERS.

        A request that finds the connection draining, or no stream free, is
        not sent: :class:`RetryOnNewConnection`. If this raises, the
        reservation is gone and the caller acts on :meth:`freed`.
        """
        self.reserved -= 1
        if self.draining or len(self.streams) >= self.stream_limit:
            raise RetryOnNewConnection(f"no stream free on the connection to {self.origin}")
        stream_id = self.h2.get_next_available_stream_id()
        block = request_headers(method, url, headers)
        self.h2.send_headers(stream_id, block, end_stream=end_stream)
        self.opened_any = True
        stream = Stream(stream_id)
        stream.local_ended = end_stream
        self.streams[stream_id] = stream
        return stream

    def send_window(self, stream: Stream) -> int:
        """Bytes the peer lets us send on ``stream`` now; 0 if it wants no more of the body."""
        if stream.failure is not None:
            stream.failure.raise_error()
        if stream.reset:
            # Reset without a failure: the complete response came first, so
            # the server wants no more of the body (RFC 9113 section 8.1).
            return 0
        return self.h2.local_flow_control_window(stream.stream_id)

    def queue_data(self, stream: Stream, data: memoryview) -> None:
        """Queue ``data`` (within the window) as DATA frames of the peer's maximum size."""
        frame_size = self.h2.max_outbound_frame_size
        for start in range(0, len(data), frame_size):
            self.h2.send_data(stream.stream_id, data[start : start + frame_size])

    def end_request(self, stream: Stream) -> int:
        """Queue END_STREAM after the request body."""
        self.h2.end_stream(stream.stream_id)
        stream.local_ended = True
        return self.forget(stream)

    def credit(self, stream_id: int, size: int) -> None:
        """Give back ``size`` bytes of receive window (h2 batches the WINDOW_UPDATEs)."""
        if size and not self.closed:
            self.h2.acknowledge_received_data(size, stream_id)

    def release_stream(self, stream: Stream) -> int:
        """Let go of ``stream``: reset, credited, forgotten.

        Queues RST_STREAM(CANCEL) if it is still open on the wire (RFC 9113
        section 8.7), credits the connection window for data that arrived
        unread, and forgets it: the connection and other streams go on. The
        queued frames go out with the next write on the connection.
        """
        unread = 0
        for event in stream.events:
            if isinstance(event, h2.events.DataReceived):
                unread += event.flow_controlled_length
        stream.events.clear()
        stream.end()
        if self.closed:
            return 0
        if not stream.closed:
            stream.reset = True
            self.h2.reset_stream(stream.stream_id, ErrorCodes.CANCEL)
        # After the reset h2 credits only the connection window, which is what we want.
        self.credit(stream.stream_id, unread)
        return self.forget(stream)

    # -- Routing h2's events.

    def receive(self, events: list[h2.events.Event]) -> int:
        """Route the events ``h2.receive_data`` returned; the flags of all routed since the last.

        A connection-level violation raises h2's ``ProtocolError`` with a
        GOAWAY(PROTOCOL_ERROR) queued (RFC 9113 section 5.4.1).
        """
        actions = self._pending
        self._pending = 0
        try:
            for event in events:
                actions |= self.route(event)
        except h2.exceptions.ProtocolError as exc:
            self.h2.close_connection(exc.error_code)
            raise
        return actions

    def route(self, event: h2.events.Event) -> int:
        """Give one of h2's events to the stream it is for, or act on it for the connection."""
        if isinstance(
            event,
            h2.events.DataReceived
            | h2.events.ResponseReceived
            | h2.events.InformationalResponseReceived
            | h2.events.TrailersReceived
            | h2.events.StreamEnded,
        ):
            stream_id = event.stream_id
            assert stream_id is not None
            stream = self.streams.get(stream_id)
            if stream is None:
                return self._not_routed(event, stream_id)
            if isinstance(event, h2.events.DataReceived):
                if isinstance(event.data, Payload):
                    self._deliver_pieces(stream, event, event.data)
                else:
                    stream.deliver(event)
            elif isinstance(event, h2.events.StreamEnded):
                stream.deliver(event)
                stream.remote_ended = True
                stream.end()
                stream.window_open.set()
                return self.forget(stream)
            else:
                return self._receive_fields(stream, event)
        elif isinstance(event, h2.events.StreamReset):
            return self._stream_reset(event)
        elif isinstance(event, MalformedResponse):
            return self._stream_malformed(event)
        elif isinstance(event, h2.events.WindowUpdated):
            if event.stream_id:
                sender = self.streams.get(event.stream_id)
                if sender is not None:
                    sender.window_open.set()
            else:
                self._wake_senders()
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            return self._settings_changed(event)
        elif isinstance(event, h2.events.ConnectionTerminated):
            return self._goaway(event)
        elif isinstance(event, h2.events.RequestReceived):
            raise h2.exceptions.ProtocolError(
                f"HEADERS on stream {event.stream_id}: a server opens no stream of its own"
            )
        # PING and SETTINGS were answered by h2 (the driver sends its answers
        # after routing); PRIORITY, ALTSVC and unknown frames need nothing from us.
        return 0

    def _not_routed(self, event: h2.events.Event, stream_id: int) -> int:
        """An event for a stream we forgot earlier in the same read (we reset it): dropped.

        h2 routes to us only streams it holds open, ours (odd ids) all; DATA
        that h2 counted against the connection window is credited back.
        """
        if isinstance(event, h2.events.DataReceived) and not self.closed:
            self.h2.acknowledge_received_data(event.flow_controlled_length, stream_id)
        return 0

    def _receive_fields(
        self,
        stream: Stream,
        event: h2.events.ResponseReceived
        | h2.events.InformationalResponseReceived
        | h2.events.TrailersReceived,
    ) -> int:
        """A response head or trailers: checked (RFC 9113 section 8.2), then delivered.

        A malformed block fails its stream only (section 8.1.1); connection-specific
        fields are dropped, and logged at DEBUG.
        """
        fields = event.headers or []
        try:
            kept = self._checker.check(
                fields, trailers=isinstance(event, h2.events.TrailersReceived)
            )
        except h2.exceptions.ProtocolError as exc:
            return self._stream_malformed(self.reset_malformed(stream.stream_id, exc))
        if kept is not None:
            event.headers = kept
            logger.debug(
                "dropped connection-specific fields (%s) of the response on stream %d from %s "
                "(RFC 9113 section 8.2.2)",
                ", ".join(
                    name.decode("ascii") for name, value in fields if (name, value) not in kept
                ),
                stream.stream_id,
                self.origin,
            )
        if isinstance(event, h2.events.ResponseReceived):
            self.answered_any = True
        stream.deliver(event)
        return 0

    def refusal_counts(self, failure: StreamFailure) -> bool:
        """Whether a stream refused here counts against the pool's replay budget.

        A GOAWAY on a connection that answered requests made progress: a server
        that ends each connection after some (node's ``session.goaway`` every N
        streams) refuses the rest, which are replayed freely. The budget bounds
        the refusals that make none: a GOAWAY before any answer, and every
        REFUSED_STREAM (a server may refuse one request while answering others).
        """
        return not (failure.by_goaway and self.answered_any)

    @staticmethod
    def _deliver_pieces(stream: Stream, event: h2.events.DataReceived, payload: Payload) -> None:
        """Deliver ``event`` as one DataReceived per piece of its payload.

        Each piece carries its own length of flow-control credit, the last one
        also what the frame counted beyond its data (padding): the consumer
        and :meth:`release_stream` credit exactly what the frame consumed.
        """
        *pieces, last = payload.pieces
        for piece in pieces:
            stream.deliver(
                h2.events.DataReceived(
                    stream_id=event.stream_id, data=piece, flow_controlled_length=len(piece)
                )
            )
        stream.deliver(
            h2.events.DataReceived(
                stream_id=event.stream_id,
                data=last,
                flow_controlled_length=len(last) + event.flow_controlled_length - len(payload),
                stream_ended=event.stream_ended,
            )
        )

    def _wake_senders(self) -> None:
        for stream in self.streams.values():
            stream.window_open.set()

    def _settings_changed(self, event: h2.events.RemoteSettingsChanged) -> int:
        """The peer's SETTINGS (RFC 9113 section 6.5): new stream limit, new windows."""
        self.settings_received.set()
        self.stream_limit = self.h2.remote_settings.max_concurrent_streams
        changed = event.changed_settings
        if h2.settings.SettingCodes.INITIAL_WINDOW_SIZE in changed:
            self._wake_senders()
        if h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS in changed:
            # The pool re-checks capacity only when told; more streams may be free.
            return RELEASED
        return 0

    def _stream_malformed(self, event: MalformedResponse) -> int:
        """The stream's response broke the rules of messages: it fails, no other does."""
        stream = self.streams.get(event.stream_id)
        if stream is None:
            return 0
        stream.reset = True
        stream.fail(
            StreamFailure(
                RemoteProtocolError,
                f"the response on stream {event.stream_id} from {self.origin} is malformed "
                f"({event.error}); the stream was reset",
                event.error,
            )
        )
        return self.forget(stream)

    def _stream_reset(self, event: h2.events.StreamReset) -> int:
        """RST_STREAM (RFC 9113 section 6.4): that stream fails, no other.

        REFUSED_STREAM means the server did not process it (section 8.7). A
        reset after the complete response (the server needed no more of the
        request body, section 8.1) ends only the sending.
        """
        stream = self.streams.get(event.stream_id)
        if stream is None:
            return 0
        stream.reset = True
        code = event.error_code
        why = "by the server" if event.remote_reset else "as the server broke the protocol on it"
        stream.fail(
            StreamFailure(
                RemoteProtocolError,
                f"stream {event.stream_id} to {self.origin} was reset {why} ({_error_name(code)})",
                unprocessed=code == ErrorCodes.REFUSED_STREAM,
            )
        )
        return self.forget(stream)

    def _goaway(self, event: h2.events.ConnectionTerminated) -> int:
        """GOAWAY (RFC 9113 section 6.8): no new stream; those already open may finish.

        Streams above ``last_stream_id`` were not processed: they fail as
        unprocessed, so their requests may go elsewhere. Streams at or below it
        "might still complete successfully" (nginx and Hypercorn end every
        connection this way after 1,000 requests): they go on, and fail only if
        the server closes first. The last stream to end closes the connection.
        """
        # We start no new stream on this connection (draining), and the driver
        # sends nothing more on it: the streams have what is left of their
        # receive windows (STREAM_RECEIVE_WINDOW) to finish in.
        last_stream_id = event.last_stream_id or 0
        name = _error_name(event.error_code)
        self.goaway_failure = StreamFailure(
            RemoteProtocolError,
            f"server {self.origin} sent GOAWAY ({name}, last stream {last_stream_id}) "
            "and closed the connection before the response was complete",
        )
        actions = 0
        for stream_id, stream in list(self.streams.items()):
            if stream_id > last_stream_id:
                stream.reset = True
                stream.fail(
                    StreamFailure(
                        RemoteProtocolError,
                        f"server {self.origin} sent GOAWAY ({name}, last stream "
                        f"{last_stream_id}) before processing stream {stream_id}",
                        unprocessed=True,
                        by_goaway=True,
                    )
                )
                actions |= self.forget(stream)
        if self.is_idle():
            actions |= self.close(self.goaway_failure)
        return actions
