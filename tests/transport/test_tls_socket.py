"""TLS on the connection's own socket (TLSSocketStream) against trio.SSLStream.

The same responses, cut into the same records, give the same bodies and the
same connection reuse through either. A cancel after any number of the
requesting task's steps (so at each await of the handshake, the send and the
reads in turn) leaves no socket open and the pool usable. Closing, ALPN, the
peer certificate and a server's close with or without close_notify behave as
trio.SSLStream(https_compatible=True) has them.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

import trio_httpcore
from tests.http11.test_body_path import (
    BODILESS,
    Framed,
    body_bytes,
    chunked,
    close_delimited,
    content_length,
    cut,
    exchange,
    framings,
)
from tests.support.leaks import socket_fds
from tests.support.pool import assert_empty, read_all
from tests.support.raw import RawConn, serve_raw
from tests.support.tls import TLSMaterial
from trio_httpcore._http import TLSSocketStream
from trio_httpcore._transport import _connection as transport_connection

TIMEOUTS = {"timeout": {"connect": 30, "read": 30, "write": 30, "pool": 30}}


async def _ssl_stream_tls(
    stream: trio.abc.Stream, context: ssl.SSLContext, hostname: str
) -> trio.SSLStream[trio.abc.Stream]:
    """TLS as it was before TLSSocketStream: trio.SSLStream over the socket stream."""
    tls = trio.SSLStream(stream, context, server_hostname=hostname, https_compatible=True)
    await tls.do_handshake()
    return tls


@contextlib.contextmanager
def over_ssl_stream() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transport_connection, "start_tls", _ssl_stream_tls)
        yield


async def both_ways(framed: Framed, pieces: list[bytes], tls: TLSMaterial) -> None:
    on_socket = await exchange(framed, pieces, tls)
    with over_ssl_stream():
        on_ssl_stream = await exchange(framed, pieces, tls)
    assert on_socket[1] == framed.body
    assert on_socket == on_ssl_stream


@pytest.mark.parametrize(
    "framed",
    [
        content_length(body_bytes(700_000, 3)),
        chunked(body_bytes(700_000, 4), [70_000, 1, 300_000], trailer=True),
        close_delimited(body_bytes(700_000, 5)),
        *BODILESS,
    ],
    ids=["length", "chunked", "close", "head", "204", "304"],
)
async def test_same_bodies_as_trio_ssl_stream(framed: Framed, tls: TLSMaterial) -> None:
    await both_ways(framed, [framed.wire], tls)


@pytest.mark.timeout(180)  # a long test: see pyproject's timeout (25 TLS exchanges each way)
@settings(max_examples=25, deadline=None, database=None)
@given(framings(), st.lists(st.integers(0, 2**31), max_size=8))
def test_same_bodies_as_trio_ssl_stream_cut_anywhere(
    tls: TLSMaterial, framed: Framed, cuts: list[int]
) -> None:
    before = set(socket_fds())
    trio.run(both_ways, framed, cut(framed.wire, cuts), tls)
    assert set(socket_fds()) <= before


async def _tls_server(nursery: trio.Nursery, tls: TLSMaterial, body: bytes) -> Any:
    """Answers each request on a connection with ``body`` (Content-Length), over TLS."""
    context = tls.server_context(alpn=["http/1.1"])

    async def handler(conn: RawConn) -> None:
        stream = trio.SSLStream(conn.stream, context, server_side=True)
        tls_conn = RawConn(stream, conn.counted)  # type: ignore[arg-type]
        while await tls_conn.read_request_head():
            await tls_conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
            await tls_conn.send(body)

    return await serve_raw(nursery, handler)


async def test_cancel_after_every_step_leaks_nothing(tls: TLSMaterial) -> None:
    """Cancel a request after its 0th, 1st, 2nd ... step until one completes uncancelled.

    After each cancel the pool holds nothing and the server sees the
    connection close (or never accepted it).
    """
    body = body_bytes(600_000, 9)
    async with trio.open_nursery() as nursery:
        server = await _tls_server(nursery, tls, body)
        url = (b"https", b"127.0.0.1", server.port, b"/")
        steps = 0
        async with trio_httpcore.AsyncConnectionPool(ssl_context=tls.client_context()) as pool:
            while True:
                task: list[trio.lowlevel.Task] = []
                counter = _StepCounter(task, steps)
                trio.lowlevel.add_instrument(counter)
                try:
                    with counter.scope:
                        task.append(trio.lowlevel.current_task())
                        _, _, stream, _ = await pool.arequest(b"GET", url, ext=TIMEOUTS)
                        got = await read_all(stream)
                finally:
                    trio.lowlevel.remove_instrument(counter)
                if not counter.scope.cancelled_caught:
                    assert got == body
                    break
                # The cancelled request's connection is gone, at once; the
                # server sees it close (fail_after only guards against a hang).
                assert_empty(pool)
                with trio.fail_after(10):
                    await server.counter.wait_for(lambda: server.counter.open_now == 0)
                steps += 1
            assert steps > 5  # the handshake alone takes several
        server.stop.set()
    # The autouse no_socket_leak fixture then checks that no socket is left open.


class _StepCounter(trio.abc.Instrument):
    """Cancels ``scope`` as the watched task begins its step number ``limit`` (from 0)."""

    def __init__(self, task: list[trio.lowlevel.Task], limit: int) -> None:
        self.scope = trio.CancelScope()
        self._task = task
        self._limit = limit
        self._steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if self._task and task is self._task[0]:
            if self._steps == self._limit:
                self.scope.cancel()
            self._steps += 1


async def _connected(tls: TLSMaterial, port: int, **kwargs: Any) -> TLSSocketStream:
    tcp = await trio.open_tcp_stream("127.0.0.1", port)
    return await TLSSocketStream.connect(tcp, tls.client_context(**kwargs), "localhost")


async def _accept_tls(
    tls: TLSMaterial, script: Any, alpn: list[str] | None = None
) -> tuple[trio.SocketListener, Any]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    listener = listeners[0]

    async def serve_one() -> None:
        tcp = await listener.accept()
        server = trio.SSLStream(tcp, tls.server_context(alpn=alpn), server_side=True)
        try:
            await script(server)
        finally:
            await trio.aclose_forcefully(server)

    return listener, serve_one


async def test_close_sends_close_notify_alpn_and_peer_cert(tls: TLSMaterial) -> None:
    got: list[bytes | bytearray] = []

    async def script(server: trio.SSLStream[Any]) -> None:
        await server.do_handshake()
        server._https_compatible = False  # a ragged EOF would raise, close_notify reads b""
        got.append(await server.receive_some(10))
        got.append(await server.receive_some(10))

    listener, serve_one = await _accept_tls(tls, script, alpn=["h2", "http/1.1"])
    async with trio.open_nursery() as nursery, listener:
        nursery.start_soon(serve_one)
        stream = await _connected(tls, listener.socket.getsockname()[1], alpn=["http/1.1"])
        assert stream.selected_alpn_protocol() == "http/1.1"
        assert stream.version() in ("TLSv1.2", "TLSv1.3")
        assert isinstance(stream.getpeercert(), dict)
        await stream.send_all(b"ping")
        await stream.aclose()
        assert stream.fileno() == -1
        await stream.aclose()  # idempotent
        with pytest.raises(trio.ClosedResourceError):
            await stream.send_all(b"x")
        with pytest.raises(trio.ClosedResourceError):
            await stream.receive_some()
    assert got == [b"ping", b""]


@pytest.mark.parametrize("close_notify", [True, False], ids=["close_notify", "ragged"])
async def test_server_close_reads_as_end_of_stream(tls: TLSMaterial, close_notify: bool) -> None:
    async def script(server: trio.SSLStream[Any]) -> None:
        await server.send_all(b"x" * 100_000)
        if close_notify:
            await server.aclose()

    listener, serve_one = await _accept_tls(tls, script)
    async with trio.open_nursery() as nursery, listener:
        nursery.start_soon(serve_one)
        stream = await _connected(tls, listener.socket.getsockname()[1])
        received = b""
        while data := await stream.receive_some(30_000):
            assert len(data) <= 30_000
            received += data
        assert received == b"x" * 100_000
        assert await stream.receive_some() == b""
        await stream.aclose()


async def test_close_wakes_a_blocked_receive_and_a_bad_certificate_closes_the_socket(
    tls: TLSMaterial, other_tls: TLSMaterial
) -> None:
    release = trio.Event()

    async def script(server: trio.SSLStream[Any]) -> None:
        await server.do_handshake()
        await release.wait()

    listener, serve_one = await _accept_tls(tls, script)
    async with trio.open_nursery() as nursery, listener:
        nursery.start_soon(serve_one)
        port = listener.socket.getsockname()[1]
        stream = await _connected(tls, port)

        async def receive() -> None:
            with pytest.raises(trio.ClosedResourceError):
                await stream.receive_some()

        nursery.start_soon(receive)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            await stream.receive_some()
        stream.close()
        await trio.testing.wait_all_tasks_blocked()
        release.set()

        nursery.start_soon(serve_one)
        tcp = await trio.open_tcp_stream("127.0.0.1", port)
        fd = tcp.socket.fileno()
        inode = socket_fds()[fd]
        with pytest.raises(trio.BrokenResourceError) as info:
            await TLSSocketStream.connect(tcp, other_tls.client_context(), "localhost")
        assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
        assert socket_fds().get(fd) != inode  # the client's socket is closed
        nursery.cancel_scope.cancel()


def test_the_socket_is_nodelay(tls: TLSMaterial) -> None:
    async def main() -> None:
        async def script(server: trio.SSLStream[Any]) -> None:
            await server.do_handshake()

        listener, serve_one = await _accept_tls(tls, script)
        async with trio.open_nursery() as nursery, listener:
            nursery.start_soon(serve_one)
            stream = await _connected(tls, listener.socket.getsockname()[1])
            sock = socket.socket(fileno=stream.fileno())
            try:
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            finally:
                sock.detach()
            await stream.aclose()

    trio.run(main)


async def test_sends_that_fill_the_socket_edge_cases_and_bad_arguments(tls: TLSMaterial) -> None:
    """A send larger than the socket's buffers waits for the peer; misuse is refused."""
    big = body_bytes(32 * 1024 * 1024, 11)  # more than loopback buffers hold
    received = bytearray()
    start_reading = trio.Event()

    async def script(server: trio.SSLStream[Any]) -> None:
        await server.do_handshake()
        await start_reading.wait()
        while len(received) < len(big):
            received.extend(await server.receive_some(1 << 20))

    listener, serve_one = await _accept_tls(tls, script)
    async with trio.open_nursery() as nursery, listener:
        nursery.start_soon(serve_one)
        port = listener.socket.getsockname()[1]
        stream = await _connected(tls, port)
        await stream.send_all(b"")  # nothing to send: a checkpoint, no error
        await stream.wait_send_all_might_not_block()
        with pytest.raises(ValueError):
            await stream.receive_some(0)

        async def send_big() -> None:
            await stream.send_all(big)

        nursery.start_soon(send_big)
        await trio.testing.wait_all_tasks_blocked()  # the socket's buffers are full
        with pytest.raises(trio.BusyResourceError):
            await stream.send_all(b"x")
        with pytest.raises(trio.BusyResourceError):
            await stream.wait_send_all_might_not_block()
        start_reading.set()

        tcp = await trio.open_tcp_stream("127.0.0.1", port)
        fd = tcp.socket.fileno()
        inode = socket_fds()[fd]
        with pytest.raises(ValueError):  # refused by ssl before any byte is sent
            await TLSSocketStream.connect(tcp, tls.client_context(), "")
        assert socket_fds().get(fd) != inode
    assert bytes(received) == big
    await stream.aclose()
