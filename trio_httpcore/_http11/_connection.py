"""HTTP/1.1 over one stream: h11's client state machine, one request at a time."""

from __future__ import annotations

import enum
import math
from typing import TYPE_CHECKING, cast

import h11
import trio

from .._exceptions import (
    READ_ERRORS,
    WRITE_ERRORS,
    ReadError,
    RemoteProtocolError,
    TransportError,
    WriteError,
)
from .._http import (
    BODY_BUFFER_SIZE,
    READ_SIZE,
    AsyncResponse,
    ConnectionBoundStream,
    ConnectionListener,
    RetryOnNewConnection,
    authority,
    close_now,
    give_back,
    has_header,
    header_value,
    raw_socket,
    readable_now,
    receive_into,
    take_buffer,
)
from .._streams import AsyncByteStream, body_chunks
from .._types import URL4, Extensions, RawHeaders
from ._h11compat import body_room, request_event, skip_body
from ._timeouts import UNBOUNDED, Timeouts, raise_mapped

if TYPE_CHECKING:
    from typing_extensions import Self

# The largest response head accepted (h11's default is 16 KiB). Heads of tens
# of KiB (cookies, content-security policies) are real; httpcore takes 100 KiB.
MAX_RESPONSE_HEAD_SIZE = 100 * 1024

# How long a connection sits idle before its watcher starts watching the
# socket for the server's close. Arming the wait costs two task switches and
# two epoll registrations, and a request taking the connection must cancel it:
# done between every two requests, that was 13% of the instructions of a
# keep-alive request (callgrind), plus the system calls. While a connection
# is busy the watcher wakes once per delay, not once per request. A close
# that comes sooner is caught when the connection is next taken (the
# zero-timeout poll in handle_request), so the delay only bounds how long a
# dead idle connection may hold its socket and its slot.
IDLE_WATCH_DELAY = 0.1

# How long to wait for "100 Continue" when the request sets no read timeout.
# RFC 9110 section 10.1.1 lets a client send the body after "some reasonable
# period"; one second is what curl waits.
EXPECT_CONTINUE_DEFAULT_WAIT = 1.0


# Events are immutable: one serves every request.
_END_OF_MESSAGE = h11.EndOfMessage()


class _State(enum.Enum):
    IDLE = "idle"  # no request; the watcher looks after the socket
    BUSY = "busy"  # reserved for, or carrying, one request
    CLOSED = "closed"  # closed, or its stream handed over to the caller


class _PrefixedStream(trio.abc.Stream):
    """A handed-over stream that first yields bytes h11 already read past the response head."""

    def __init__(self, stream: trio.abc.Stream, prefix: bytes) -> None:
        self.transport_stream = stream
        self._prefix = prefix

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self._prefix:
            await trio.lowlevel.checkpoint()
            size = len(self._prefix) if max_bytes is None else max_bytes
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            return data
        return await self.transport_stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.transport_stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.transport_stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self.transport_stream.aclose()


