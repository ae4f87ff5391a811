"""HTTP/2 over one stream (RFC 9113): many requests at once, each on its own stream.

One task reads the socket for the connection's whole life (:meth:`HTTP2Connection.serve`):
it feeds h2, and routes each stream's events (response head, data, trailers,
end, reset) to that stream's queue of events, where the request's own
task picks them up. It also answers PING and SETTINGS (h2 queues the answers,
the reader sends them), even while nobody reads a response.

Every write happens in one place, :meth:`HTTP2Connection._send_queued`, under
one ``trio.Lock``: h2 queues frames in order, the lock holder sends all of them.

Flow-control credit for received data is given back as the consumer of a
response *reads* it, so a slow consumer slows only its own stream; a request
body waits for send window, and the reader (never the waiting task itself)
wakes it when WINDOW_UPDATE or SETTINGS arrive.

Beside h2: the frame buffer (``_frames``), the HPACK caches
(``_hpack``) and the check of received header blocks (``_headers``).
"""

from __future__ import annotations

import math
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NoReturn

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hyperframe.frame
import trio
from h2.connection import ConnectionInputs, ConnectionState
from h2.errors import ErrorCodes
from hpack import NeverIndexedHeaderTuple

from .._exceptions import (
    READ_ERRORS,
    WRITE_ERRORS,
    LocalProtocolError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TransportError,
    map_exceptions,
)
from .._http import (
    READ_SIZE,
    AsyncResponse,
    ConnectionBoundStream,
    ConnectionListener,
    RetryOnNewConnection,
    authority,
    close_now,
    header_value,
)
from .._streams import AsyncByteStream, PlainByteStream, body_chunks
from .._types import URL4, Extensions, RawHeaders, fail_after, get_timeout
from ._frames import FrameBuffer, Payload
from ._headers import ResponseFieldsChecker
from ._hpack import CachingDecoder, CachingEncoder

if TYPE_CHECKING:
    from hpack.struct import Header
    from typing_extensions import Self

# Our receive windows (RFC 9113 section 6.9). The default of 65,535 bytes caps
# a download at one window per round trip; megabytes do not. The connection's
# is four streams' worth, so a consumer that stops reading holds back only its
# own stream, not the others. h2 sends WINDOW_UPDATE once half a window is consumed.
STREAM_RECEIVE_WINDOW = 8 * 1024 * 1024
CONNECTION_RECEIVE_WINDOW = 4 * STREAM_RECEIVE_WINDOW

# The largest DATA frame we accept (RFC 9113 section 6.5.2, SETTINGS_MAX_FRAME_SIZE):
# fewer, larger frames cost less to parse than many 16 KiB ones.
MAX_INBOUND_FRAME_SIZE = 1024 * 1024

# How much the reader asks the socket for: READ_SIZE, doubling up to this
# while reads come back full (a download), back to READ_SIZE after a short one.
MAX_READ_SIZE = 1024 * 1024

# A request body is queued in rounds of at most this many bytes, so that one
# write (which is never abandoned halfway, see _send) stays short.
MAX_WRITE_ROUND = 1024 * 1024

# How long a cancelled stream may spend getting its RST_STREAM out, and a
# closing connection its GOAWAY (RFC 9113 sections 6.4 and 6.8).
GOODBYE_GRACE = 1.0

# The last client stream id there is (RFC 9113 section 5.1.1).
MAX_STREAM_ID = 2**31 - 1

# Streams with these headers would be malformed (RFC 9113 section 8.2.2).
CONNECTION_SPECIFIC_HEADERS = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade", b"host"}
)

# Fields kept out of the HPACK dynamic table (RFC 7541 section 7.1.3), as
# h2's outbound normalisation marks them: credentials always, cookies below
# this length (short enough to guess from the compressed size).
NEVER_INDEXED_HEADERS = frozenset({b"authorization", b"proxy-authorization"})
NEVER_INDEXED_COOKIE_BELOW = 20


class _H2Connection(h2.connection.H2Connection):
    """h2's connection for a client that knows how many of its streams are open.

    h2 counts open streams with a scan of every stream it holds, on each new
    stream (``send_headers``), dropping closed ones as it goes: with 100
    streams in flight, 100 state look-ups per request. Here the count is the
    size of the :class:`HTTP2Connection`'s table of open streams, which never
    lets it exceed the peer's limit (RFC 9113 section 5.1.2), and the closed
    streams are dropped as that connection forgets them (:meth:`drop_closed`).
    """

    def __init__(self, config: h2.config.H2Configuration, open_streams: dict[int, Any]) -> None:
        super().__init__(config=config)
        self._open = open_streams

    @property
    def open_outbound_streams(self) -> int:
        return len(self._open)

    def drop_closed(self, stream_id: int) -> None:
        """Drop stream ``stream_id`` if it is closed, as h2's scan would have done.

        It is remembered among the closed streams (with who closed it), so
        that frames still arriving for it are treated as h2 treats them.
        """
        stream = self.streams.get(stream_id)
        if stream is not None and stream.closed:
            del self.streams[stream_id]
            self._closed_streams[stream_id] = stream.closed_by


