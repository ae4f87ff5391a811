"""What every test server shares: the :class:`Server` record, connection counting,
the listener loop, and a counting TCP relay.

Every server binds 127.0.0.1 on port 0 and reads its port back from the bound
socket. It counts connections as they open and close; a connection counts as
closed as soon as the peer's FIN or RST has arrived in the kernel, even when
the handler has not noticed yet (see :meth:`ConnectionCounter.reap`), so
"peak open connections" is what the client really had open at once.

The servers themselves, by kind: :mod:`tests.support.raw` (scripted TCP),
:mod:`tests.support.h11server` (scripted HTTP/1.1), :mod:`tests.support.h2server`
(scripted HTTP/2), :mod:`tests.support.asgi` (Hypercorn), :mod:`tests.support.proxy`
(pproxy and a recording proxy), :mod:`tests.support.nginx`, and
:mod:`tests.support.threaded` (any of them on a thread of its own).
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

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


StreamHandler = Callable[[trio.SocketStream, "CountedConn"], Awaitable[None]]


async def serve_listener(
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


async def open_listener(
    backlog: int = 128, bound: socket.socket | None = None
) -> trio.SocketListener:
    """A listener on 127.0.0.1, port 0 (read it back from ``listener.socket``), or on
    ``bound``, a socket bound already that starts listening only now."""
    if bound is not None:
        sock = trio.socket.from_stdlib_socket(bound)
    else:
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        await sock.bind((HOST, 0))
    sock.listen(backlog)
    return trio.SocketListener(sock)


_held: list[socket.socket] = []


def hold_for_the_test(sock: socket.socket) -> None:
    """Keep ``sock`` open until the test ends (the leak checks close it first)."""
    _held.append(sock)


def release_held() -> None:
    """Close what :func:`hold_for_the_test` kept: the test is over."""
    while _held:
        _held.pop().close()


def relay_handler(
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


async def serve_relay(
    nursery: trio.Nursery, target_port: int, *, backlog: int = 128, stop: trio.Event | None = None
) -> Server:
    """A TCP relay on 127.0.0.1:0 to ``target_port``, counting the connections through it
    (TLS passes through untouched). It stops with the nursery or ``stop`` (``server.stop``)."""
    counter = ConnectionCounter()
    stop = trio.Event() if stop is None else stop
    listener = await open_listener(backlog=backlog)
    await nursery.start(serve_listener, listener, relay_handler(target_port), counter, stop)
    return Server("http", HOST, listener.socket.getsockname()[1], counter, stop)
