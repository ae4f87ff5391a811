"""HTTP/1.1 over one stream: h11's client state machine, one request at a time."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, cast

import h11
import outcome
import trio

from .._exceptions import (
    READ_ERRORS,
    WRITE_ERRORS,
    ReadTimeout,
    RemoteProtocolError,
    TransportError,
    WriteError,
)
from .._http import (
    BODY_BUFFER_SIZE,
    READ_SIZE,
    AsyncResponse,
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
    tracer_for,
)
from .._streams import AsyncByteStream, body_chunks
from .._types import URL4, Extensions, RawHeaders
from ._body import HTTP11ResponseStream
from ._h11compat import body_room, request_event, send_request, skip_body
from ._prefixed import PrefixedStream
from ._state import ConnectionState
from ._timeouts import UNBOUNDED, Timeouts, raise_mapped

if TYPE_CHECKING:
    from .._http import Tracer

LOGGER = logging.getLogger("trio_httpcore.http11")

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

# How much of a response the server sends while the request body is still
# going out is read and held: an early 413 is a few bytes, a server echoing
# the body as it reads it (node's req.pipe(res)) sends as much as it is sent.
# Past this the server is left to wait until the body is sent.
MAX_EARLY_RESPONSE = 64 * 1024 * 1024

# How long to wait for "100 Continue" when the request sets no read timeout.
# RFC 9110 section 10.1.1 lets a client send the body after "some reasonable
# period"; one second is what curl waits.
EXPECT_CONTINUE_DEFAULT_WAIT = 1.0


# Events are immutable: one serves every request.
_END_OF_MESSAGE = h11.EndOfMessage()


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
        self._state = ConnectionState.BUSY  # the connection is made for a first request
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
        if self._state is not ConnectionState.IDLE:
            return False
        self._state = ConnectionState.BUSY
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
        return self._state is ConnectionState.IDLE

    def open_streams(self) -> int:
        return 1 if self._state is ConnectionState.BUSY else 0

    def _become_idle(self) -> None:
        if self._keepalive_expiry == 0:
            # Kept alive for no time at all: closed now, never offered to the pool.
            self.close_now()
            return
        self._state = ConnectionState.IDLE
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
            while self._state is not ConnectionState.CLOSED:
                if self._state is ConnectionState.IDLE:
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
        if self._state is ConnectionState.CLOSED:
            return
        # The watcher's wait is cancelled before the socket closes under it.
        self._let_go()
        close_now(self._stream)

    def _let_go(self) -> None:
        """Take no more requests (closed, or handed over), end the watcher, tell the pool."""
        self._state = ConnectionState.CLOSED
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
        trace = tracer_for(LOGGER, ext)
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
                if trace is not None:
                    await trace("send_request_headers.started", {"request": (method, url)})
                head = await self._send_request(data, headers, stream, timeouts, trace)
                if head is None:
                    if timeouts is not None:
                        timeouts.arm_read()
                    if trace is not None:
                        await trace("receive_response_headers.started", {"request": (method, url)})
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
        if trace is not None:
            result = (head.http_version, status, head.reason, response_headers)
            await trace("receive_response_headers.complete", {"return_value": result})
        if self._h11.their_state is h11.SWITCHED_PROTOCOL:
            response_ext["network_stream"] = self._hand_over()
            return status, response_headers, AsyncByteStream(), response_ext
        return status, response_headers, HTTP11ResponseStream(self, timeouts, trace), response_ext

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
            event = request_event(method, url[3], headers, self._checked_requests)
            head = send_request(self._h11, event)
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
        trace: Tracer | None = None,
    ) -> h11.Response | None:
        """Send the request; return the final response head if it came before the body.

        ``head`` is sent within the deadline the caller's scope of ``timeouts``
        is armed with; each later send and wait arms it for itself.
        """
        await self._send(head)
        if trace is not None:
            await trace("send_request_headers.complete")
        if stream is None:
            return None
        if trace is not None:
            await trace("send_request_body.started")
        expect = header_value(headers, b"expect")
        if expect is not None and expect.lower() == b"100-continue":
            early = await self._wait_for_continue(timeouts)
            if early is not None:
                return early
        try:
            async with body_chunks(stream) as chunks, trio.open_nursery() as nursery:
                # The server may answer while the body goes out, and go on
                # answering only if we read (an echo): what it sends is taken
                # as it comes, so neither side blocks on a full buffer.
                nursery.start_soon(self._read_while_sending)
                # Captured, so that the body's errors (and the caller's own, from
                # its iterator) come out as they are, not in an exception group.
                sent = await outcome.acapture(self._send_body, chunks, timeouts)
                # A receive cancelled while it waits loses nothing.
                nursery.cancel_scope.cancel()
            sent.unwrap()
            if trace is not None:
                await trace("send_request_body.complete")
        except WriteError:
            # The server may have answered before the end of the body and closed
            # (413, 401): if that answer can be read, it is the response
            # (RFC 9112 section 9.5); the connection is not reused after it.
            early = await self._early_response(timeouts)
            if early is None:
                raise
            return early
        return None

    async def _send_body(self, chunks: AsyncIterator[bytes], timeouts: Timeouts | None) -> None:
        """Send the request body, and its end."""
        # The body's iterator is the caller's code: the write timeout bounds
        # our sends, not its waits.
        if timeouts is not None:
            timeouts.disarm()
        async for chunk in chunks:
            if chunk:
                await self._send(self._frame(h11.Data(data=chunk)), timeouts)
                if timeouts is not None:
                    timeouts.disarm()
        await self._send(self._frame(_END_OF_MESSAGE), timeouts)

    def _frame(self, event: h11.Data | h11.EndOfMessage) -> bytes | None:
        """The bytes of a piece of the body, or its end.

        A streamed body longer or shorter than its ``Content-Length`` shows
        here: h11 refuses it, and the caller gets :class:`LocalProtocolError`
        (the head is out, so the connection will be closed).
        """
        try:
            return self._h11.send(event)
        except h11.LocalProtocolError as exc:
            words = "longer" if isinstance(event, h11.Data) else "shorter"
            raise_mapped(
                exc,
                WRITE_ERRORS,
                self._origin,
                f"the request body is {words} than its Content-Length; sending it to",
            )

    async def _read_while_sending(self) -> None:
        """Hand h11 what the server sends while the body goes out (RFC 9112 section 9.5).

        The response is parsed once the body is sent (or a send fails): here
        the bytes are only held, up to ``MAX_EARLY_RESPONSE``; past that the
        server is left to wait, as TCP would make it. A read error ends the
        reading quietly: the send fails too, or the next read raises it.
        """
        held = 0
        while held < MAX_EARLY_RESPONSE:
            try:
                data = await self._stream.receive_some(READ_SIZE)
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
                return
            self._eof = not data
            self._h11.receive_data(bytes(data))
            if not data:
                return
            held += len(data)

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
        """The final response head (or a 101); arguments as in :meth:`_next_event`.

        The head timeout, when set, bounds this whole wait, however the head
        trickles in (each piece within the read timeout): a server dripping
        its head a byte at a time holds no request forever.
        """
        limit = None if timeouts is None else timeouts.head
        if limit is None:
            return await self._read_response_head(timeouts, need_data)
        with trio.move_on_after(limit):
            return await self._read_response_head(timeouts, need_data)
        raise ReadTimeout(
            f"reading the response head from {self._origin}: the head timeout ({limit:g} s) expired"
        ) from trio.TooSlowError()

    async def _read_response_head(self, timeouts: Timeouts | None, need_data: bool) -> h11.Response:
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
            stream = PrefixedStream(stream, bytes(leftover))
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
        if self._state is not ConnectionState.BUSY:
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