class HTTP11Connection:
    """One HTTP/1.1 connection to one origin (RFC 9112).

    Requests go one at a time. Between them the connection is IDLE; once it
    has been idle for a moment its task (:meth:`serve`) waits for the socket
    to turn readable: an idle HTTP/1.1 connection receives nothing
    legitimately, so readable means the server closed it (or broke it), and
    it is dropped. The same wait carries the keep-alive expiry as a deadline.
    A connection taken before the watcher looked is polled once instead
    (:meth:`handle_request`), so a closed one is never used.

    Any failure or cancellation while a request is on the wire leaves the
    connection in an unknown state, so it is closed at once, without an await.
    """

    http_version = "HTTP/1.1"

    def __init__(
        self,
        stream: trio.abc.Stream,
        origin: str,
        listener: ConnectionListener,
        keepalive_expiry: float | None = None,
        *,
        checked_requests: bool = False,
    ) -> None:
        """``checked_requests``: every request :meth:`handle_request` gets has
        passed ``check_request`` (as a pool's have), so h11 need not check its
        fields again. Else (a proxy's CONNECT) h11 checks them."""
        self._stream = stream
        self._origin = origin
        self._listener = listener
        self._keepalive_expiry = keepalive_expiry
        self._checked_requests = checked_requests
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_RESPONSE_HEAD_SIZE)
        self._socket = raw_socket(stream)
        self._receive_into = receive_into(stream)
        self._state = _State.BUSY  # the connection is made for a first request
        self._reused = False
        self._eof = False
        # When the connection last turned idle (trio's clock), and how long it
        # must stay idle before the watcher watches it: sooner if keep-alive
        # expires sooner.
        self._idle_since = -math.inf
        self._watch_after = (
            IDLE_WATCH_DELAY
            if keepalive_expiry is None
            else min(IDLE_WATCH_DELAY, keepalive_expiry)
        )
        # The watcher's whole life runs in _serve_scope, which letting go of the
        # connection cancels. While it waits on the idle socket, _watch_scope is
        # that wait's scope: a request taking the connection cancels it and
        # clears the attribute, which tells the watcher not to drop it.
        self._serve_scope = trio.CancelScope()
        self._watch_scope: trio.CancelScope | None = None

    def __repr__(self) -> str:
        return f"<HTTP11Connection {self._origin} {self._state.value}>"

    # -- Capacity, as the pool sees it.

    def try_reserve(self) -> bool:
        if self._state is not _State.IDLE:
            return False
        self._state = _State.BUSY
        watch = self._watch_scope
        if watch is not None:
            # The watcher is waiting on the socket, which the request will
            # read: a second waiter would be refused (BusyResourceError).
            # The cancel unregisters its wait at once, before we return.
            self._watch_scope = None
            watch.cancel()
        return True

    def unreserve(self) -> None:
        self._become_idle()

    def is_idle(self) -> bool:
        return self._state is _State.IDLE

    def open_streams(self) -> int:
        return 1 if self._state is _State.BUSY else 0

    def _become_idle(self) -> None:
        if self._keepalive_expiry == 0:
            # Kept alive for no time at all: closed now, never offered to the pool.
            self.close_now()
            return
        self._state = _State.IDLE
        self._reused = True
        self._idle_since = trio.current_time()
        self._listener.released()

    async def serve(self) -> None:
        """Drop the connection if the server closes it, or keep-alive expires, while idle.

        The watcher does not wake for each request: it sleeps until the
        connection could have been idle for ``_watch_after`` seconds, and
        watches the socket only if it has been idle that long.
        """
        with self._serve_scope:
            while self._state is not _State.CLOSED:
                if self._state is _State.IDLE:
                    watch_at = self._idle_since + self._watch_after
                    if trio.current_time() >= watch_at:
                        await self._watch_idle()
                        continue
                else:
                    # Busy: it cannot have been idle long enough before then.
                    watch_at = trio.current_time() + IDLE_WATCH_DELAY
                await trio.sleep_until(watch_at)

    async def _watch_idle(self) -> None:
        """Wait for the idle socket to turn readable, or keep-alive to expire; then drop it.

        An idle HTTP/1.1 connection receives nothing legitimately, so readable
        means the server closed (or broke) it.
        """
        deadline = (
            math.inf
            if self._keepalive_expiry is None
            else self._idle_since + self._keepalive_expiry
        )
        scope = self._watch_scope = trio.CancelScope(deadline=deadline)
        with scope:
            if self._socket is None:
                await trio.sleep_forever()
            else:
                await trio.lowlevel.wait_readable(self._socket)
        if self._watch_scope is scope:
            # Nobody took the connection during the wait (try_reserve clears
            # the attribute), so it is still idle and ours to drop.
            self._watch_scope = None
            self.close_now()

    def close_now(self) -> None:
        if self._state is _State.CLOSED:
            return
        # The watcher's wait is cancelled before the socket closes under it.
        self._let_go()
        close_now(self._stream)

    def _let_go(self) -> None:
        """Take no more requests (closed, or handed over), end the watcher, tell the pool."""
        self._state = _State.CLOSED
        self._watch_scope = None
        self._serve_scope.cancel()
        self._listener.closed()

    # -- One request.

    async def handle_request(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders,
        stream: AsyncByteStream | None,
        ext: Extensions,
    ) -> AsyncResponse:
        timeouts = Timeouts.of(ext)
        if self._reused and (self._expired() or self._closed_by_server()):
            # The connection went while it was idle, and the watcher had not
            # looked yet: nothing was sent, so the pool may send the request on
            # another connection.
            self.close_now()
            raise RetryOnNewConnection(f"the idle connection to {self._origin} was closed")
        try:
            data, headers = self._request_head(method, url, headers, stream)
            # One cancel scope bounds every wait from the first byte sent to
            # the response head; it is made as the first send begins.
            scope = UNBOUNDED if timeouts is None else timeouts.sending()
            with scope:
                head = await self._send_request(data, headers, stream, timeouts)
                if head is None:
                    if timeouts is not None:
                        timeouts.arm_read()
                    # Without a body nothing was read since the request started
                    # (with one, "100 Continue" may have been).
                    head = await self._receive_response_head(timeouts, need_data=stream is None)
            if scope.cancelled_caught:
                assert timeouts is not None
                timeouts.expired(self._origin)
        except BaseException:
            self.close_now()
            raise
        status = head.status_code
        response_ext: Extensions = {
            "http_version": "HTTP/1.0" if head.http_version == b"1.0" else "HTTP/1.1",
            "reason": head.reason.decode("ascii", "replace"),
        }
        response_headers: RawHeaders = head.headers.raw_items()
        if self._h11.their_state is h11.SWITCHED_PROTOCOL:
            response_ext["network_stream"] = self._hand_over()
            return status, response_headers, AsyncByteStream(), response_ext
        return status, response_headers, HTTP11ResponseStream(self, timeouts), response_ext

    def _expired(self) -> bool:
        """Whether keep-alive expired during the idle period that just ended."""
        expiry = self._keepalive_expiry
        return expiry is not None and trio.current_time() >= self._idle_since + expiry

    def _closed_by_server(self) -> bool:
        """Whether the server closed (or broke) the connection: bytes or EOF wait unasked."""
        return self._socket is not None and readable_now(self._socket)

    def _request_head(
        self, method: bytes, url: URL4, headers: RawHeaders, stream: AsyncByteStream | None
    ) -> tuple[bytes, RawHeaders]:
        """The request's bytes up to its body, and its fields with the ``Host`` and framing added.

        Without a body they are the whole request.
        """
        if not has_header(headers, b"host"):
            headers = [(b"Host", authority(url)), *headers]
        if (
            stream is not None
            and not has_header(headers, b"content-length")
            and not has_header(headers, b"transfer-encoding")
        ):
            headers = [*headers, (b"Transfer-Encoding", b"chunked")]
        try:
            head = self._h11.send(request_event(method, url[3], headers, self._checked_requests))
            if stream is None:
                # Empty unless the caller asked for chunked: one write either way.
                head += self._h11.send(_END_OF_MESSAGE)
        except h11.LocalProtocolError as exc:
            # A Content-Length or Transfer-Encoding h11 cannot frame, or no
            # single Host: nothing was sent.
            raise_mapped(exc, WRITE_ERRORS, self._origin, "sending the request to")
        return head, headers

    async def _send_request(
        self,
        head: bytes,
        headers: RawHeaders,
        stream: AsyncByteStream | None,
        timeouts: Timeouts | None,
    ) -> h11.Response | None:
        """Send the request; return the final response head if it came before the body.

        ``head`` is sent within the deadline the caller's scope of ``timeouts``
        is armed with; each later send and wait arms it for itself.
        """
        await self._send(head)
        if stream is None:
            return None
        expect = header_value(headers, b"expect")
        if expect is not None and expect.lower() == b"100-continue":
            early = await self._wait_for_continue(timeouts)
            if early is not None:
                return early
        try:
            async with body_chunks(stream) as chunks:
                # The body's iterator is the caller's code: the write timeout
                # bounds our sends, not its waits.
                if timeouts is not None:
                    timeouts.disarm()
                async for chunk in chunks:
                    if chunk:
                        await self._send(self._h11.send(h11.Data(data=chunk)), timeouts)
                        if timeouts is not None:
                            timeouts.disarm()
            await self._send(self._h11.send(_END_OF_MESSAGE), timeouts)
        except WriteError:
            # The server may have answered before the end of the body and closed
            # (413, 401): if that answer can be read, it is the response
            # (RFC 9112 section 9.5); the connection is not reused after it.
            early = await self._early_response(timeouts)
            if early is None:
                raise
            return early
        return None

    async def _early_response(self, timeouts: Timeouts | None) -> h11.Response | None:
        """The response head the server sent before a write failed, if one can be read."""
        if timeouts is not None:
            timeouts.arm_read()
        try:
            return await self._receive_response_head(timeouts)
        except TransportError:
            return None

    async def _wait_for_continue(self, timeouts: Timeouts | None) -> h11.Response | None:
        """Wait for "100 Continue" before the body (RFC 9110 section 10.1.1).

        Returns ``None`` to send the body (on 100, or when the wait runs out),
        or the final response the server sent instead, in which case the body
        is not sent and the connection will not be reused.
        """
        read_timeout = None if timeouts is None else timeouts.read
        wait = EXPECT_CONTINUE_DEFAULT_WAIT if read_timeout is None else read_timeout
        if timeouts is not None:
            # This wait has a limit of its own, and running out of it is no error.
            timeouts.disarm()
        with trio.move_on_after(wait):
            while True:
                event = await self._next_event(None)
                if isinstance(event, h11.Response):
                    return event
                if isinstance(event, h11.InformationalResponse) and event.status_code == 100:
                    return None
        return None

    async def _receive_response_head(
        self, timeouts: Timeouts | None, need_data: bool = False
    ) -> h11.Response:
        """The final response head (or a 101); arguments as in :meth:`_next_event`."""
        while True:
            event = await self._next_event(timeouts, need_data=need_data)
            need_data = False
            if isinstance(event, h11.Response):
                return event
            if isinstance(event, h11.InformationalResponse) and event.status_code == 101:
                # 101 ends the HTTP exchange: hand it over like a final response.
                return cast(h11.Response, event)
            # Other 1xx (100 Continue, 103 Early Hints) are informational only.

    async def _send(self, data: bytes | None, timeouts: Timeouts | None = None) -> None:
        """Send ``data``, bounded by the write timeout of ``timeouts`` (armed here).

        Runs in the caller's scope of ``timeouts``; with ``None``, within
        whatever deadline the caller armed.
        """
        if not data:
            return
        if timeouts is not None:
            timeouts.arm_write()
        try:
            await self._stream.send_all(data)
        except Exception as exc:
            raise_mapped(exc, WRITE_ERRORS, self._origin, "sending the request to")

    async def _next_event(
        self, timeouts: Timeouts | None, *, need_data: bool = False
    ) -> h11.Event | type[h11.PAUSED]:
        """The next event from the server, reading from the socket as h11 needs.

        The first read is bounded by whatever deadline the caller armed (in
        its scope of ``timeouts``, for the read timeout); each further read
        arms the read timeout again. With ``timeouts=None`` the caller's
        deadline bounds every read.

        ``need_data``: the caller knows h11 can make no event of what it holds
        (it just said NEED_DATA, or a request just went out on a connection
        with nothing read past its last response), so the socket is read
        before asking h11 again.
        """
        rearm = False
        while True:
            if need_data:
                need_data = False
            else:
                event = self._held_event()
                if event is not h11.NEED_DATA:
                    return cast("h11.Event | type[h11.PAUSED]", event)
            if rearm and timeouts is not None:
                timeouts.arm_read()
            rearm = True
            try:
                data = await self._stream.receive_some(READ_SIZE)
                self._eof = not data
                self._h11.receive_data(bytes(data))
            except Exception as exc:
                raise_mapped(exc, READ_ERRORS, self._origin, "reading the response from")

    async def _receive_body(
        self, timeouts: Timeouts | None
    ) -> bytes | h11.Event | type[h11.PAUSED]:
        """The next piece of a response body, once h11 can make no event of what it holds.

        Bytes that h11's framing says are body and nothing else are read into
        a reused buffer and returned, copied once, without passing through
        h11 (:func:`body_room`); the rest (chunk framing, the end of file,
        bytes past the body) go to h11, and its next event is returned.
        Reads are bounded as in :meth:`_next_event`.
        """
        rearm = False
        while True:
            if rearm and timeouts is not None:
                timeouts.arm_read()
            rearm = True
            buffer = None if self._receive_into is None else take_buffer()
            try:
                try:
                    if buffer is None:
                        data: bytes | bytearray | memoryview = await self._stream.receive_some(
                            BODY_BUFFER_SIZE
                        )
                        size = len(data)
                    else:
                        assert self._receive_into is not None
                        size = await self._receive_into(buffer)
                        data = memoryview(buffer)[:size]
                except Exception as exc:
                    raise_mapped(exc, READ_ERRORS, self._origin, "reading the response from")
                self._eof = not size
                room = body_room(self._h11) if size else 0
                if room >= size > 0:
                    skip_body(self._h11, size)
                    return bytes(data)
                if room:
                    skip_body(self._h11, room)
                    self._h11.receive_data(bytes(data[room:]))
                    return bytes(data[:room])
                self._h11.receive_data(bytes(data))
            finally:
                if buffer is not None:
                    give_back(buffer)
            event = self._held_event()
            if event is not h11.NEED_DATA:
                return cast("h11.Event | type[h11.PAUSED]", event)

    def _held_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        """The next event from the bytes h11 holds, or NEED_DATA; its errors raised as ours."""
        try:
            return self._h11.next_event()
        except h11.RemoteProtocolError as exc:
            if self._eof:
                raise RemoteProtocolError(
                    f"server {self._origin} closed the connection before the response was complete"
                ) from exc
            raise_mapped(exc, READ_ERRORS, self._origin, "reading the response from")

    def _next_buffered_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        """The next event from what h11 already holds, without reading; errors count as none."""
        try:
            return self._h11.next_event()
        except h11.RemoteProtocolError:
            return h11.NEED_DATA

    def _hand_over(self) -> trio.abc.Stream:
        """Give the stream to the caller after 101 or a CONNECT 2xx; the pool lets go of it."""
        leftover, _ = self._h11.trailing_data
        stream = self._stream
        if leftover:
            stream = _PrefixedStream(stream, bytes(leftover))
        self._let_go()
        return stream

    # -- The end of a response.

    def _response_complete(self) -> None:
        """Return the connection to the pool if both sides may go on (RFC 9112 section 9.3).

        Bytes the server sent past the end of the response (a body on a HEAD
        or 204, an unasked-for second response) would be read as the next
        request's response: such a connection is closed, as curl does. So is
        one whose end of file has been read: a close-delimited body ends with
        the server's close, and h11 still reports both sides DONE after it.
        """
        if self._state is not _State.BUSY:
            return
        excess, server_closed = self._h11.trailing_data
        if (
            self._h11.our_state is h11.DONE
            and self._h11.their_state is h11.DONE
            and not excess
            and not server_closed
        ):
            self._h11.start_next_cycle()
            self._become_idle()
        else:
            self.close_now()


