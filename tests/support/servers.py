"""Real servers for the tests, run inside the test's own trio nursery.

Three kinds, all bound to 127.0.0.1 on port 0:

* :func:`serve_hypercorn`: Hypercorn (which runs on trio) serving :class:`TestApp`,
  plain HTTP/1.1 (which also answers h2c with prior knowledge), or TLS with a
  trustme certificate.
* :func:`serve_http`: a small h11 server of our own whose per-request handler is
  given by the test, for exact control over each phase (events, partial bodies,
  closing, resetting) and for exact counts of the connections it saw.
* :func:`serve_raw`: a TCP server whose per-connection handler gets a
  :class:`RawConn`, for peers that do not speak HTTP properly.

Every server counts connections as they open and close; a connection counts as
closed as soon as the peer's FIN or RST has arrived in the kernel, even when
the handler has not noticed yet (see :meth:`ConnectionCounter.reap`), so
"peak open connections" is what the client really had open at once.
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import h11
import trio

URL4 = tuple[bytes, bytes, "int | None", bytes]

HOST = "127.0.0.1"


def url4(scheme: str, host: str, port: int, path: str = "/") -> URL4:
    return (scheme.encode(), host.encode(), port, path.encode())


def pattern(n: int) -> bytes:
    """``n`` bytes of a recognisable, position-dependent pattern."""
    block = bytes(range(256))
    return (block * (n // 256 + 1))[:n]


# ---------------------------------------------------------------------------
# Connection counting


def _peer_closed(sock: trio.socket.SocketType) -> bool:
    """True when the peer's FIN or RST is already queued on ``sock`` (no await)."""
    try:
        fd = sock.fileno()
    except OSError:
        return True
    if fd < 0:
        return True
    raw = socket.socket(fileno=fd)
    try:
        data = raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        raw.detach()
    return data == b""


@dataclass(eq=False)
class CountedConn:
    """One connection a server accepted."""

    index: int
    sock: trio.socket.SocketType
    peer_port: int
    peer_host: str = ""
    closed: trio.Event = field(default_factory=trio.Event)
    requests: int = 0


