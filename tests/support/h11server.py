"""A scripted HTTP/1.1 server on h11: the test gives the per-request handler, for exact
control over each phase (events, partial bodies, closing, resetting) and exact counts
of the connections it saw."""

from __future__ import annotations

import socket
import struct
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import h11
import trio

from .servers import (
    HOST,
    ConnectionCounter,
    CountedConn,
    Server,
    open_listener,
    pattern,
    serve_listener,
)


class H11Request:
    """One request received by :func:`serve_http`, and the means to answer it."""

    def __init__(self, conn: H11Conn, request: h11.Request, server: Server, index: int) -> None:
        self.conn = conn
        self.method = request.method
        self.target = request.target
        self.headers: list[tuple[bytes, bytes]] = list(request.headers)
        self.http_version = request.http_version
        self.server = server
        self.index = index  # across the whole server, 0-based
        self._body: bytes | None = None

    @property
    def path(self) -> str:
        return self.target.decode("ascii").split("?", 1)[0]

    def header(self, name: bytes) -> bytes | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    async def read_body(self) -> bytes:
        if self._body is None:
            chunks = []
            while True:
                event = await self.conn.next_event()
                if isinstance(event, h11.Data):
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    raise ConnectionError(f"client went away: {event!r}")
            self._body = b"".join(chunks)
        return self._body

    async def read_body_chunk(self) -> bytes | None:
        """The next piece of the request body, ``None`` at its end."""
        event = await self.conn.next_event()
        if isinstance(event, h11.Data):
            return bytes(event.data)
        if isinstance(event, h11.EndOfMessage):
            self._body = b""
            return None
        raise ConnectionError(f"client went away: {event!r}")

    async def stall(self) -> None:
        """Do nothing more until the client closes the connection (reading what it sends)."""
        await self.conn.wait_peer_closed()

    async def send_interim(self, status: int, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
        await self.conn.send(h11.InformationalResponse(status_code=status, headers=list(headers)))

    async def start_response(
        self, status: int = 200, headers: Iterable[tuple[bytes, bytes]] = (), reason: bytes = b""
    ) -> None:
        await self.conn.send(
            h11.Response(status_code=status, headers=list(headers), reason=reason or b"")
        )

    async def send_data(self, data: bytes) -> None:
        await self.conn.send(h11.Data(data=data))

    async def end(self) -> None:
        await self.conn.send(h11.EndOfMessage())

    async def respond(
        self,
        status: int = 200,
        body: bytes = b"",
        headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        """A whole response with a Content-Length; reads the request body first."""
        if self._body is None:
            await self.read_body()
        hdrs = [(b"content-length", str(len(body)).encode()), *headers]
        h = self.conn.h11
        data = h.send(h11.Response(status_code=status, headers=hdrs)) or b""
        if body:
            data += h.send(h11.Data(data=body)) or b""
        data += h.send(h11.EndOfMessage()) or b""
        await self.conn.stream.send_all(data)  # one write: head and body arrive together


class H11Conn:
    """The h11 state of one server connection."""

    def __init__(self, stream: trio.SocketStream, counted: CountedConn) -> None:
        self.stream = stream
        self.counted = counted
        self.h11 = h11.Connection(h11.SERVER)

    async def next_event(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = await self.stream.receive_some(65536)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                self.h11.receive_data(data)
                continue
            return event

    async def send(self, event: Any) -> None:
        data = self.h11.send(event)
        if data:
            await self.stream.send_all(data)

    async def wait_peer_closed(self) -> None:
        """Read and drop everything until the client closes or resets the connection."""
        while True:
            try:
                data = await self.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return

    def reset(self) -> None:
        sock = self.stream.socket
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


H11Handler = Callable[[H11Request], Awaitable[None]]


async def default_h11_handler(request: H11Request) -> None:
    """``/`` and anything else: 200 with body b"hello"; ``/bytes/N``: N pattern bytes."""
    if request.path.startswith("/bytes/"):
        await request.respond(200, pattern(int(request.path.rsplit("/", 1)[1])))
        return
    if request.path.startswith("/status/"):
        await request.respond(int(request.path.rsplit("/", 1)[1]), b"")
        return
    await request.respond(200, b"hello")


async def serve_http(
    nursery: trio.Nursery,
    handler: H11Handler = default_h11_handler,
    *,
    close_idle: bool = False,
    idle_close_delay: float | None = None,
    bound: socket.socket | None = None,
) -> Server:
    """An HTTP/1.1 server on h11 calling ``await handler(request)`` per request.

    The handler must answer (``request.respond(...)``, or the lower-level calls);
    if it returns having sent a complete response, keep-alive goes on. If it
    raises or leaves the response incomplete, the connection is closed.
    ``close_idle=True`` closes each connection once its response is sent (after
    ``idle_close_delay`` seconds if given; a trio sleep, so MockClock applies),
    as a server with a short keep-alive timeout does.
    ``server.extra["requests"]`` lists every :class:`H11Request`, in order.
    ``bound`` is a socket bound already, to listen on (by default a new one on port 0).
    """
    counter = ConnectionCounter()
    stop = trio.Event()
    listener = await open_listener(bound=bound)
    port = listener.socket.getsockname()[1]
    server = Server("http", HOST, port, counter, stop)
    requests: list[H11Request] = []
    server.extra["requests"] = requests
    server.extra["idle_closed"] = 0

    async def handle(stream: trio.SocketStream, counted: CountedConn) -> None:
        conn = H11Conn(stream, counted)
        while True:
            try:
                event = await conn.next_event()
            except h11.RemoteProtocolError:
                return
            if not isinstance(event, h11.Request):
                return
            request = H11Request(conn, event, server, len(requests))
            requests.append(request)
            counted.requests += 1
            counter.changed()
            try:
                await handler(request)
            except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError):
                return
            except h11.ProtocolError:
                return
            if conn.h11.our_state is not h11.DONE:
                return
            if conn.h11.their_state is not h11.DONE:
                try:
                    while not isinstance(await conn.next_event(), h11.EndOfMessage):
                        pass
                except h11.ProtocolError:
                    return
            if h11.MUST_CLOSE in (conn.h11.our_state, conn.h11.their_state):
                return
            if close_idle:
                if idle_close_delay is not None:
                    await trio.sleep(idle_close_delay)
                server.extra["idle_closed"] += 1
                counter.changed()
                return
            try:
                conn.h11.start_next_cycle()
            except h11.ProtocolError:
                return

    await nursery.start(serve_listener, listener, handle, counter, stop)
    return server
