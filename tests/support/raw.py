"""A scripted TCP server: each connection goes to a handler given a :class:`RawConn`,
for peers that do not speak HTTP properly. Also a port whose connects hang."""

from __future__ import annotations

import socket
import struct
from collections.abc import Awaitable, Callable

import trio

from .servers import (
    HOST,
    ConnectionCounter,
    CountedConn,
    Server,
    hold_for_the_test,
    open_listener,
    serve_listener,
)

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


async def serve_raw(nursery: trio.Nursery, handler: RawHandler) -> Server:
    """A TCP server on 127.0.0.1:0 calling ``handler(RawConn)`` for each connection.

    When the handler returns, the connection is closed. The server stops when the
    nursery is cancelled or ``server.stop`` is set.
    """
    counter = ConnectionCounter()
    stop = trio.Event()
    listener = await open_listener()
    port = listener.socket.getsockname()[1]

    async def adapt(stream: trio.SocketStream, counted: CountedConn) -> None:
        await handler(RawConn(stream, counted))

    await nursery.start(serve_listener, listener, adapt, counter, stop)
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
    """A port on 127.0.0.1 where a connect is refused, for the rest of the test.

    A socket bound to it without listening holds it until the test ends (a port
    released at once could be given to another test's server under xdist).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    hold_for_the_test(sock)
    return int(sock.getsockname()[1])


def unlistened_socket() -> socket.socket:
    """A socket bound to a port of 127.0.0.1 but not listening: connects are refused
    until a server listens on it (``serve_http(nursery, bound=sock)``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    return sock