class ConnectionCounter:
    """Counts open, peak and total connections, and lets a test wait for a condition."""

    def __init__(self) -> None:
        self.total = 0
        self.peak = 0
        self.open: set[CountedConn] = set()
        self.history: list[CountedConn] = []
        self._changed = trio.Event()

    @property
    def open_now(self) -> int:
        self.reap()
        return len(self.open)

    def reap(self) -> None:
        """Count as closed every connection whose peer has already closed it."""
        for conn in list(self.open):
            if _peer_closed(conn.sock):
                self._mark_closed(conn)

    def opened(self, sock: trio.socket.SocketType) -> CountedConn:
        self.reap()
        try:
            peer_host, peer_port = sock.getpeername()[:2]
        except (OSError, ValueError, TypeError):  # a Unix socket
            peer_host, peer_port = "", 0
        conn = CountedConn(index=self.total, sock=sock, peer_port=peer_port, peer_host=peer_host)
        self.total += 1
        self.open.add(conn)
        self.history.append(conn)
        self.peak = max(self.peak, len(self.open))
        self._notify()
        return conn

    def _mark_closed(self, conn: CountedConn) -> None:
        self.open.discard(conn)
        if not conn.closed.is_set():
            conn.closed.set()
        self._notify()

    def closed(self, conn: CountedConn) -> None:
        self._mark_closed(conn)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def changed(self) -> None:
        """Wake :meth:`wait_for` callers to re-check their condition."""
        self._notify()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` is true (re-checked on every change)."""
        while not predicate():
            await self._changed.wait()


# ---------------------------------------------------------------------------
# Raw TCP servers


class RawConn:
    """The server side of one connection, for handlers of :func:`serve_raw`."""

    def __init__(self, stream: trio.SocketStream, counted: CountedConn) -> None:
        self.stream = stream
        self.counted = counted
        self.buffer = b""

    @property
    def index(self) -> int:
        return self.counted.index

    async def receive_some(self) -> bytes:
        if self.buffer:
            data, self.buffer = self.buffer, b""
            return data
        try:
            return await self.stream.receive_some(65536)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return b""

    async def read_until(self, delimiter: bytes = b"\r\n\r\n") -> bytes:
        """Read up to and including ``delimiter``; b"" on EOF before it."""
        while delimiter not in self.buffer:
            try:
                data = await self.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                return b""
            self.buffer += data
        head, _, self.buffer = self.buffer.partition(delimiter)
        return head + delimiter

    async def read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            data = await self.stream.receive_some(65536)
            if not data:
                break
            self.buffer += data
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    async def read_request_head(self) -> bytes:
        """The request line and headers, or b"" when the client closed first."""
        return await self.read_until(b"\r\n\r\n")

    async def read_request(self) -> tuple[bytes, bytes]:
        """A whole request with a Content-Length (or no) body: ``(head, body)``."""
        head = await self.read_request_head()
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        body = await self.read_exactly(length) if length else b""
        return head, body

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def wait_closed_by_peer(self) -> None:
        """Read and drop everything until the client closes or resets."""
        while True:
            try:
                data = await self.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return

    def reset(self) -> None:
        """Abort the connection: SO_LINGER 0 makes close() send RST."""
        sock = self.stream.socket
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)


RawHandler = Callable[[RawConn], Awaitable[None]]


@dataclass(eq=False)
class Server:
    """A running server: where it is, what it saw, and how to stop it."""

    scheme: str
    host: str
    port: int
    counter: ConnectionCounter
    stop: trio.Event
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url4(self, path: str = "/", host: str | None = None) -> URL4:
        return url4(self.scheme, host or self.host, self.port, path)

    @property
    def connections(self) -> list[CountedConn]:
        return self.counter.history


async def _serve_listener(
    listener: trio.SocketListener,
    handler: Callable[[trio.SocketStream, CountedConn], Awaitable[None]],
    counter: ConnectionCounter,
    stop: trio.Event,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    async def one(stream: trio.SocketStream) -> None:
        counted = counter.opened(stream.socket)
        try:
            await handler(stream, counted)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client went away while the handler wrote: normal for a server
        finally:
            await trio.aclose_forcefully(stream)
            counter.closed(counted)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, one, [listener])
        task_status.started()
        await stop.wait()
        nursery.cancel_scope.cancel()


async def _open_listener(backlog: int = 128, port: int = 0) -> trio.SocketListener:
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    await sock.bind((HOST, port))
    sock.listen(backlog)
    return trio.SocketListener(sock)


async def serve_raw(nursery: trio.Nursery, handler: RawHandler) -> Server:
    """A TCP server on 127.0.0.1:0 calling ``handler(RawConn)`` for each connection.

    When the handler returns, the connection is closed. The server stops when the
    nursery is cancelled or ``server.stop`` is set.
    """
    counter = ConnectionCounter()
    stop = trio.Event()
    listener = await _open_listener()
    port = listener.socket.getsockname()[1]

    async def adapt(stream: trio.SocketStream, counted: CountedConn) -> None:
        await handler(RawConn(stream, counted))

    await nursery.start(_serve_listener, listener, adapt, counter, stop)
    return Server("http", HOST, port, counter, stop)


async def serve_blackhole(nursery: trio.Nursery) -> Server:
    """A port whose connects hang in SYN_SENT: the accept queue is full and never drained.

    Linux drops SYNs once a listener's accept queue is full; with a backlog of 0
    one connection fills it, so we make that one ourselves (and keep it open).
    """
    counter = ConnectionCounter()
    stop = trio.Event()
    listen = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    await listen.bind((HOST, 0))
    listen.listen(0)
    port = listen.getsockname()[1]
    fillers: list[socket.socket] = []
    # Fill the accept queue: connect until a connect stays in SYN_SENT. On loopback
    # the kernel runs the handshake within connect(), so the state is known at once.
    for _ in range(16):
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.setblocking(False)
        fillers.append(filler)
        filler.connect_ex((HOST, port))
        state = filler.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
        if state == _TCP_SYN_SENT:
            break
    else:  # pragma: no cover - depends on the kernel
        raise RuntimeError("could not fill the accept queue")

    async def hold(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            task_status.started()
            await stop.wait()
        finally:
            for s in fillers:
                s.close()
            listen.close()

    await nursery.start(hold)
    return Server("http", HOST, port, counter, stop)


_TCP_SYN_SENT = 2  # tcpi_state in struct tcp_info (linux/tcp.h)


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on (bound then released at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------
# A scripted HTTP/1.1 server on h11


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
    port: int = 0,
) -> Server:
    """An HTTP/1.1 server on h11 calling ``await handler(request)`` per request.

    The handler must answer (``request.respond(...)``, or the lower-level calls);
    if it returns having sent a complete response, keep-alive goes on. If it
    raises or leaves the response incomplete, the connection is closed.
    ``close_idle=True`` closes each connection once its response is sent (after
    ``idle_close_delay`` seconds if given; a trio sleep, so MockClock applies),
    as a server with a short keep-alive timeout does.
    ``server.extra["requests"]`` lists every :class:`H11Request`, in order.
    ``port`` picks the port (0: any free one).
    """
    counter = ConnectionCounter()
    stop = trio.Event()
    listener = await _open_listener(port=port)
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
            if conn.h11.our_state is h11.MUST_CLOSE or conn.h11.their_state is h11.MUST_CLOSE:
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

    await nursery.start(_serve_listener, listener, handle, counter, stop)
    return server


# ---------------------------------------------------------------------------
# Hypercorn serving an ASGI test app


class Gate:
    """A point where the test app stops until the test lets it go on."""

    def __init__(self) -> None:
        self.arrived = trio.Event()  # the request reached the app
        self.headers_sent = trio.Event()  # response headers (and a first chunk) were sent
        self.release = trio.Event()  # the test lets the app finish the response
        self.finished = trio.Event()  # the app returned
        self.disconnected = trio.Event()  # the app saw http.disconnect


Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class TestApp:
    """The ASGI app the Hypercorn servers run.

    Routes (GET unless said otherwise):

    * ``/echo``: JSON of ``method``, ``path``, ``query``, ``http_version``,
      ``headers`` (list of [name, value] latin-1 strings), ``body`` (latin-1).
    * ``/echo_body``: the request body, as is.
    * ``/status/<code>``: that status, empty body.
    * ``/bytes/<n>``: ``n`` bytes of :func:`pattern`, with Content-Length.
    * ``/stream/<chunks>/<size>``: ``chunks`` chunks of ``size`` bytes, no
      Content-Length (so HTTP/1.1 sends it chunked).
    * ``/gate/<name>``: signals ``app.gate(name).arrived``, sends headers and
      b"first", signals ``headers_sent``, waits for ``release``, sends b"last".
    * ``/close``: a response with ``Connection: close``.
    * anything else: 200 ``hello``.
    """

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self.gates: dict[str, Gate] = {}
        self.requests: list[Scope] = []

    def gate(self, name: str) -> Gate:
        if name not in self.gates:
            self.gates[name] = Gate()
        return self.gates[name]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":  # pragma: no cover
            return
        self.requests.append(scope)
        path: str = scope["path"]
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break

        async def respond(
            status: int, content: bytes, headers: list[tuple[bytes, bytes]] | None = None
        ) -> None:
            hdrs = [(b"content-length", str(len(content)).encode()), *(headers or [])]
            await send({"type": "http.response.start", "status": status, "headers": hdrs})
            await send({"type": "http.response.body", "body": content})

        if path == "/echo":
            doc = {
                "method": scope["method"],
                "path": path,
                "query": scope["query_string"].decode("latin-1"),
                "http_version": scope["http_version"],
                "headers": [
                    [k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]
                ],
                "body": body.decode("latin-1"),
            }
            await respond(200, json.dumps(doc).encode(), [(b"content-type", b"application/json")])
        elif path == "/echo_body":
            await respond(200, body)
        elif path.startswith("/status/"):
            await respond(int(path.split("/")[2]), b"")
        elif path.startswith("/bytes/"):
            await respond(200, pattern(int(path.split("/")[2])))
        elif path.startswith("/stream/"):
            _, _, chunks, size = path.split("/")
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for i in range(int(chunks)):
                await send(
                    {
                        "type": "http.response.body",
                        "body": bytes([65 + i % 26]) * int(size),
                        "more_body": True,
                    }
                )
            await send({"type": "http.response.body", "body": b""})
        elif path.startswith("/gate/"):
            gate = self.gate(path.split("/")[2])
            gate.arrived.set()
            try:
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"first", "more_body": True})
                gate.headers_sent.set()
                await gate.release.wait()
                await send({"type": "http.response.body", "body": b"last"})
            finally:
                gate.finished.set()
        elif path == "/close":
            await respond(200, b"bye", [(b"connection", b"close")])
        else:
            await respond(200, b"hello")


def _proxy_handler(
    target_port: int,
) -> Callable[[trio.SocketStream, CountedConn], Awaitable[None]]:
    """A handler forwarding each connection to ``target_port`` on 127.0.0.1."""

    async def pump(src: trio.abc.Stream, dst: trio.abc.Stream, done: trio.CancelScope) -> None:
        try:
            while True:
                data = await src.receive_some(65536)
                if not data:
                    break
                await dst.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        done.cancel()

    async def handle(client: trio.SocketStream, counted: CountedConn) -> None:
        try:
            upstream = await trio.open_tcp_stream(HOST, target_port)
        except OSError:
            return
        try:
            with trio.CancelScope() as done:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(pump, client, upstream, done)
                    nursery.start_soon(pump, upstream, client, done)
        finally:
            await trio.aclose_forcefully(upstream)

    return handle


async def serve_hypercorn(
    nursery: trio.Nursery,
    app: Any = None,
    *,
    certfile: str | None = None,
    keyfile: str | None = None,
    alpn: list[str] | None = None,
    count_connections: bool = False,
    keep_alive_timeout: float | None = None,
    bind: str = "127.0.0.1:0",
) -> Server:
    """Hypercorn serving ``app`` (a fresh :class:`TestApp` by default) on 127.0.0.1:0.

    With ``certfile``/``keyfile`` it serves TLS (``https``); otherwise plain
    HTTP/1.1, which also accepts HTTP/2 with prior knowledge (h2c). With
    ``count_connections=True`` the returned address is a counting TCP proxy in
    front of Hypercorn (TLS passes through it untouched), so ``server.counter``
    sees every connection.
    ``bind="unix:/path"`` serves on a Unix socket instead (``server.port`` is 0).
    ``server.extra["app"]`` is the app.
    """
    from hypercorn.config import Config
    from hypercorn.trio import serve

    if app is None:
        app = TestApp()
    config = Config()
    config.bind = [bind]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 1.0
    if keep_alive_timeout is not None:
        config.keep_alive_timeout = keep_alive_timeout
    if certfile is not None:
        config.certfile = certfile
        config.keyfile = keyfile
    if alpn is not None:
        config.alpn_protocols = alpn
    stop = trio.Event()
    binds: list[str] = await nursery.start(
        lambda task_status: serve(app, config, shutdown_trigger=stop.wait, task_status=task_status)
    )
    bound = binds[0]
    scheme, _, hostport = bound.partition("://")
    port = 0 if bind.startswith("unix:") else int(hostport.rsplit(":", 1)[1])
    counter = ConnectionCounter()
    if count_connections:
        listener = await _open_listener()
        await nursery.start(_serve_listener, listener, _proxy_handler(port), counter, stop)
        port = listener.socket.getsockname()[1]
    server = Server(scheme, HOST, port, counter, stop)
    server.extra["app"] = app
    return server


# ---------------------------------------------------------------------------
# TLS material


@dataclass
class TLSMaterial:
    """A trustme CA and a server certificate for ``localhost`` and ``127.0.0.1``."""

    ca: Any
    certfile: str
    keyfile: str
    ca_file: str

    def client_context(self, alpn: list[str] | None = None) -> ssl.SSLContext:
        """A client context that trusts only this CA (hostname check on)."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        self.ca.configure_trust(context)
        if alpn:
            context.set_alpn_protocols(alpn)
        return context

    def server_context(self, alpn: list[str] | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certfile, self.keyfile)
        if alpn:
            context.set_alpn_protocols(alpn)
        return context


def make_tls_material(directory: str) -> TLSMaterial:
    import os

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    certfile = os.path.join(directory, "server.pem")
    keyfile = os.path.join(directory, "server.key")
    ca_file = os.path.join(directory, "ca.pem")
    cert.cert_chain_pems[0].write_to_path(certfile)
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(certfile, append=True)
    cert.private_key_pem.write_to_path(keyfile)
    ca.cert_pem.write_to_path(ca_file)
    return TLSMaterial(ca=ca, certfile=certfile, keyfile=keyfile, ca_file=ca_file)


# ---------------------------------------------------------------------------
# Small client-side helpers for tests


async def read_all(stream: Any) -> bytes:
    """Read a response stream to its end (``async for``) and return the bytes."""
    chunks = [chunk async for chunk in stream]
    return b"".join(chunks)


async def gated_body(chunks: list[bytes], gate: trio.Event, after: int = 1) -> AsyncIterator[bytes]:
    """A request body that yields ``after`` chunks, waits for ``gate``, then the rest."""
    for i, chunk in enumerate(chunks):
        if i == after:
            await gate.wait()
        yield chunk
