"""HTTP/3 over one QUIC connection (RFC 9114): aioquic's state machines driven by trio.

The connection owns one connected UDP socket. Whoever holds the connection
pumps it: the request that connects it runs the QUIC handshake in its own task
(the connect phase), then one task in the pool's nursery (:meth:`serve`) is the
only reader of the socket for the connection's life; it feeds aioquic and
routes each stream's events to that stream's queue. Sending never waits: every
task that queues frames sends the datagrams aioquic has ready at once, and a
datagram the kernel has no room for is left to QUIC's loss recovery.
"""

from __future__ import annotations

import math
import socket
from typing import TYPE_CHECKING

import trio
from aioquic.h3 import events as h3_events
from aioquic.h3.connection import ErrorCode, H3Connection
from aioquic.quic import events as quic_events

from .._exceptions import (
    WRITE_ERRORS,
    ConnectError,
    ReadError,
    RemoteProtocolError,
    TransportError,
    map_exceptions,
)
from .._http import (
    AsyncResponse,
    ConnectionBoundStream,
    ConnectionListener,
    RetryOnNewConnection,
    StreamFailure,
)
from .._streams import AsyncByteStream, PlainByteStream, body_chunks
from .._types import URL4, Extensions, RawHeaders, fail_after, get_timeout
from ._control import ControlStreamReader
from ._fields import request_headers, response_head
from ._quiccompat import ClientQuicConnection
from ._stream import Stream

if TYPE_CHECKING:
    from typing_extensions import Self

# A request body is queued in pieces of at most this many bytes, and the next
# piece waits until the peer acknowledged all but this much of the stream.
SEND_BUFFER = 256 * 1024
# The most a response stream hands its reader in one chunk: what arrived, joined.
MAX_CHUNK = 1024 * 1024
# The largest UDP datagram we read (RFC 9000 section 14: QUIC's are smaller).
MAX_DATAGRAM = 65536


class QuicConnectionClosed(Exception):
    """The cause of errors from a QUIC connection that closed: its error code and reason."""

    def __init__(self, error_code: int, reason: str) -> None:
        super().__init__(f"error code {error_code:#x}" + (f": {reason}" if reason else ""))
        self.error_code = error_code


