"""HTTP/2 over one stream (RFC 9113): the trio driver of an :class:`H2State`.

One task reads the socket for the connection's whole life (:meth:`HTTP2Connection.serve`),
feeds h2 and hands its events to the state, which routes them to each
stream's queue; every write happens in :meth:`HTTP2Connection._send_queued`
under one ``trio.Lock``. Flow-control credit is given back as a response is
*read*, so a slow consumer slows only its own stream.
"""

from __future__ import annotations

import math
from contextlib import suppress
from dataclasses import replace
from typing import TYPE_CHECKING

import h2.events
import h2.exceptions
import trio

from .._exceptions import (
    READ_ERRORS,
    WRITE_ERRORS,
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
    StreamFailure,
    close_now,
    give_back,
    receive_into,
    take_buffer,
)
from .._streams import AsyncByteStream, PlainByteStream, body_chunks
from .._types import URL4, Extensions, RawHeaders, fail_after, get_timeout
from ._frames import UNCOPIED_READ_MIN
from ._headers import response_head
from ._state import CLOSED, FREED, H2State
from ._stream import Stream

if TYPE_CHECKING:
    from typing_extensions import Self

# How much the reader asks a stream read with receive_some for (not a socket,
# nor TLS on its own socket, which are read into reused buffers, nor stock h2):
# READ_SIZE, doubling up to this while reads come back full (a download),
# back to READ_SIZE after a short one.
MAX_READ_SIZE = 1024 * 1024

# A frame (a large DATA frame) still missing at least this much is read to its
# end and no further, from a socket or TLS on its own socket.
WHOLE_READ_FRAME = 2 * UNCOPIED_READ_MIN

# A request body is queued in rounds of at most this many bytes, so that one
# write (which is never abandoned halfway, see _send) stays short.
MAX_WRITE_ROUND = 1024 * 1024

# How long a cancelled stream may spend getting its RST_STREAM out, and a
# closing connection its GOAWAY (RFC 9113 sections 6.4 and 6.8).
GOODBYE_GRACE = 1.0


