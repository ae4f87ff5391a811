"""A scripted HTTP/2 server for the tests: the h2 library server-side, in the test's nursery.

Each accepted connection gets an :class:`H2ServerConnection`: one task reads
and feeds h2, and each request stream runs the test's handler in its own task
with an :class:`H2ServerStream`, which can answer, stall, send in pieces,
send trailers or reset. The connection can send GOAWAY, PING and SETTINGS
and close. Sending respects the client's flow-control windows.

The server's h2 enforces its own SETTINGS as soon as they are sent (they
replace h2's defaults rather than waiting for the client's ACK), so a client
that opens more streams than ``MAX_CONCURRENT_STREAMS`` allows breaks the
connection, and the test sees it in ``server.errors``.

What the server saw is recorded for the tests to check: the streams of each
connection in order, the peak number open at once, every RST_STREAM received,
PING ACKs, a GOAWAY, and protocol errors its h2 raised.

:func:`serve_h2_hello_tls` is a much smaller one over TLS (ALPN h2) that answers
every request ``hello`` and records the stream ids in wire order.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hyperframe.frame
import trio
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hpack import Encoder, NeverIndexedHeaderTuple

from .raw import RawConn, serve_raw
from .servers import ConnectionCounter, CountedConn, Server, open_listener, pattern, serve_listener
from .tls import TLSMaterial

Handler = Callable[["H2ServerStream"], Awaitable[None]]


class H2ServerStream:
    """One request the server received, and the means to answer it."""

    def __init__(self, conn: H2ServerConnection, stream_id: int, headers: list[Any]) -> None:
        self.conn = conn
        self.stream_id = stream_id
        self.headers: list[tuple[bytes, bytes]] = [(bytes(k), bytes(v)) for k, v in headers]
        self.body_chunks_in, self._body_chunks = trio.open_memory_channel[bytes](math.inf)
        self.reset_code: ErrorCodes | int | None = None
        self.reset_received = trio.Event()  # the client sent RST_STREAM
        self.open_when_received = 0  # streams open on the connection, this one included
        self.received = 0  # request body bytes so far

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def path(self) -> str:
        value = self.header(b":path") or b""
        return value.decode("ascii")

    @property
    def method(self) -> bytes:
        return self.header(b":method") or b""

    async def read_body(self) -> bytes:
        """The whole request body; b"" if the stream was reset first."""
        chunks = [chunk async for chunk in self._body_chunks]
        return b"".join(chunks)

    async def send_headers(
        self, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None, end: bool = False
    ) -> None:
        block = [(b":status", str(status).encode()), *(headers or [])]
        self.conn.h2.send_headers(self.stream_id, block, end_stream=end)
        await self.conn.flush()

    async def send_data(self, data: bytes, end: bool = False) -> None:
        """Send ``data`` as the client's windows allow; ``end`` sets END_STREAM."""
        conn = self.conn
        view = memoryview(data)
        while view:
            window = conn.h2.local_flow_control_window(self.stream_id)
            if window <= 0:
                if self.reset_received.is_set():
                    return
                await conn.window_changed_event().wait()
                continue
            size = min(window, conn.h2.max_outbound_frame_size, len(view))
            conn.h2.send_data(self.stream_id, bytes(view[:size]))
            view = view[size:]
            await conn.flush()
        if end:
            conn.h2.end_stream(self.stream_id)
            await conn.flush()

    async def end(self) -> None:
        self.conn.h2.end_stream(self.stream_id)
        await self.conn.flush()

    async def send_trailers(self, trailers: list[tuple[bytes, bytes]]) -> None:
        self.conn.h2.send_headers(self.stream_id, trailers, end_stream=True)
        await self.conn.flush()

    async def respond(
        self,
        status: int = 200,
        body: bytes = b"",
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        hdrs = [(b"content-length", str(len(body)).encode()), *(headers or [])]
        await self.send_headers(status, hdrs, end=not body)
        if body:
            await self.send_data(body, end=True)

    async def reset(self, code: ErrorCodes = ErrorCodes.CANCEL) -> None:
        self.conn.h2.reset_stream(self.stream_id, code)
        await self.conn.flush()


class H2ServerConnection:
    """The server side of one HTTP/2 connection."""

    def __init__(self, raw: RawConn, server: H2Server) -> None:
        self.raw = raw
        self.server = server
        self.index = raw.index
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        settings = {SettingCodes.MAX_CONCURRENT_STREAMS: 1000, **server.settings}
        self.h2.local_settings = h2.settings.Settings(client=False, initial_values=settings)
        self.h2.max_inbound_frame_size = self.h2.local_settings.max_frame_size
        self.streams: dict[int, H2ServerStream] = {}
        self.stream_ids: list[int] = []  # every stream the client opened, in order
        self.peak_open = 0  # h2's count of open streams, at its highest
        self.ping_acks: list[bytes] = []
        self.goaway_received: ErrorCodes | int | None = None
        self.closed = trio.Event()
        self.settings_acked = trio.Event()
        self._window_changed = trio.Event()
        self._write_lock = trio.Lock()

    def window_changed_event(self) -> trio.Event:
        return self._window_changed

    def _notify_window(self) -> None:
        self._window_changed.set()
        self._window_changed = trio.Event()

    async def flush(self) -> None:
        async with self._write_lock:
            while data := self.h2.data_to_send():
                try:
                    await self.raw.stream.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return

    async def send_raw(self, data: bytes) -> None:
        """Bytes that bypass h2: for frames a well-behaved server never sends."""
        async with self._write_lock:
            await self.raw.stream.send_all(data)

    async def send_settings(self, settings: dict[SettingCodes | int, int]) -> None:
        self.h2.update_settings(settings)
        await self.flush()

    async def ping(self, data: bytes = b"12345678") -> None:
        self.h2.ping(data)
        await self.flush()

    async def goaway(self, last_stream_id: int, code: ErrorCodes = ErrorCodes.NO_ERROR) -> None:
        """Send GOAWAY as nginx does: the streams up to ``last_stream_id`` can still be
        answered (h2's own ``close_connection`` would refuse every frame after it)."""
        frame = hyperframe.frame.GoAwayFrame(0, last_stream_id=last_stream_id, error_code=code)
        await self.flush()
        await self.send_raw(frame.serialize())

    async def close(self) -> None:
        """Close the socket: the client sees end of file."""
        await trio.aclose_forcefully(self.raw.stream)

    async def run(self) -> None:
        if self.server.settings_gate is not None:
            await self.server.settings_gate.wait()
        self.h2.initiate_connection()
        await self.flush()
        try:
            async with trio.open_nursery() as nursery:
                await self._read(nursery)
                nursery.cancel_scope.cancel()
        finally:
            self.closed.set()
            self._notify_window()
            self.server.changed()

    async def _read(self, nursery: trio.Nursery) -> None:
        while True:
            data = await self.raw.receive_some()
            if not data:
                return
            try:
                events = self.h2.receive_data(data)
            except h2.exceptions.ProtocolError as exc:
                self.server.errors.append(exc)
                await self.flush()
                return
            for event in events:
                self._handle(event, nursery)
            await self.flush()
            self.server.changed()

    def _handle(self, event: h2.events.Event, nursery: trio.Nursery) -> None:
        if isinstance(event, h2.events.RequestReceived):
            assert event.stream_id is not None
            stream = H2ServerStream(self, event.stream_id, list(event.headers or []))
            self.streams[event.stream_id] = stream
            self.stream_ids.append(event.stream_id)
            stream.open_when_received = self.h2.open_inbound_streams
            self.peak_open = max(self.peak_open, stream.open_when_received)
            self.server.requests.append(stream)
            nursery.start_soon(self._run_handler, stream)
        elif isinstance(event, h2.events.DataReceived):
            stream = self.streams[event.stream_id]
            stream.body_chunks_in.send_nowait(event.data)
            stream.received += len(event.data or b"")
            if self.server.ack_data:
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self.streams[event.stream_id]
            stream.body_chunks_in.close()
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams[event.stream_id]
            stream.reset_code = event.error_code
            self.server.resets.append((self.index, event.stream_id, event.error_code))
            stream.body_chunks_in.close()
            stream.reset_received.set()
            self._notify_window()
        elif isinstance(event, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
            self._notify_window()
        elif isinstance(event, h2.events.SettingsAcknowledged):
            self.settings_acked.set()
        elif isinstance(event, h2.events.PingAckReceived):
            self.ping_acks.append(bytes(event.ping_data or b""))
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway_received = event.error_code

    @property
    def open_now(self) -> int:
        """Streams open on this connection, as the server's h2 counts them."""
        return self.h2.open_inbound_streams

    async def _run_handler(self, stream: H2ServerStream) -> None:
        try:
            await self.server.handler(stream)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            pass  # the client reset the stream, or the connection ended under it
        finally:
            self.server.changed()


@dataclass(eq=False)
class H2Server:
    """A running scripted HTTP/2 server, and what it saw."""

    handler: Handler
    settings: dict[SettingCodes, int] = field(default_factory=dict)
    settings_gate: trio.Event | None = None  # hold the server's SETTINGS until set
    ack_data: bool = True  # give flow-control credit for request bodies as they arrive
    connections: list[H2ServerConnection] = field(default_factory=list)
    requests: list[H2ServerStream] = field(default_factory=list)
    resets: list[tuple[int, int, ErrorCodes | int]] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)
    _tcp: Server | None = None  # set by serve_h2 once the listener is up
    _changed: trio.Event = field(default_factory=trio.Event)

    @property
    def tcp(self) -> Server:
        """The listening socket's :class:`Server` (always set once :func:`serve_h2` returns)."""
        assert self._tcp is not None
        return self._tcp

    def url4(self, path: str = "/") -> tuple[bytes, bytes, int | None, bytes]:
        return self.tcp.url4(path)

    def changed(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds (re-checked whenever the server saw something)."""
        with trio.fail_after(10):  # a guard against hangs only; no result depends on time
            while not predicate():
                await self._changed.wait()

    def peak_open(self) -> int:
        return max((conn.peak_open for conn in self.connections), default=0)

    async def _serve(self, raw: RawConn) -> None:
        conn = H2ServerConnection(raw, self)
        self.connections.append(conn)
        self.changed()
        await conn.run()


async def serve_h2(
    nursery: trio.Nursery,
    handler: Handler,
    settings: dict[SettingCodes, int] | None = None,
    settings_gate: trio.Event | None = None,
    ack_data: bool = True,
) -> H2Server:
    """Start an :class:`H2Server` on 127.0.0.1 port 0 in ``nursery``."""
    server = H2Server(handler, settings or {}, settings_gate, ack_data)
    server._tcp = await serve_raw(nursery, server._serve)
    return server


async def default_handler(stream: H2ServerStream) -> None:
    """``/bytes/N``: N bytes of :func:`pattern`; ``/echo_body``: the body; ``/ok/...``: the
    path; else b"hello"."""
    body = await stream.read_body()
    path = stream.path
    if path.startswith("/bytes/"):
        await stream.respond(200, pattern(int(path.split("/")[2])))
    elif path == "/echo_body":
        await stream.respond(200, body)
    elif path.startswith("/ok/"):
        await stream.respond(200, path.encode())
    else:
        await stream.respond(200, b"hello")


async def serve_h2_hello_tls(nursery: trio.Nursery, tls: TLSMaterial) -> Server:
    """A minimal HTTP/2 server over TLS (ALPN h2) on h2: every request gets 200 b"hello".

    ``server.extra["stream_ids"]`` lists the stream ids of the requests in the
    order their HEADERS arrived on the wire, across all connections.
    """
    counter = ConnectionCounter()
    stop = trio.Event()
    listener = await open_listener()
    context = tls.server_context(alpn=["h2"])
    stream_ids: list[int] = []

    async def handle(stream: trio.SocketStream, counted: CountedConn) -> None:
        tls_stream = trio.SSLStream(stream, context, server_side=True)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        try:
            await tls_stream.send_all(conn.data_to_send())
            while data := await tls_stream.receive_some(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        stream_ids.append(event.stream_id)
                        counted.requests += 1
                        conn.send_headers(
                            event.stream_id, [(":status", "200"), ("content-length", "5")]
                        )
                        conn.send_data(event.stream_id, b"hello", end_stream=True)
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        return
                await tls_stream.send_all(conn.data_to_send())
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return

    await nursery.start(serve_listener, listener, handle, counter, stop)
    port = listener.socket.getsockname()[1]
    return Server("https", "127.0.0.1", port, counter, stop, {"stream_ids": stream_ids})


def raw_frame(frame_type: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    """One frame's bytes as given, for frames h2 and hyperframe refuse to build."""
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes([frame_type, flags])
        + struct.pack(">I", stream_id)
        + payload
    )


def raw_headers_frame(stream_id: int, fields: list[tuple[bytes, bytes]], end: bool = True) -> bytes:
    """A HEADERS frame with END_HEADERS (and END_STREAM if ``end``), for fields h2 would
    refuse to send.

    Never indexed, so that the server's HPACK table stays as the client's decoder has it.
    """
    block = Encoder().encode([NeverIndexedHeaderTuple(k, v) for k, v in fields])
    return raw_frame(0x1, 0x5 if end else 0x4, stream_id, block)