class HTTP3Connection:
    """One HTTP/3 connection to one origin.

    Capacity: as many request streams as the server lets us open (its
    MAX_STREAMS limit, RFC 9000 section 4.6), reservations counted. After a
    GOAWAY no new stream starts; the streams below its id go on, and the last
    one to end closes the connection. After the server closes it, an I/O
    error or :meth:`close_now`, the listener hears ``closed()`` once.
    """

    http_version = "HTTP/3"

    def __init__(
        self,
        sock: socket.socket,
        quic: ClientQuicConnection,
        origin: str,
        listener: ConnectionListener,
        keepalive_expiry: float | None = None,
    ) -> None:
        self._sock = sock
        self._peer: tuple[str, int] = sock.getpeername()[:2]
        self._quic = quic
        self._h3 = H3Connection(quic)
        self._origin = origin
        self._listener = listener
        self._keepalive_expiry = keepalive_expiry
        self._streams: dict[int, Stream] = {}
        self._control_readers: dict[int, ControlStreamReader] = {}
        self._reserved = 1  # the connection is made for a first request
        self._streams_left = 0.0
        self._handshake_done = False
        # The listener hears of the connection only once its handshake succeeded:
        # a failed one leaves the pool's slot to the TCP fallback.
        self._attached = False
        self._closed = False
        self._failure: StreamFailure | None = None
        self._goaway: StreamFailure | None = None
        # The pump waits for a datagram under this scope; its deadline is
        # aioquic's timer, moved by whoever queued frames (see _transmit).
        self._wait_scope: trio.CancelScope | None = None
        # The serve task runs under this scope: its deadline is the keep-alive
        # expiry while the connection is idle.
        self._serve_scope = trio.CancelScope()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._streams)} streams"
        return f"<HTTP3Connection {self._origin} {state}>"

    # -- Capacity, as the pool sees it.

    def try_reserve(self) -> bool:
        if self._draining or self._reserved >= self._streams_left:
            return False
        if self._serve_scope.cancel_called:
            return False  # the keep-alive expiry fired: the connection is closing
        self._reserved += 1
        if self._serve_scope.deadline != math.inf:
            self._serve_scope.deadline = math.inf
        return True

    def unreserve(self) -> None:
        self._reserved -= 1
        self._capacity_freed()

    @property
    def _draining(self) -> bool:
        return self._closed or self._goaway is not None

    def is_idle(self) -> bool:
        return not self._streams and self._reserved == 0

    def open_streams(self) -> int:
        return len(self._streams)

    def _capacity_freed(self) -> None:
        if self._goaway is not None and self.is_idle():
            self._quic.close(error_code=ErrorCode.H3_NO_ERROR)
            self._transmit()
            self._close(self._goaway)
        if self.is_idle() and self._keepalive_expiry is not None:
            self._serve_scope.deadline = trio.current_time() + self._keepalive_expiry
        if self._attached and not self._closed:
            self._listener.released()

    def _forget(self, stream: Stream) -> None:
        if stream.closed and self._streams.pop(stream.stream_id, None) is not None:
            self._quic.forget(stream.stream_id)
            self._capacity_freed()

    # -- Closing.

    def close_now(self) -> None:
        """Close at once, telling the server with CONNECTION_CLOSE (H3_NO_ERROR).

        One datagram, sent without waiting: QUIC has no TCP FIN, and the
        server would otherwise hold the connection until its idle timeout.
        """
        if not self._closed:
            self._quic.close(error_code=ErrorCode.H3_NO_ERROR)
            self._transmit()
        self._close(StreamFailure(ReadError, f"the connection to {self._origin} was closed"))

    def _close(self, failure: StreamFailure) -> None:
        """Close at once: every open stream ends with ``failure``; the listener hears of it."""
        if self._closed:
            return
        self._closed = True
        self._failure = failure
        for stream in self._streams.values():
            stream.reset = True
            stream.fail(failure)
        self._streams.clear()
        self._serve_scope.cancel()
        if self._wait_scope is not None:
            self._wait_scope.cancel()
        # The socket may be waited on by the pump: trio must hear of it first.
        trio.lowlevel.notify_closing(self._sock)
        self._sock.close()
        if self._attached:
            self._listener.closed()

    # -- The pump: datagrams out and in, timers, events.

    def _transmit(self) -> None:
        """Send every datagram aioquic has ready, without waiting; re-arm the pump's timer.

        A datagram the socket has no room for is dropped: QUIC's loss
        recovery sends its frames again (RFC 9002), and its congestion
        control keeps that rare.
        """
        if self._closed:
            return
        for data, _ in self._quic.datagrams_to_send(now=trio.current_time()):
            try:
                self._sock.send(data)
            except BlockingIOError:
                break
            except OSError as exc:
                self._close(StreamFailure(ReadError, f"sending to {self._origin}: {exc}", exc))
                return
        if self._wait_scope is not None:
            self._wait_scope.deadline = self._timer()

    def _timer(self) -> float:
        timer = self._quic.get_timer()
        return math.inf if timer is None else timer

    async def _pump(self) -> None:
        """One round: wait for datagrams or the timer, feed aioquic, route its events, send."""
        with trio.CancelScope(deadline=self._timer()) as self._wait_scope:
            await trio.lowlevel.wait_readable(self._sock)
        self._wait_scope = None
        if self._closed:
            return
        now = trio.current_time()
        while True:
            try:
                data = self._sock.recv(MAX_DATAGRAM)
            except BlockingIOError:
                break
            self._quic.receive_datagram(data, self._peer, now=now)
        if now >= self._timer():
            self._quic.handle_timer(now=now)
        self._process_events()
        self._transmit()

    async def handshake(self) -> None:
        """Run the QUIC handshake (TLS 1.3 inside, RFC 9001) in the caller's task.

        It is the connect phase: the caller bounds it with the connect
        timeout. On any failure or cancellation the socket is closed.
        """
        try:
            self._quic.connect(self._peer, now=trio.current_time())
            self._transmit()
            while not self._handshake_done and not self._closed:
                await self._pump()
        except BaseException:
            self.close_now()
            raise
        if self._closed:
            assert self._failure is not None
            raise ConnectError(self._failure.message) from self._failure.cause
        self._attached = True

    async def serve(self) -> None:
        """The connection's task: pump until the connection closes.

        Keep-alive expiry is this task's scope running out while the
        connection is idle; the pool's exit cancels it. Either way the
        connection then closes with CONNECTION_CLOSE.
        """
        try:
            with self._serve_scope:
                while not self._closed:
                    await self._pump()
        except OSError as exc:
            self._close(StreamFailure(ReadError, f"reading from {self._origin}: {exc}", exc))
        finally:
            self.close_now()

    def _process_events(self) -> None:
        while (event := self._quic.next_event()) is not None:
            if isinstance(event, quic_events.StreamDataReceived):
                self._stream_data(event)
            elif isinstance(event, quic_events.StreamReset):
                self._stream_reset(event.stream_id, event.error_code)
            elif isinstance(event, quic_events.StopSendingReceived):
                stream = self._streams.get(event.stream_id)
                if stream is not None:
                    stream.stopped = True
                    stream.drained.set()
            elif isinstance(event, quic_events.HandshakeCompleted):
                self._handshake_done = True
            elif isinstance(event, quic_events.ConnectionTerminated):
                self._terminated(event)
                return
            for h3_event in self._h3.handle_event(event):
                self._route(h3_event)
        streams_left = self._quic.bidi_streams_left()
        if streams_left > self._streams_left:
            self._streams_left = streams_left
            if self._attached and not self._closed:
                self._listener.released()  # the pool re-checks capacity only when told
        for stream in self._streams.values():
            if self._quic.unsent_bytes(stream.stream_id) < SEND_BUFFER:
                stream.drained.set()

    def _stream_data(self, event: quic_events.StreamDataReceived) -> None:
        stream_id = event.stream_id
        if stream_id % 4 == 3:  # a unidirectional stream the server opened
            reader = self._control_readers.setdefault(stream_id, ControlStreamReader())
            for last_stream_id in reader.feed(event.data):
                self._goaway_received(last_stream_id)
            return
        stream = self._streams.get(stream_id)
        if stream is not None:
            stream.delivered += len(event.data)

    def _route(self, event: h3_events.H3Event) -> None:
        if not isinstance(event, h3_events.HeadersReceived | h3_events.DataReceived):
            return  # pushes are never enabled; datagrams never negotiated
        stream = self._streams.get(event.stream_id)
        if stream is None or stream.ended:
            return  # a stream we let go of: aioquic discards what follows
        if isinstance(event, h3_events.DataReceived):
            stream.unread += len(event.data)
        stream.deliver(event)
        if event.stream_ended:
            stream.remote_ended = True
            stream.end()
            self._forget(stream)

    def _stream_reset(self, stream_id: int, error_code: int) -> None:
        """The server reset a stream (RFC 9114 section 4.1.1): it fails, no other.

        H3_REQUEST_REJECTED means the server did not process it (section 4.1.1).
        """
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        stream.reset = True
        stream.fail(
            StreamFailure(
                RemoteProtocolError,
                f"stream {stream_id} to {self._origin} was reset by the server "
                f"({_error_name(error_code)})",
                unprocessed=error_code == ErrorCode.H3_REQUEST_REJECTED,
            )
        )
        self._forget(stream)

    def _goaway_received(self, last_stream_id: int) -> None:
        """GOAWAY (RFC 9114 section 5.2): no new stream; those below its id may finish."""
        self._goaway = StreamFailure(
            RemoteProtocolError,
            f"server {self._origin} sent GOAWAY (stream {last_stream_id}) "
            "and closed the connection before the response was complete",
        )
        refused = StreamFailure(
            RemoteProtocolError,
            f"server {self._origin} sent GOAWAY and did not process the request",
            unprocessed=True,
        )
        for stream in list(self._streams.values()):
            if stream.stream_id >= last_stream_id:
                stream.reset = True
                stream.fail(refused)
                self._forget(stream)
        if self.is_idle():
            self._capacity_freed()

    def _terminated(self, event: quic_events.ConnectionTerminated) -> None:
        cause = QuicConnectionClosed(event.error_code, event.reason_phrase)
        if not self._handshake_done:
            failure = StreamFailure(ConnectError, f"connecting to {self._origin}: {cause}", cause)
        elif self._goaway is not None:
            failure = StreamFailure(self._goaway.error, self._goaway.message, cause)
        else:
            failure = StreamFailure(
                RemoteProtocolError,
                f"server {self._origin} closed the connection ({cause}) "
                "before the response was complete",
                cause,
            )
        self._close(failure)

    # -- The request's side of a stream.

    def _data_consumed(self, stream: Stream, size: int) -> None:
        """The reader took ``size`` body bytes: credit the stream (sent at once if due)."""
        stream.unread -= size
        if stream.stream_id in self._streams and self._quic.consumed(
            stream.stream_id, stream.delivered - stream.unread
        ):
            self._transmit()

    def _release_stream(self, stream: Stream) -> None:
        """Let go of ``stream`` without an await: reset and stopped if still open, forgotten.

        RESET_STREAM and STOP_SENDING with H3_REQUEST_CANCELLED (RFC 9114
        section 4.1.1) go out at once; the connection and other streams go on.
        """
        stream.events.clear()
        stream.end()
        if self._closed or stream.closed:
            self._forget(stream)
            return
        stream.reset = True
        if not stream.local_ended:
            self._quic.reset_stream(stream.stream_id, ErrorCode.H3_REQUEST_CANCELLED)
        if not stream.remote_ended:
            self._quic.stop_stream(stream.stream_id, ErrorCode.H3_REQUEST_CANCELLED)
        self._transmit()
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
        try:
            # A request cancelled before it got here puts nothing on the wire.
            await trio.lowlevel.checkpoint_if_cancelled()
        except BaseException:
            self.unreserve()
            raise
        h3_stream = self._open_stream(method, url, headers, end_stream=stream is None)
        try:
            if stream is not None:
                await self._send_body(h3_stream, stream, write_timeout)
            status, response_headers = await self._receive_response_head(h3_stream, read_timeout)
        except BaseException as exc:
            self._release_stream(h3_stream)
            failure = h3_stream.failure
            if (
                isinstance(exc, TransportError)
                and failure is not None
                and failure.unprocessed
                and replayable
            ):
                raise RetryOnNewConnection(failure.message, refused_by_server=True) from exc
            raise
        response_ext: Extensions = {"http_version": "HTTP/3", "reason": ""}
        body = HTTP3ResponseStream(self, h3_stream, read_timeout)
        return status, response_headers, body, response_ext

    def _open_stream(
        self, method: bytes, url: URL4, headers: RawHeaders, end_stream: bool
    ) -> Stream:
        """Use this request's reservation to open a stream and send its HEADERS."""
        self._reserved -= 1
        if self._draining or self._streams_left < 1:
            self._capacity_freed()
            raise RetryOnNewConnection(f"no stream free on the connection to {self._origin}")
        stream_id = self._quic.get_next_available_stream_id()
        try:
            with map_exceptions(WRITE_ERRORS, self._origin, "sending the request to"):
                self._h3.send_headers(
                    stream_id, request_headers(method, url, headers), end_stream=end_stream
                )
        except BaseException:
            self._capacity_freed()
            raise
        self._streams_left -= 1
        stream = Stream(stream_id)
        stream.local_ended = end_stream
        self._streams[stream_id] = stream
        self._quic.consumed(stream_id, 0)
        self._transmit()
        return stream

    async def _send_body(
        self, stream: Stream, body: AsyncByteStream, timeout: float | None
    ) -> None:
        """Send the body as the peer acknowledges it (flow control is aioquic's), then the end."""
        async with body_chunks(body) as chunks:
            async for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    if not await self._wait_for_room(stream, timeout):
                        return
                    self._h3.send_data(stream.stream_id, bytes(view[:SEND_BUFFER]), False)
                    view = view[SEND_BUFFER:]
                    self._transmit()
        if not await self._wait_for_room(stream, timeout):
            return
        self._h3.send_data(stream.stream_id, b"", True)
        stream.local_ended = True
        self._transmit()
        self._forget(stream)

    async def _wait_for_room(self, stream: Stream, timeout: float | None) -> bool:
        """Wait until the stream's unacknowledged bytes are below SEND_BUFFER.

        ``False`` if the server wants no more of the body (STOP_SENDING, or a
        reset after the complete response).
        """
        while True:
            if stream.failure is not None:
                stream.failure.raise_error()
            if stream.stopped or stream.reset:
                return False
            if self._quic.unsent_bytes(stream.stream_id) < SEND_BUFFER:
                await trio.lowlevel.checkpoint()
                return True
            stream.drained = trio.Event()
            with (
                map_exceptions(WRITE_ERRORS, self._origin, "waiting to send the request to"),
                fail_after(timeout),
            ):
                await stream.drained.wait()

    async def _receive_response_head(
        self, stream: Stream, timeout: float | None
    ) -> tuple[int, RawHeaders]:
        """The final response's status and headers; 1xx are skipped (RFC 9114 section 4.1)."""
        while True:
            event = await stream.next_event(self._origin, timeout)
            if isinstance(event, h3_events.HeadersReceived):
                status, headers = response_head(event.headers)
                if status >= 200:
                    return status, headers
            elif isinstance(event, h3_events.DataReceived):
                self._data_consumed(stream, len(event.data))
                raise RemoteProtocolError(
                    f"{self._origin} sent DATA before the response's HEADERS on stream "
                    f"{stream.stream_id}"
                )