class _MalformedResponse(h2.events.Event):
    """Ours, not h2's: the response on ``stream_id`` is malformed and its stream was reset."""

    def __init__(self, stream_id: int, error: h2.exceptions.ProtocolError) -> None:
        self.stream_id = stream_id
        self.error = error


@dataclass(frozen=True)
class _Failure:
    """Why a stream ended without a complete response."""

    error: type[TransportError]
    message: str
    cause: BaseException | None = None
    # The server did not process the stream (RFC 9113 section 8.7), so it may be sent again.
    unprocessed: bool = False

    @classmethod
    def repeating(cls, exc: TransportError) -> _Failure:
        """The failure of every stream a connection-wide ``exc`` ends: same type, message, cause."""
        return cls(type(exc), str(exc), exc.__cause__)

    def raise_error(self) -> NoReturn:
        raise self.error(self.message) from self.cause


class _Stream:
    """Our side of one HTTP/2 stream (RFC 9113 section 5.1).

    The reader task appends h2's events for the stream to ``events``; the
    request's task takes them in order (:meth:`HTTP2Connection._next_event`),
    parked in ``arrival`` while there are none. The stream ``ended`` once its
    last event is in (END_STREAM routed), or with a failure, recorded in
    ``failure``: the reading side raises it once it has taken everything that
    arrived before. A deque and a parking lot, not a memory channel: nothing
    is ever refused or waited for on the sending side, so a channel's
    machinery (and its cost on every request) buys nothing.
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
        self.failure: _Failure | None = None

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

    def fail(self, failure: _Failure) -> None:
        """End the stream with ``failure`` (the first one wins); wake whoever waits on it."""
        if self.failure is None and not self.remote_ended:
            self.failure = failure
        self.end()
        self.window_open.set()


class HTTP2Connection:
    """One HTTP/2 connection to one origin (RFC 9113).

    Capacity: up to the peer's SETTINGS_MAX_CONCURRENT_STREAMS streams at once
    (section 5.1.2), counting streams open on the wire and reservations not yet
    used. Until the peer's first SETTINGS frame arrives its limit is unknown:
    the first request goes at once, every other reservation is granted and
    waits for the SETTINGS; one that then finds no stream free is handed back
    to the pool (:class:`RetryOnNewConnection`), so nothing ever exceeds the
    limit and nothing waits on a connection that cannot serve it.

    After a GOAWAY, an I/O error, end of file or :meth:`close_now` the
    connection takes no more requests and closes; the listener hears
    ``closed()`` once.
    """

    http_version = "HTTP/2"

    def __init__(
        self,
        stream: trio.abc.Stream,
        origin: str,
        listener: ConnectionListener,
        keepalive_expiry: float | None = None,
    ) -> None:
        self._stream = stream
        self._origin = origin
        self._listener = listener
        self._keepalive_expiry = keepalive_expiry
        # Outbound header blocks are neither normalised nor validated by h2:
        # every request passed the pool's check_request, and request_headers
        # builds a block that meets each rule h2 would check (see there).
        # Received blocks are checked by ResponseFieldsChecker instead of h2
        # (RFC 9113 section 8.2), in this connection's HEADERS dispatch below.
        self._streams: dict[int, _Stream] = {}  # open on the wire
        self._h2 = _H2Connection(
            h2.config.H2Configuration(
                client_side=True,
                header_encoding=None,
                validate_inbound_headers=False,
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            ),
            self._streams,
        )
        self._h2.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_RECEIVE_WINDOW,
                h2.settings.SettingCodes.MAX_FRAME_SIZE: MAX_INBOUND_FRAME_SIZE,
            },
        )
        # A server-side setting (RFC 8441); some servers refuse to hear it from a client.
        del self._h2.local_settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL]
        # h2 closes its state machine when it receives GOAWAY and then refuses
        # every frame, even for the streams RFC 9113 section 6.8 lets finish; a
        # frame in the same read as the GOAWAY would lose the GOAWAY's event
        # too. This connection's machine stays open instead: _goaway stops new
        # streams itself.
        machine = self._h2.state_machine
        machine._transitions = {
            **machine._transitions,
            (ConnectionState.CLIENT_OPEN, ConnectionInputs.RECV_GOAWAY): (
                None,
                ConnectionState.CLIENT_OPEN,
            ),
        }
        # h2 read this from the settings it was made with; ours replace them.
        self._h2.max_inbound_frame_size = MAX_INBOUND_FRAME_SIZE
        # The reader fills it, and calls h2 only once a frame is complete.
        self._incoming = self._h2.incoming_buffer = FrameBuffer()
        # h2 raises a DATA frame's disagreement with the content-length out of
        # receive_data, as a connection error; it is a stream error (RFC 9113
        # section 8.1.1). h2 has no option for it: this connection's own
        # dispatch table (h2-internal, like the state machine's transitions
        # above) resets only that stream.
        receive_data_frame = self._h2._frame_dispatch_table[hyperframe.frame.DataFrame]

        def receive_data_frame_or_reset(frame: hyperframe.frame.DataFrame) -> Any:
            try:
                return receive_data_frame(frame)
            except h2.exceptions.InvalidBodyLengthError as exc:
                return [], [self._reset_malformed(frame, exc)]

        self._h2._frame_dispatch_table[hyperframe.frame.DataFrame] = receive_data_frame_or_reset
        # h2's own check of a received header block is off (above): each block
        # h2 turned into an event is checked here, where h2 would have, last
        # thing in the frame's handling. A malformed one raises h2's
        # ProtocolError out of receive_data, and h2 ends the connection as
        # its own check would have made it.
        receive_headers_frame = self._h2._frame_dispatch_table[hyperframe.frame.HeadersFrame]
        checker = ResponseFieldsChecker()

        def receive_headers_frame_checked(frame: hyperframe.frame.HeadersFrame) -> Any:
            frames, events = receive_headers_frame(frame)
            for event in events:
                if isinstance(
                    event, h2.events.ResponseReceived | h2.events.InformationalResponseReceived
                ):
                    checker.check(event.headers or [], trailers=False)
                elif isinstance(event, h2.events.TrailersReceived):
                    checker.check(event.headers or [], trailers=True)
            return frames, events

        self._h2._frame_dispatch_table[hyperframe.frame.HeadersFrame] = (
            receive_headers_frame_checked
        )
        self._h2.encoder = CachingEncoder()
        decoder = CachingDecoder()
        decoder.max_header_list_size = self._h2.decoder.max_header_list_size
        self._h2.decoder = decoder
        self._h2.initiate_connection()
        self._h2.increment_flow_control_window(
            CONNECTION_RECEIVE_WINDOW - self._h2.inbound_flow_control_window
        )
        self._write_lock = trio.Lock()

        self._reserved = 1  # the connection is made for a first request
        self._opened_any = False
        self._settings_received = trio.Event()
        # The peer's SETTINGS_MAX_CONCURRENT_STREAMS once known; until then
        # reservations are not limited (see the class docstring).
        self._stream_limit: float = math.inf
        self._closed = False
        # Set by a GOAWAY: the streams already open may finish, no new one starts.
        self._goaway_failure: _Failure | None = None
        # The reader runs under this scope; its deadline is the keep-alive expiry
        # while the connection is idle, and infinite while it is not.
        self._reader_scope = trio.CancelScope()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._streams)} streams"
        return f"<HTTP2Connection {self._origin} {state}>"

    # -- Capacity, as the pool sees it.

    def try_reserve(self) -> bool:
        # Called for every waiting request whenever the pool dispatches: cheap tests first.
        if self._draining or len(self._streams) + self._reserved >= self._stream_limit:
            return False
        if self._h2.highest_outbound_stream_id + 2 * (self._reserved + 1) > MAX_STREAM_ID:
            return False  # stream ids ran out: the next request needs a new connection
        if self._reader_scope.cancel_called:
            # The keep-alive deadline fired: the reader is closing the
            # connection; refuse rather than race it.
            return False
        self._reserved += 1
        # Setting a deadline costs trio more than reading it: only when the
        # keep-alive clock is running (the connection was idle).
        if self._reader_scope.deadline != math.inf:
            self._reader_scope.deadline = math.inf
        return True

    def unreserve(self) -> None:
        self._reserved -= 1
        self._capacity_freed()

    @property
    def _draining(self) -> bool:
        """Closed, or told by a GOAWAY to take no new stream: no more requests here."""
        return self._closed or self._goaway_failure is not None

    def is_idle(self) -> bool:
        return not self._streams and self._reserved == 0

    def open_streams(self) -> int:
        return len(self._streams)

    def _capacity_freed(self) -> None:
        """A stream or reservation ended: start the keep-alive clock if idle; tell the pool.

        After a GOAWAY, the last stream to end closes the connection.
        """
        if self._goaway_failure is not None and self.is_idle():
            self._close(self._goaway_failure)
        if self.is_idle() and self._keepalive_expiry is not None:
            self._reader_scope.deadline = trio.current_time() + self._keepalive_expiry
        if not self._closed:
            self._listener.released()

    def _forget(self, stream: _Stream) -> None:
        """Stop routing to ``stream`` once it is closed on the wire; its slot is free again."""
        if stream.closed and self._streams.pop(stream.stream_id, None) is not None:
            self._h2.drop_closed(stream.stream_id)
            self._capacity_freed()

    # -- Closing.

    def close_now(self) -> None:
        self._close(_Failure(ReadError, f"the connection to {self._origin} was closed"))

    def _close(self, failure: _Failure) -> None:
        """Close at once: every open stream ends with ``failure``; the listener hears of it."""
        if self._closed:
            return
        self._closed = True
        for stream in self._streams.values():
            stream.reset = True  # nothing more goes over the wire for it
            stream.fail(failure)
        self._streams.clear()
        self._settings_received.set()  # reservations waiting for SETTINGS go elsewhere
        self._reader_scope.cancel()
        close_now(self._stream)
        self._listener.closed()

    # -- Writing: the one place that does.

    async def _send(self, timeout: float | None) -> None:
        """Send every frame h2 has queued, in order, under the write lock.

        A write is never abandoned halfway: a partial frame would corrupt every
        stream on the connection, so once started it runs shielded from
        cancellation (bounded by ``timeout`` and by the connection closing).
        The holder loops until h2's queue is empty, so frames queued by others
        meanwhile (the reader's PING and SETTINGS answers among them) go too.
        """
        async with self._write_lock:
            await self._send_queued(timeout)

    async def _send_unless_sending(self, timeout: float | None) -> None:
        """:meth:`_send`, or nothing but a checkpoint if another task holds the write lock.

        The holder sends all that h2 has queued before letting go, frames
        queued while it writes included (:meth:`_send_queued` loops until the
        queue is empty): a request's HEADERS go out with its write. Waiting
        for the lock would only find them gone, after parking and waking the
        task (with 100 streams in flight, the lock is mostly held). A failed
        write closes the connection, and each stream learns of it from its
        failure when it reads.
        """
        if self._write_lock.locked():
            await trio.lowlevel.checkpoint()
        else:
            await self._send(timeout)

    async def _send_queued(self, timeout: float | None, data: bytes = b"") -> None:
        """Send ``data`` (taken from h2 by the caller, who holds the lock), then all h2 queued."""
        if self._goaway_failure is not None:
            # After its GOAWAY a server built on h2 (Hypercorn) treats any frame
            # we send, even a WINDOW_UPDATE, as a protocol error: say nothing more.
            self._h2.clear_outbound_data_buffer()
            await trio.lowlevel.checkpoint()
            return
        with trio.CancelScope(shield=True):
            # Once closed, nothing more is sent; each stream learns why from its failure.
            while not self._closed and (data or (data := self._h2.data_to_send())):
                try:
                    with (
                        map_exceptions(WRITE_ERRORS, self._origin, "sending to"),
                        fail_after(timeout),
                    ):
                        await self._stream.send_all(data)
                except TransportError as exc:
                    self._close(_Failure.repeating(exc))
                    raise
                data = b""

    async def _send_pending(self) -> None:
        """Send what h2 has queued, if anything, unless a writer is at it already.

        For the reader after each read (PING and SETTINGS answers, credit for
        DATA on closed streams) and for a response's consumer after each chunk
        (the WINDOW_UPDATE h2 queues once half a window is consumed). Mostly
        there is nothing: then this neither takes the lock nor yields (both
        callers have just passed a checkpoint). A holder of the lock sends all
        that is queued before letting go, so the reader never waits on a writer:
        it keeps reading (and the writer's WINDOW_UPDATEs keep arriving)
        however long a write takes.
        """
        if self._write_lock.locked() or self._closed:
            return
        data = self._h2.data_to_send()
        if data:
            # Taken without waiting (it is free), so no cancellation can come
            # between taking the bytes from h2 and starting to send them.
            self._write_lock.acquire_nowait()
            try:
                await self._send_queued(None, data)
            finally:
                self._write_lock.release()

    async def _send_goodbye(self) -> None:
        """Send what h2 queued last (RST_STREAM, GOAWAY) within a short grace, errors ignored.

        The whole wait, for the lock too, is bounded: if it runs out, the
        frames stay queued for whoever writes next.
        """
        # A failed write closed the connection itself: nothing left to say goodbye on.
        with (
            trio.CancelScope(shield=True, deadline=trio.current_time() + GOODBYE_GRACE),
            suppress(TransportError),
        ):
            await self._send(GOODBYE_GRACE)

    # -- The reader: the connection's task.

    async def serve(self) -> None:
        """Read, feed h2, route its events; until the connection closes.

        Keep-alive expiry is this task's cancel scope running out while the
        connection is idle; the connection then closes with a GOAWAY.
        """
        try:
            with self._reader_scope:
                await self._send_pending()
                await self._read_until_closed()
            if self._reader_scope.cancelled_caught and not self._closed:
                self._h2.close_connection()
                await self._send_goodbye()
        except TransportError as exc:
            goaway = self._goaway_failure
            # After a GOAWAY, a reset is the server closing as it said it would.
            self._close(_Failure.repeating(exc) if goaway is None else replace(goaway, cause=exc))
        finally:
            self.close_now()

    async def _read_until_closed(self) -> None:
        read_size = READ_SIZE
        while not self._closed:
            # A large frame under way (a download's DATA) is read to its end
            # and no further, so that the reads after its first are its
            # payload's pieces, handed on uncopied (Payload).
            missing = self._incoming.missing()
            size = min(missing, MAX_READ_SIZE) if missing >= READ_SIZE else read_size
            with map_exceptions(READ_ERRORS, self._origin, "reading from"):
                data = await self._stream.receive_some(size)
                read_size = min(2 * read_size, MAX_READ_SIZE) if len(data) == size else READ_SIZE
                if not data:
                    self._close(
                        self._goaway_failure
                        or _Failure(
                            RemoteProtocolError,
                            f"server {self._origin} closed the connection "
                            "before the response was complete",
                        )
                    )
                    return
                # A DATA frame spans many reads (TLS gives 16 KiB records):
                # h2 hears of it once it is whole.
                self._incoming.add_data(data)
                if not self._incoming.has_frame():
                    continue
                try:
                    events = self._h2.receive_data(b"")
                except h2.exceptions.ProtocolError:
                    await self._send_goodbye()  # h2 queued a GOAWAY saying why
                    raise
            for event in events:
                self._route(event)
            await self._send_pending()

    def _route(self, event: h2.events.Event) -> None:
        """Give one of h2's events to the stream it is for, or act on it for the connection."""
        if isinstance(
            event,
            h2.events.ResponseReceived
            | h2.events.InformationalResponseReceived
            | h2.events.DataReceived
            | h2.events.TrailersReceived
            | h2.events.StreamEnded,
        ):
            stream_id = event.stream_id
            assert stream_id is not None
            # Every stream h2 routes to is ours: we forget a stream only once
            # h2 has closed it too, and h2 itself credits the connection window
            # for DATA that arrives on a closed stream (RFC 9113 section 6.9).
            stream = self._streams[stream_id]
            if isinstance(event, h2.events.DataReceived) and isinstance(event.data, Payload):
                self._deliver_pieces(stream, event, event.data)
            else:
                stream.deliver(event)
            if isinstance(event, h2.events.StreamEnded):
                stream.remote_ended = True
                stream.end()
                stream.window_open.set()
                self._forget(stream)
        elif isinstance(event, h2.events.StreamReset):
            self._stream_reset(event)
        elif isinstance(event, _MalformedResponse):
            self._stream_malformed(event)
        elif isinstance(event, h2.events.WindowUpdated):
            if event.stream_id:
                sender = self._streams.get(event.stream_id)
                if sender is not None:
                    sender.window_open.set()
            else:
                self._wake_senders()
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            self._settings_changed(event)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._goaway(event)
        # PING and SETTINGS were answered by h2 (we send its answers after
        # routing); PRIORITY, ALTSVC and unknown frames need nothing from us.

    @staticmethod
    def _deliver_pieces(stream: _Stream, event: h2.events.DataReceived, payload: Payload) -> None:
        """Deliver ``event`` as one DataReceived per piece of its payload.

        Each piece carries its own length of flow-control credit, the last one
        also what the frame counted beyond its data (padding): the consumer
        and :meth:`_release_stream` credit exactly what the frame consumed.
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
        for stream in self._streams.values():
            stream.window_open.set()

    def _settings_changed(self, event: h2.events.RemoteSettingsChanged) -> None:
        """The peer's SETTINGS (RFC 9113 section 6.5): new stream limit, new windows."""
        self._settings_received.set()
        self._stream_limit = self._h2.remote_settings.max_concurrent_streams
        changed = event.changed_settings
        if h2.settings.SettingCodes.INITIAL_WINDOW_SIZE in changed:
            self._wake_senders()
        if h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS in changed:
            # The pool re-checks capacity only when told; more streams may be free.
            self._listener.released()

    def _reset_malformed(
        self, frame: hyperframe.frame.DataFrame, error: h2.exceptions.InvalidBodyLengthError
    ) -> _MalformedResponse:
        """Reset the stream of a DATA frame that breaks its content-length; its event.

        Called inside ``receive_data``: h2 counted the frame against both
        windows, and its stream refused it before taking END_STREAM, so the
        stream is still open. RST_STREAM(PROTOCOL_ERROR) goes out with the
        reader's next write (RFC 9113 section 8.1.1). Nobody will read the
        frame: the connection window gets it back now (h2 credits only the
        connection for a reset stream); data routed before is credited as it
        is read or released.
        """
        self._h2.reset_stream(frame.stream_id, ErrorCodes.PROTOCOL_ERROR)
        self._h2.acknowledge_received_data(frame.flow_controlled_length, frame.stream_id)
        return _MalformedResponse(frame.stream_id, error)

    def _stream_malformed(self, event: _MalformedResponse) -> None:
        """The stream's response broke the rules of messages: it fails, no other does."""
        stream = self._streams.get(event.stream_id)
        if stream is None:
            return
        stream.reset = True
        stream.fail(
            _Failure(
                RemoteProtocolError,
                f"the response on stream {event.stream_id} from {self._origin} is malformed "
                f"({event.error}); the stream was reset",
                event.error,
            )
        )
        self._forget(stream)

    def _stream_reset(self, event: h2.events.StreamReset) -> None:
        """RST_STREAM (RFC 9113 section 6.4): that stream fails, no other.

        REFUSED_STREAM means the server did not process it (section 8.7). A
        reset after the complete response (the server needed no more of the
        request body, section 8.1) ends only the sending.
        """
        stream = self._streams.get(event.stream_id)
        if stream is None:
            return
        stream.reset = True
        code = event.error_code
        why = "by the server" if event.remote_reset else "as the server broke the protocol on it"
        stream.fail(
            _Failure(
                RemoteProtocolError,
                f"stream {event.stream_id} to {self._origin} was reset {why} ({_error_name(code)})",
                unprocessed=code == ErrorCodes.REFUSED_STREAM,
            )
        )
        self._forget(stream)

    def _goaway(self, event: h2.events.ConnectionTerminated) -> None:
        """GOAWAY (RFC 9113 section 6.8): no new stream; those already open may finish.

        Streams above ``last_stream_id`` were not processed: they fail as
        unprocessed, so their requests may go elsewhere. Streams at or below it
        "might still complete successfully" (nginx and Hypercorn end every
        connection this way after 1,000 requests): they go on, and fail only if
        the server closes first. The last stream to end closes the connection.
        """
        # We start no new stream on this connection (_draining), and send
        # nothing more on it (_send_queued): the streams have what is left of
        # their receive windows (STREAM_RECEIVE_WINDOW) to finish in.
        last_stream_id = event.last_stream_id or 0
        name = _error_name(event.error_code)
        self._goaway_failure = _Failure(
            RemoteProtocolError,
            f"server {self._origin} sent GOAWAY ({name}, last stream {last_stream_id}) "
            "and closed the connection before the response was complete",
        )
        for stream_id, stream in list(self._streams.items()):
            if stream_id > last_stream_id:
                stream.reset = True
                stream.fail(
                    _Failure(
                        RemoteProtocolError,
                        f"server {self._origin} sent GOAWAY ({name}, last stream "
                        f"{last_stream_id}) before processing stream {stream_id}",
                        unprocessed=True,
                    )
                )
                self._forget(stream)
        if self.is_idle():
            self._close(self._goaway_failure)

    # -- Reading, for the request's task.

    async def _next_event(self, stream: _Stream, timeout: float | None) -> h2.events.Event:
        """The stream's next event; its failure once the events before it are taken.

        A checkpoint whether or not an event is waiting, as a channel's
        ``receive`` is. The read timeout (and the exception mapping) is set up
        only to wait: mostly the event is already there.
        """
        if stream.events or stream.ended:
            await trio.lowlevel.checkpoint()
        while not stream.events and not stream.ended:
            with (
                map_exceptions(READ_ERRORS, self._origin, "reading the response from"),
                fail_after(timeout),
            ):
                await stream.arrival.park()
        if stream.events:
            return stream.events.popleft()
        # The events end early only with a failure (after END_STREAM nobody
        # reads), or when another task let the response go meanwhile.
        failure = stream.failure or _Failure(
            ReadError, f"the response on stream {stream.stream_id} was closed while being read"
        )
        failure.raise_error()

    def _credit(self, stream_id: int, size: int) -> None:
        """Give back ``size`` bytes of receive window (h2 batches the WINDOW_UPDATEs)."""
        if size and not self._closed:
            self._h2.acknowledge_received_data(size, stream_id)

    async def _data_consumed(self, stream: _Stream, size: int) -> None:
        self._credit(stream.stream_id, size)
        await self._send_pending()

    async def _abandon(self, stream: _Stream) -> None:
        """The request's task is done with ``stream`` before its end (cancelled, failed, closed).

        :meth:`_release_stream`, then the RST_STREAM goes out within a short
        grace. Safe to call in a cancelled scope.
        """
        self._release_stream(stream)
        await self._send_goodbye()

    def _close_if_silent(self, exc: BaseException) -> None:
        """Close a connection whose server never sent its preface, once a read timed out.

        A server must start with SETTINGS (RFC 9113 section 3.4); one that has
        not by the end of a read timeout is not speaking HTTP/2, and requests
        must not keep queueing on it.
        """
        if isinstance(exc, ReadTimeout) and not self._settings_received.is_set():
            self._close(_Failure(ReadTimeout, str(exc), exc.__cause__))

    def _release_stream(self, stream: _Stream) -> None:
        """Let go of ``stream`` without an await: reset, credited, forgotten.

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
        if self._closed:
            return
        if not stream.closed:
            stream.reset = True
            self._h2.reset_stream(stream.stream_id, ErrorCodes.CANCEL)
        # After the reset h2 credits only the connection window, which is what we want.
        self._credit(stream.stream_id, unread)
        self._forget(stream)

    # -- One request.

    async def handle_request(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders,
        stream: AsyncByteStream | None,
        ext: Extensions,
    ) -> AsyncResponse:
        read_timeout = get_timeout(ext, "read")
        write_timeout = get_timeout(ext, "write")
        replayable = stream is None or isinstance(stream, PlainByteStream)
        if isinstance(stream, PlainByteStream) and not stream.content:
            stream = None
        h2_stream = await self._open_stream(method, url, headers, stream is None, read_timeout)
        try:
            await self._send_unless_sending(write_timeout)
            if stream is not None:
                await self._send_body(h2_stream, stream, write_timeout)
            status, response_headers = await self._receive_response_head(h2_stream, read_timeout)
        except BaseException as exc:
            self._close_if_silent(exc)
            await self._abandon(h2_stream)
            failure = h2_stream.failure
            if (
                isinstance(exc, TransportError)
                and failure is not None
                and failure.unprocessed
                and replayable
            ):
                raise RetryOnNewConnection(failure.message, refused_by_server=True) from exc
            raise
        response_ext: Extensions = {"http_version": "HTTP/2", "reason": ""}
        return (
            status,
            response_headers,
            HTTP2ResponseStream(self, h2_stream, read_timeout),
            response_ext,
        )

    async def _open_stream(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders,
        end_stream: bool,
        read_timeout: float | None,
    ) -> _Stream:
        """Use this request's reservation to open a stream and queue its HEADERS.

        The first stream goes at once; others wait for the peer's SETTINGS, to
        know its limit (RFC 9113 section 5.1.2). A request that finds the
        connection closed, or no stream free, was not sent: it goes back to
        the pool.
        """
        try:
            # A request cancelled before it got here puts nothing on the wire.
            await trio.lowlevel.checkpoint_if_cancelled()
            if self._opened_any and not self._settings_received.is_set():
                with (
                    map_exceptions(READ_ERRORS, self._origin, "waiting for the SETTINGS of"),
                    fail_after(read_timeout),
                ):
                    await self._settings_received.wait()
        except BaseException as exc:
            self.unreserve()
            self._close_if_silent(exc)
            raise
        self._reserved -= 1
        if self._draining or len(self._streams) >= self._stream_limit:
            self._capacity_freed()
            raise RetryOnNewConnection(f"no stream free on the connection to {self._origin}")
        stream_id = self._h2.get_next_available_stream_id()
        with map_exceptions(WRITE_ERRORS, self._origin, "sending the request to"):
            try:
                self._h2.send_headers(
                    stream_id, request_headers(method, url, headers), end_stream=end_stream
                )
            except BaseException:
                self._capacity_freed()
                raise
        self._opened_any = True
        stream = _Stream(stream_id)
        stream.local_ended = end_stream
        self._streams[stream_id] = stream
        return stream

    async def _send_body(
        self, stream: _Stream, body: AsyncByteStream, timeout: float | None
    ) -> None:
        """Send the body as the peer's windows allow (RFC 9113 section 5.2), then END_STREAM."""
        async with body_chunks(body) as chunks:
            async for chunk in chunks:
                if not await self._send_chunk(stream, memoryview(chunk), timeout):
                    return
        if not stream.closed:
            self._h2.end_stream(stream.stream_id)
            stream.local_ended = True
            self._forget(stream)
            await self._send(timeout)

    async def _send_chunk(self, stream: _Stream, data: memoryview, timeout: float | None) -> bool:
        """Send one chunk of the body; ``False`` if the server wants no more of it."""
        while data:
            if not await self._wait_for_window(stream, timeout):
                return False
            async with self._write_lock:
                # DATA is queued only by the lock holder, which sends it: the
                # reader task, which must keep reading, never finds a request
                # body to write. Other streams may have used the connection
                # window while we waited for the lock: look again.
                size = min(self._send_window(stream), MAX_WRITE_ROUND)
                self._queue_data(stream, data[:size])
                data = data[size:]
                await self._send_queued(timeout)
        return True

    def _send_window(self, stream: _Stream) -> int:
        """Bytes the peer lets us send on ``stream`` now; 0 if it wants no more of the body."""
        if stream.failure is not None:
            stream.failure.raise_error()
        if stream.reset:
            # Reset without a failure: the complete response came first, so
            # the server wants no more of the body (RFC 9113 section 8.1).
            return 0
        return self._h2.local_flow_control_window(stream.stream_id)

    async def _wait_for_window(self, stream: _Stream, timeout: float | None) -> bool:
        """Wait until the peer lets us send some of the body; ``False`` if it wants no more.

        The reader task sets ``stream.window_open`` when a WINDOW_UPDATE or
        SETTINGS frame may have opened the window: the waiting task never
        reads, so no waiter can take another's update (pydantic/httpx2#1133: see
        docs/reliability.rst).
        """
        while self._send_window(stream) <= 0:
            if stream.reset:
                return False
            stream.window_open = trio.Event()
            with (
                map_exceptions(WRITE_ERRORS, self._origin, "waiting to send the request to"),
                fail_after(timeout),
            ):
                await stream.window_open.wait()
        return True

    def _queue_data(self, stream: _Stream, data: memoryview) -> None:
        """Queue ``data`` (within the window) as DATA frames of the peer's maximum size."""
        frame_size = self._h2.max_outbound_frame_size
        for start in range(0, len(data), frame_size):
            self._h2.send_data(stream.stream_id, data[start : start + frame_size])

    async def _receive_response_head(
        self, stream: _Stream, timeout: float | None
    ) -> tuple[int, RawHeaders]:
        """The final response's status and headers; 1xx are skipped (RFC 9113 section 8.1)."""
        while True:
            event = await self._next_event(stream, timeout)
            if isinstance(event, h2.events.ResponseReceived):
                return response_head(event.headers or [])


def _error_name(code: ErrorCodes | int | None) -> str:
    return code.name if isinstance(code, ErrorCodes) else str(code)


def request_headers(method: bytes, url: URL4, headers: RawHeaders) -> list[Header]:
    """The header block of a request (RFC 9113 section 8.3.1), for h2 to send as it is.

    The request passed ``check_request``: method and names are tokens, values
    field values without whitespace at either end, the target is not empty.
    Pseudo-header fields come first, each once; ``:authority`` is the
    caller's ``Host`` if given, else the URL's authority. Names are lower
    case, and connection-specific fields are dropped (section 8.2.2): HTTP/2
    has its own framing and connection management. ``TE`` may only say
    ``trailers``. Credentials and short cookies are never indexed (RFC 7541
    section 7.1.3). That is the block h2's outbound normalisation and
    validation would give, and pass, which are therefore turned off.

    CONNECT is refused (:class:`LocalProtocolError`): over HTTP/2 it carries
    no ``:scheme`` nor ``:path`` (section 8.5), and tunnels are not offered.
    """
    if method == b"CONNECT":
        raise LocalProtocolError("CONNECT is not supported over HTTP/2")
    scheme, _, _, target = url
    block: list[Header] = [
        (b":method", method),
        (b":authority", header_value(headers, b"host") or authority(url)),
        (b":scheme", scheme),
        (b":path", target),
    ]
    for name, value in headers:
        name = name.lower()
        if name in CONNECTION_SPECIFIC_HEADERS:
            continue
        if name == b"te" and value.lower() != b"trailers":
            continue
        if name in NEVER_INDEXED_HEADERS or (
            name == b"cookie" and len(value) < NEVER_INDEXED_COOKIE_BELOW
        ):
            block.append(NeverIndexedHeaderTuple(name, value))
        else:
            block.append((name, value))
    return block


def response_head(headers: list[tuple[bytes, bytes]]) -> tuple[int, RawHeaders]:
    """``(status, headers)`` from a response header block, pseudo-header fields removed.

    The status code is three digits (RFC 9110 section 15, RFC 9113 section
    8.3.2), as HTTP/1.1 responses must have it; anything else (which h2 lets
    through, and ``int`` would read as ``-1`` or ``2_00``, or fail with a
    ``ValueError``) is :class:`RemoteProtocolError`.
    """
    # The block was checked (ResponseFieldsChecker): exactly one :status, first.
    status = next(value for name, value in headers if name == b":status")
    if len(status) != 3 or not status.isdigit():
        raise RemoteProtocolError(f"malformed :status {status!r} in an HTTP/2 response")
    return int(status), [(name, value) for name, value in headers if not name.startswith(b":")]


class HTTP2ResponseStream(ConnectionBoundStream):
    """The body of one HTTP/2 response; its stream stays open until read or closed.

    Each chunk read gives its flow-control credit back. Closing before the
    end, or a cancellation while reading, resets only this stream.
    """

    def __init__(
        self, connection: HTTP2Connection, stream: _Stream, read_timeout: float | None
    ) -> None:
        super().__init__(connection._origin)
        self._connection = connection
        self._stream = stream
        self._read_timeout = read_timeout

    def _abandon(self) -> None:
        self._connection._release_stream(self._stream)

    def _holds_connection(self) -> bool:
        return not self._stream.closed and not self._connection._closed

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        connection = self._connection
        try:
            while True:
                event = await connection._next_event(self._stream, self._read_timeout)
                if isinstance(event, h2.events.DataReceived):
                    await connection._data_consumed(self._stream, event.flow_controlled_length)
                    if event.data:
                        return bytes(event.data)
                elif isinstance(event, h2.events.StreamEnded):
                    self._done = True
                    raise StopAsyncIteration
                # Trailers (RFC 9113 section 8.1) are read and ignored.
        except StopAsyncIteration:
            raise
        except BaseException:
            self._done = True
            await connection._abandon(self._stream)
            raise

    async def aclose(self) -> None:
        """Stop reading: a stream not yet ended is reset; the connection goes on."""
        if self._done:
            await trio.lowlevel.checkpoint()
            return
        self._done = True
        await self._connection._abandon(self._stream)