class HTTP11ResponseStream(ConnectionBoundStream):
    """The body of one HTTP/1.1 response; holds its connection until read or closed."""

    def __init__(self, connection: HTTP11Connection, timeouts: Timeouts | None) -> None:
        super().__init__(connection._origin)
        self._connection = connection
        self._timeouts = timeouts

    def _abandon(self) -> None:
        self._connection.close_now()

    def _holds_connection(self) -> bool:
        return self._connection._state is _State.BUSY

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        connection = self._connection
        if connection._state is not _State.BUSY:
            self._done = True
            raise ReadError(f"the connection to {connection._origin} was closed")
        try:
            # What h11 already holds needs no coroutine (a small body, and the
            # end of most bodies, come with the read before). In the middle of
            # a large body h11 holds nothing: no need to ask it.
            event: bytes | h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]
            event = h11.NEED_DATA if body_room(connection._h11) else connection._held_event()
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
        if self._done:
            await trio.lowlevel.checkpoint()
            return
        self._done = True
        connection = self._connection
        if connection._state is _State.BUSY:
            while True:
                event = connection._next_buffered_event()
                if isinstance(event, h11.EndOfMessage):
                    connection._response_complete()
                    break
                if not isinstance(event, h11.Data):
                    connection.close_now()
                    break
        await trio.lowlevel.checkpoint()