def _error_name(code: int) -> str:
    try:
        return ErrorCode(code).name
    except ValueError:
        return hex(code)


class HTTP3ResponseStream(ConnectionBoundStream):
    """The body of one HTTP/3 response; its stream stays open until read or closed.

    Each chunk read gives its receive credit back. Closing before the end, or
    a cancellation while reading, resets only this stream.
    """

    def __init__(
        self, connection: HTTP3Connection, stream: Stream, read_timeout: float | None
    ) -> None:
        super().__init__(connection._origin)
        self._connection = connection
        self._stream = stream
        self._read_timeout = read_timeout
        self._at_end = False  # the last piece of the body was taken

    def _abandon(self) -> None:
        self._connection._release_stream(self._stream)

    def _holds_connection(self) -> bool:
        return not self._stream.closed and not self._connection._closed

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        if self._done or self._at_end:
            self._done = True
            raise StopAsyncIteration
        connection, stream = self._connection, self._stream
        try:
            while True:
                event = await stream.next_event(connection._origin, self._read_timeout)
                if isinstance(event, h3_events.DataReceived):
                    chunk = self._take_data(event)
                elif isinstance(event, h3_events.HeadersReceived):
                    # Trailers (RFC 9114 section 4.1) are read and ignored.
                    chunk, self._at_end = b"", event.stream_ended
                if chunk:
                    return chunk
                if self._at_end:
                    break
        except BaseException:
            self._done = True
            connection._release_stream(stream)
            raise
        self._done = True
        raise StopAsyncIteration

    def _take_data(self, first: h3_events.DataReceived) -> bytes:
        """``first``'s data and the data queued after it, up to MAX_CHUNK, credited as read.

        aioquic hands data over packet by packet (about a kilobyte each): a
        reader gets what has arrived in one piece.
        """
        pieces, size, ended = [first.data], len(first.data), first.stream_ended
        events = self._stream.events
        while (
            not ended
            and size < MAX_CHUNK
            and events
            and isinstance(events[0], h3_events.DataReceived)
        ):
            event = events.popleft()
            assert isinstance(event, h3_events.DataReceived)
            pieces.append(event.data)
            size += len(event.data)
            ended = event.stream_ended
        self._at_end = ended
        self._connection._data_consumed(self._stream, size)
        return b"".join(pieces)

    async def aclose(self) -> None:
        """Stop reading: a stream not yet ended is reset; the connection goes on."""
        await trio.lowlevel.checkpoint()
        if not self._done:
            self._done = True
            self._connection._release_stream(self._stream)