class HTTP2Connection:
    """One HTTP/2 connection to one origin (RFC 9113), as the pool sees it.

    Capacity and streams are :class:`H2State`'s. A reservation granted
    before the peer's SETTINGS arrive waits for them; one that then finds no
    stream free is handed back to the pool (:class:`RetryOnNewConnection`),
    so nothing ever exceeds the limit and nothing waits on a connection that
    cannot serve it. After a GOAWAY, an I/O error, end of file or
    :meth:`close_now` the connection takes no more requests and closes; the
    listener hears ``closed()`` once.
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
        self.state = H2State(origin)
        self._h2 = self.state.h2
        self._write_lock = trio.Lock()
        # The reader runs under this scope; its deadline is the keep-alive expiry
        # while the connection is idle, and infinite while it is not.
        self._reader_scope = trio.CancelScope()

    def __repr__(self) -> str:
        state = "closed" if self.state.closed else f"{len(self.state.streams)} streams"
        return f"<HTTP2Connection {self._origin} {state}>"

    # -- Capacity, as the pool sees it.

    def try_reserve(self) -> bool:
        # The keep-alive deadline fired: the reader is closing the connection;
        # refuse rather than race it.
        if self._reader_scope.cancel_called or not self.state.try_reserve():
            return False
        # Setting a deadline costs trio more than reading it: only when the
        # keep-alive clock is running (the connection was idle).
        if self._reader_scope.deadline != math.inf:
            self._reader_scope.deadline = math.inf
        return True

    def unreserve(self) -> None:
        self._act(self.state.unreserve())

    def is_idle(self) -> bool:
        return self.state.is_idle()

    def open_streams(self) -> int:
        return len(self.state.streams)

    def _act(self, actions: int) -> None:
        """Do what the state asked (its flags): close; start the keep-alive clock; tell the pool."""
        if actions & CLOSED:
            self._closed_now()
        if actions & FREED and self._keepalive_expiry is not None and self.state.is_idle():
            self._reader_scope.deadline = trio.current_time() + self._keepalive_expiry
        if actions and not self.state.closed:
            self._listener.released()

    # -- Closing.

    def close_now(self) -> None:
        self._close(StreamFailure(ReadError, f"the connection to {self._origin} was closed"))

    def _close(self, failure: StreamFailure) -> None:
        """Close at once: every open stream ends with ``failure``; the listener hears of it."""
        if self.state.close(failure):
            self._closed_now()

    def _closed_now(self) -> None:
        """The state has just closed: stop the reader, close the socket, tell the listener."""
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
        if self.state.goaway_failure is not None:
            # After its GOAWAY a server built on h2 (Hypercorn) treats any frame
            # we send, even a WINDOW_UPDATE, as a protocol error: say nothing more.
            self._h2.clear_outbound_data_buffer()
            await trio.lowlevel.checkpoint()
            return
        with trio.CancelScope(shield=True):
            # Once closed, nothing more is sent; each stream learns why from its failure.
            while not self.state.closed and (data or (data := self._h2.data_to_send())):
                try:
                    with (
                        map_exceptions(WRITE_ERRORS, self._origin, "sending to"),
                        fail_after(timeout),
                    ):
                        await self._stream.send_all(data)
                except TransportError as exc:
                    self._close(StreamFailure.repeating(exc))
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
        if self._write_lock.locked() or self.state.closed:
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
            if self._reader_scope.cancelled_caught and not self.state.closed:
                self._h2.close_connection()
                await self._send_goodbye()
        except TransportError as exc:
            goaway = self.state.goaway_failure
            # After a GOAWAY, a reset is the server closing as it said it would.
            self._close(
                StreamFailure.repeating(exc) if goaway is None else replace(goaway, cause=exc)
            )
        finally:
            self.close_now()

    async def _read_until_closed(self) -> None:
        state = self.state
        incoming = state.incoming  # None: h2's own frame buffer takes every read
        # Our frame buffer, on a socket or TLS on its own socket: reads go into
        # a reused buffer, each DATA payload copied out of it once.
        read_into = None if incoming is None else receive_into(self._stream)
        read_size = READ_SIZE
        while not state.closed:
            with map_exceptions(READ_ERRORS, self._origin, "reading from"):
                if read_into is not None:
                    assert incoming is not None
                    buffer = take_buffer()
                    try:
                        # A large frame under way is read to its end and no
                        # further: the reads before that end are its payload's
                        # pieces as they came (Payload), none cut by the next
                        # frame. Smaller frames are read many at once (a run).
                        missing = incoming.missing()
                        view = memoryview(buffer)
                        if missing >= WHOLE_READ_FRAME:
                            view = view[:missing]
                        count = await read_into(view)
                        incoming.add_data(memoryview(buffer)[:count])
                        actions = await self._receive(b"", count > 0)
                    finally:
                        # Nothing keeps a view of the buffer once it is given back.
                        incoming.detach()
                        give_back(buffer)
                else:
                    # A large frame under way (a download's DATA) is read to its end
                    # and no further, so that the reads after its first are its
                    # payload's pieces, handed on uncopied (Payload).
                    missing = 0 if incoming is None else incoming.missing()
                    size = min(missing, MAX_READ_SIZE) if missing >= READ_SIZE else read_size
                    data = await self._stream.receive_some(size)
                    read_size = (
                        min(2 * read_size, MAX_READ_SIZE) if len(data) == size else READ_SIZE
                    )
                    if incoming is not None:
                        incoming.add_data(data)
                        actions = await self._receive(b"", bool(data))
                    else:
                        actions = await self._receive(data, bool(data))
            if actions is None:
                return
            if actions:
                self._act(actions)
            await self._send_pending()

    async def _receive(self, data: bytes | bytearray, received: bool) -> int | None:
        """Feed h2 ``data`` (and our frame buffer's whole frames); the state's flags.

        ``None`` at the end of the stream (nothing ``received``), the
        connection then closed. A DATA frame spans many reads (TLS gives 16 KiB
        records): h2 hears of it once it is whole.
        """
        if not received:
            self._close(
                self.state.goaway_failure
                or StreamFailure(
                    RemoteProtocolError,
                    f"server {self._origin} closed the connection before the response was complete",
                )
            )
            return None
        incoming = self.state.incoming
        if incoming is not None and not incoming.has_frame():
            return 0
        try:
            return self.state.receive(self._h2.receive_data(data))
        except h2.exceptions.ProtocolError:
            # A connection error (RFC 9113 section 5.4.1): h2 or the
            # state queued a GOAWAY saying why.
            await self._send_goodbye()
            raise

    # -- Reading, for the request's task.

    async def _data_consumed(self, stream: Stream, size: int) -> None:
        self.state.credit(stream.stream_id, size)
        await self._send_pending()

    async def _abandon(self, stream: Stream) -> None:
        """The request's task is done with ``stream`` before its end (cancelled, failed, closed).

        :meth:`_release_stream`, then the RST_STREAM goes out within a short
        grace. Safe to call in a cancelled scope.
        """
        self._release_stream(stream)
        await self._send_goodbye()

    def _release_stream(self, stream: Stream) -> None:
        """Let go of ``stream`` without an await (:meth:`H2State.release_stream`)."""
        self._act(self.state.release_stream(stream))

    def _close_if_silent(self, exc: BaseException) -> None:
        """Close a connection whose server never sent its preface, once a read timed out.

        A server must start with SETTINGS (RFC 9113 section 3.4); one that has
        not by the end of a read timeout is not speaking HTTP/2, and requests
        must not keep queueing on it.
        """
        if isinstance(exc, ReadTimeout) and not self.state.settings_received.is_set():
            self._close(StreamFailure(ReadTimeout, str(exc), exc.__cause__))

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
                raise RetryOnNewConnection(
                    failure.message, refused_by_server=self.state.refusal_counts(failure)
                ) from exc
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
    ) -> Stream:
        """Use this request's reservation to open a stream and queue its HEADERS.

        The first stream goes at once; others wait for the peer's SETTINGS, to
        know its limit (RFC 9113 section 5.1.2). A request that finds the
        connection closed, or no stream free, was not sent: it goes back to
        the pool.
        """
        try:
            # A request cancelled before it got here puts nothing on the wire.
            await trio.lowlevel.checkpoint_if_cancelled()
            if self.state.opened_any and not self.state.settings_received.is_set():
                with (
                    map_exceptions(READ_ERRORS, self._origin, "waiting for the SETTINGS of"),
                    fail_after(read_timeout),
                ):
                    await self.state.settings_received.wait()
        except BaseException as exc:
            self.unreserve()
            self._close_if_silent(exc)
            raise
        with map_exceptions(WRITE_ERRORS, self._origin, "sending the request to"):
            try:
                return self.state.open_stream(method, url, headers, end_stream)
            except BaseException:
                self._act(self.state.freed())
                raise

    async def _send_body(
        self, stream: Stream, body: AsyncByteStream, timeout: float | None
    ) -> None:
        """Send the body as the peer's windows allow (RFC 9113 section 5.2), then END_STREAM."""
        async with body_chunks(body) as chunks:
            async for chunk in chunks:
                if not await self._send_chunk(stream, memoryview(chunk), timeout):
                    return
        if not stream.closed:
            self._act(self.state.end_request(stream))
            await self._send(timeout)

    async def _send_chunk(self, stream: Stream, data: memoryview, timeout: float | None) -> bool:
        """Send one chunk of the body; ``False`` if the server wants no more of it."""
        while data:
            if not await self._wait_for_window(stream, timeout):
                return False
            async with self._write_lock:
                # DATA is queued only by the lock holder, which sends it: the
                # reader task, which must keep reading, never finds a request
                # body to write. Other streams may have used the connection
                # window while we waited for the lock: look again.
                size = min(self.state.send_window(stream), MAX_WRITE_ROUND)
                self.state.queue_data(stream, data[:size])
                data = data[size:]
                await self._send_queued(timeout)
        return True

    async def _wait_for_window(self, stream: Stream, timeout: float | None) -> bool:
        """Wait until the peer lets us send some of the body; ``False`` if it wants no more.

        The reader task sets ``stream.window_open`` when a WINDOW_UPDATE or
        SETTINGS frame may have opened the window: the waiting task never
        reads, so no waiter can take another's update (pydantic/httpx2#1133: see
        docs/reliability.rst).
        """
        while self.state.send_window(stream) <= 0:
            if stream.reset:
                return False
            stream.window_open = trio.Event()
            with (
                map_exceptions(WRITE_ERRORS, self._origin, "waiting to send the request to"),
                fail_after(timeout),
            ):
                await stream.window_open.wait()
        return True

    async def _receive_response_head(
        self, stream: Stream, timeout: float | None
    ) -> tuple[int, RawHeaders]:
        """The final response's status and headers; 1xx are skipped (RFC 9113 section 8.1)."""
        while True:
            event = await stream.next_event(self._origin, timeout)
            if isinstance(event, h2.events.ResponseReceived):
                return response_head(event.headers or [])


class HTTP2ResponseStream(ConnectionBoundStream):
    """The body of one HTTP/2 response; its stream stays open until read or closed.

    Each chunk read gives its flow-control credit back. Closing before the
    end, or a cancellation while reading, resets only this stream.
    """

    def __init__(
        self, connection: HTTP2Connection, stream: Stream, read_timeout: float | None
    ) -> None:
        super().__init__(connection._origin)
        self._connection = connection
        self._stream = stream
        self._read_timeout = read_timeout

    def _abandon(self) -> None:
        self._connection._release_stream(self._stream)

    def _holds_connection(self) -> bool:
        return not self._stream.closed and not self._connection.state.closed

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        connection = self._connection
        try:
            while True:
                event = await self._stream.next_event(connection._origin, self._read_timeout)
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
