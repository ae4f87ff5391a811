"""A scripted HTTP/3 server: aioquic's QuicConnection and H3Connection over a trio UDP socket.

For what Hypercorn cannot be made to do on cue: a handler per request stream
decides (stall, reset, GOAWAY, close), and records what the client did (its
RESET_STREAM, STOP_SENDING, CONNECTION_CLOSE). One task reads the socket and
fires every connection's timer; handlers run beside it; sending never waits.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from aioquic.buffer import Buffer, encode_uint_var
from aioquic.h3 import events as h3_events
from aioquic.h3.connection import H3_ALPN, ErrorCode, FrameType, H3Connection, encode_frame
from aioquic.quic import events as quic_events
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import Limit, QuicConnection
from aioquic.quic.packet import pull_quic_header

from tests.support.servers import HOST, url4
from tests.support.tls import TLSMaterial
from trio_httpcore._types import URL4

Handler = Callable[["ServerStream"], Awaitable[None]]


class ServerStream:
    """One request stream as the handler sees it: the request, its body, the client's resets."""

    def __init__(self, connection: ServerConnection, stream_id: int, headers: Any) -> None:
        self.connection = connection
        self.stream_id = stream_id
        fields = dict(headers)
        self.method: bytes = fields.get(b":method", b"")
        self.path: str = fields.get(b":path", b"").decode()
        self.body = bytearray()
        self.body_ended = False
        self._arrival = trio.lowlevel.ParkingLot()
        self.reset_received = trio.Event()  # the client's RESET_STREAM
        self.stop_sending_received = trio.Event()  # the client's STOP_SENDING
        self.reset_code: int | None = None
        self.stop_code: int | None = None

    def _feed(self, data: bytes, ended: bool) -> None:
        self.body += data
        self.body_ended = self.body_ended or ended
        self._arrival.unpark_all()

    def _reset(self, error_code: int) -> None:
        self.reset_code = error_code
        self.reset_received.set()
        self._arrival.unpark_all()

    async def read_body(self) -> bytes:
        """The whole request body (what arrived, if the client reset the stream)."""
        while not self.body_ended and not self.reset_received.is_set():
            await self._arrival.park()
        return bytes(self.body)

    async def wait_for_body(self, size: int) -> None:
        """Wait until ``size`` body bytes arrived (or the body ended, or was reset)."""
        while len(self.body) < size and not self.body_ended and not self.reset_received.is_set():
            await self._arrival.park()

    def send_headers(self, status: int, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        if self.stop_sending_received.is_set():
            return  # the client wants no response: QUIC reset our side already
        fields = [(b":status", str(status).encode()), *(headers or [])]
        self.connection.h3.send_headers(self.stream_id, fields)
        self.connection.transmit()

    def send_data(self, data: bytes, end: bool = False) -> None:
        if self.stop_sending_received.is_set():
            return
        self.connection.h3.send_data(self.stream_id, data, end)
        self.connection.transmit()

    def respond(self, status: int, body: bytes) -> None:
        self.send_headers(status, [(b"content-length", str(len(body)).encode())])
        self.send_data(body, end=True)

    def reset(self, error_code: int) -> None:
        """RESET_STREAM and STOP_SENDING with ``error_code`` (RFC 9114 section 4.1.1)."""
        quic = self.connection.quic
        quic.reset_stream(self.stream_id, error_code)
        quic.stop_stream(self.stream_id, error_code)
        self.connection.transmit()


async def hello(stream: ServerStream) -> None:
    """The default handler: read the request, answer 200 ``hello``."""
    await stream.read_body()
    stream.respond(200, b"hello")


class _StreamCap(Limit):
    """The server's request-stream limit (MAX_STREAMS, RFC 9000 section 4.6), held at the
    streams the client closed plus ``concurrent``.

    aioquic offers 128 streams and raises the limit its own way (doubling it as
    streams open before 1.4, one per stream closed since): every raise is capped here.
    """

    def __init__(self, quic: QuicConnection, concurrent: int) -> None:
        limit = quic._local_max_streams_bidi
        self.frame_type, self.name, self.used = limit.frame_type, limit.name, limit.used
        self.sent = self._value = concurrent
        self._quic = quic
        self._concurrent = concurrent

    @property  # type: ignore[override]
    def value(self) -> int:
        return self._value

    @value.setter
    def value(self, value: int) -> None:
        still_open = sum(1 for stream_id in self._quic._streams if stream_id % 4 == 0)
        closed = self.used - still_open
        self._value = max(self.sent, min(value, closed + self._concurrent))


class ServerConnection:
    """One client's QUIC connection on the server, with its HTTP/3 layer."""

    def __init__(self, server: ScriptedH3Server, quic: QuicConnection, addr: Any) -> None:
        self.server = server
        self.quic = quic
        self.addr = addr
        self.h3 = H3Connection(quic)
        self.streams: dict[int, ServerStream] = {}
        self.terminated = trio.Event()
        self.close_code: int | None = None  # the error code of the client's CONNECTION_CLOSE

    def transmit(self) -> None:
        self.server.transmit(self)

    def send_goaway(self, stream_id: int) -> None:
        """GOAWAY on the control stream (RFC 9114 section 5.2): streams >= ``stream_id`` refused."""
        control = self.h3._local_control_stream_id
        assert control is not None
        frame = encode_frame(FrameType.GOAWAY, encode_uint_var(stream_id))
        self.quic.send_stream_data(control, frame)
        self.transmit()

    def close(self, error_code: int = ErrorCode.H3_NO_ERROR) -> None:
        self.quic.close(error_code=error_code)
        self.transmit()

    def _process_events(self, nursery: trio.Nursery) -> None:
        while (event := self.quic.next_event()) is not None:
            if isinstance(event, quic_events.ConnectionTerminated):
                self.close_code = event.error_code
                self.terminated.set()
                for stream in self.streams.values():
                    stream._reset(event.error_code)
                return
            if isinstance(event, quic_events.StreamReset):
                if event.stream_id in self.streams:
                    self.streams[event.stream_id]._reset(event.error_code)
            elif isinstance(event, quic_events.StopSendingReceived):
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.stop_code = event.error_code
                    stream.stop_sending_received.set()
            for h3_event in self.h3.handle_event(event):
                self._route(h3_event, nursery)

    def _route(self, event: h3_events.H3Event, nursery: trio.Nursery) -> None:
        if isinstance(event, h3_events.HeadersReceived) and event.stream_id not in self.streams:
            stream = ServerStream(self, event.stream_id, event.headers)
            self.streams[event.stream_id] = stream
            self.server.requests.append(stream)
            if event.stream_ended:
                stream._feed(b"", True)
            nursery.start_soon(self.server.handler, stream)
        elif isinstance(event, h3_events.DataReceived) and event.stream_id in self.streams:
            self.streams[event.stream_id]._feed(event.data, event.stream_ended)


class ScriptedH3Server:
    """HTTP/3 on a UDP socket bound to 127.0.0.1:0; ``handler`` runs once per request.

    ``max_streams`` is the request streams a client may have open at once
    (QUIC's initial MAX_STREAMS, RFC 9000 section 4.6); ``idle_timeout`` is
    the server's QUIC idle timeout.
    """

    def __init__(
        self,
        tls: TLSMaterial,
        handler: Handler = hello,
        *,
        max_streams: int = 128,
        idle_timeout: float = 60.0,
    ) -> None:
        self.handler = handler
        self._max_streams = max_streams
        self._configuration = QuicConfiguration(
            is_client=False, alpn_protocols=H3_ALPN, idle_timeout=idle_timeout
        )
        self._configuration.load_cert_chain(tls.certfile, tls.keyfile)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._sock.bind((HOST, 0))
        self.port: int = self._sock.getsockname()[1]
        self._by_addr: dict[Any, ServerConnection] = {}
        self.connections: list[ServerConnection] = []  # every connection, in order
        self.requests: list[ServerStream] = []  # every request, in order
        self._wait_scope: trio.CancelScope | None = None
        self._scope = trio.CancelScope()

    def url4(self, path: str = "/") -> URL4:
        return url4("https", HOST, self.port, path)

    def stop(self) -> None:
        self._scope.cancel()

    def transmit(self, connection: ServerConnection) -> None:
        """Send what ``connection`` has ready; wake the reader if its timer moved earlier."""
        for data, addr in connection.quic.datagrams_to_send(now=trio.current_time()):
            try:
                self._sock.sendto(data, addr)
            except BlockingIOError:  # pragma: no cover - QUIC sends it again
                break
        timer = connection.quic.get_timer()
        if self._wait_scope is not None and timer is not None:
            self._wait_scope.deadline = min(self._wait_scope.deadline, timer)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            with self._scope:
                async with trio.open_nursery() as handlers:
                    task_status.started()
                    while True:
                        await self._pump(handlers)
        finally:
            trio.lowlevel.notify_closing(self._sock)
            self._sock.close()

    async def _pump(self, handlers: trio.Nursery) -> None:
        timers = [t for c in self._by_addr.values() if (t := c.quic.get_timer()) is not None]
        with trio.CancelScope(deadline=min(timers, default=math.inf)) as self._wait_scope:
            await trio.lowlevel.wait_readable(self._sock)
        self._wait_scope = None
        now = trio.current_time()
        while True:
            try:
                data, addr = self._sock.recvfrom(65536)
            except BlockingIOError:
                break
            connection = self._by_addr.get(addr) or self._accept(data, addr)
            if connection is not None:
                connection.quic.receive_datagram(data, addr, now=now)
        for connection in list(self._by_addr.values()):
            timer = connection.quic.get_timer()
            if timer is not None and timer <= now:
                connection.quic.handle_timer(now=now)
            connection._process_events(handlers)
            self.transmit(connection)
            if connection.terminated.is_set():
                del self._by_addr[connection.addr]

    def _accept(self, data: bytes, addr: Any) -> ServerConnection | None:
        """A new connection for a client's first Initial packet; anything else is dropped."""
        try:
            header = pull_quic_header(Buffer(data=data), host_cid_length=8)
        except ValueError:  # pragma: no cover - not QUIC
            return None
        if header.version is None or header.packet_type is None:  # pragma: no cover
            return None
        quic = QuicConnection(
            configuration=self._configuration,
            original_destination_connection_id=header.destination_cid,
        )
        quic._local_max_streams_bidi = _StreamCap(quic, self._max_streams)
        connection = ServerConnection(self, quic, addr)
        self._by_addr[addr] = connection
        self.connections.append(connection)
        return connection


async def serve_scripted_h3(
    nursery: trio.Nursery, tls: TLSMaterial, handler: Handler = hello, **options: Any
) -> ScriptedH3Server:
    """A :class:`ScriptedH3Server` running in ``nursery`` (stopped with it, or by ``stop()``)."""
    server = ScriptedH3Server(tls, handler, **options)
    await nursery.start(server.run)
    return server
