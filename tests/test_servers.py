"""The test servers themselves, proven with raw trio streams (no HTTP client library)."""

from __future__ import annotations

import json
import socket
import ssl
from typing import Any

import h2.config
import h2.connection
import h2.events
import h11
import pytest
import trio
import trio.testing

from tests.support.asgi import TestApp, serve_hypercorn
from tests.support.h11server import H11Request
from tests.support.leaks import socket_fds
from tests.support.raw import RawConn, closed_port, serve_blackhole
from tests.support.servers import Server, pattern
from tests.support.tls import TLSMaterial


async def h11_exchange(
    stream: trio.abc.Stream, method: bytes, target: bytes, body: bytes = b""
) -> tuple[h11.Response, bytes]:
    """One request/response over ``stream`` with h11 as the client (keep-alive)."""
    conn = h11.Connection(h11.CLIENT)
    headers = [(b"host", b"127.0.0.1"), (b"content-length", str(len(body)).encode())]
    data = conn.send(h11.Request(method=method, target=target, headers=headers))
    data += conn.send(h11.Data(data=body)) if body else b""
    data += conn.send(h11.EndOfMessage())
    await stream.send_all(data)
    response: h11.Response | None = None
    chunks = []
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(bytes(await stream.receive_some(65536)))
            continue
        if isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            break
    assert response is not None
    return response, b"".join(chunks)


async def test_socket_fds_sees_an_open_socket() -> None:
    before = socket_fds()
    sock = socket.socket()
    try:
        assert sock.fileno() in socket_fds()
        assert sock.fileno() not in before
    finally:
        sock.close()
    assert socket_fds().keys() == before.keys()


async def test_hypercorn_plain_echo(hypercorn_server: Server, app: TestApp) -> None:
    assert hypercorn_server.url.startswith("http://127.0.0.1:")
    async with await trio.open_tcp_stream("127.0.0.1", hypercorn_server.port) as stream:
        response, body = await h11_exchange(stream, b"POST", b"/echo?a=1", b"payload")
        assert response.status_code == 200
        doc = json.loads(body)
        assert doc["method"] == "POST"
        assert doc["query"] == "a=1"
        assert doc["body"] == "payload"
        assert ["host", "127.0.0.1"] in doc["headers"]
        response, body = await h11_exchange(stream, b"GET", b"/bytes/1000")
        assert body == pattern(1000)
        response, body = await h11_exchange(stream, b"GET", b"/status/418")
        assert response.status_code == 418
        response, body = await h11_exchange(stream, b"GET", b"/stream/3/4")
        assert (b"transfer-encoding", b"chunked") in response.headers
        assert body == b"AAAABBBBCCCC"
    assert len(app.requests) == 4


async def test_hypercorn_gate(hypercorn_server: Server, app: TestApp) -> None:
    gate = app.gate("g")
    async with await trio.open_tcp_stream("127.0.0.1", hypercorn_server.port) as stream:
        await stream.send_all(b"GET /gate/g HTTP/1.1\r\nHost: x\r\n\r\n")
        await gate.headers_sent.wait()
        data = b""
        while b"first" not in data:
            data += await stream.receive_some(65536)
        assert data.startswith(b"HTTP/1.1 200")
        assert b"last" not in data
        assert not gate.finished.is_set()
        gate.release.set()
        while b"last" not in data:
            data += await stream.receive_some(65536)
        await gate.finished.wait()


async def test_hypercorn_tls(tls_server: Server, tls: TLSMaterial, other_tls: TLSMaterial) -> None:
    assert tls_server.scheme == "https"
    tcp = await trio.open_tcp_stream("127.0.0.1", tls_server.port)
    async with trio.SSLStream(
        tcp, tls.client_context(["http/1.1"]), server_hostname="localhost"
    ) as stream:
        await stream.do_handshake()
        assert stream.selected_alpn_protocol() == "http/1.1"
        response, body = await h11_exchange(stream, b"GET", b"/")
        assert (response.status_code, body) == (200, b"hello")

    # The certificate is valid for 127.0.0.1 as well.
    tcp = await trio.open_tcp_stream("127.0.0.1", tls_server.port)
    async with trio.SSLStream(tcp, tls.client_context(), server_hostname="127.0.0.1") as stream:
        await stream.do_handshake()

    # A client trusting another CA refuses the certificate.
    tcp = await trio.open_tcp_stream("127.0.0.1", tls_server.port)
    stream = trio.SSLStream(tcp, other_tls.client_context(), server_hostname="localhost")
    with pytest.raises(trio.BrokenResourceError) as info:
        await stream.do_handshake()
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
    await trio.aclose_forcefully(stream)


async def test_hypercorn_h2c_prior_knowledge(h2c_server: Server) -> None:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    stream_id = conn.get_next_available_stream_id()
    conn.send_headers(
        stream_id,
        [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/echo")],
        end_stream=True,
    )
    async with await trio.open_tcp_stream("127.0.0.1", h2c_server.port) as stream:
        await stream.send_all(conn.data_to_send())
        body = b""
        ended = False
        while not ended:
            data = await stream.receive_some(65536)
            assert data
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    body += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    ended = True
            await stream.send_all(conn.data_to_send())
    assert json.loads(body)["http_version"] == "2"


async def test_counted_hypercorn_counts_peak(counted_hypercorn_server: Server) -> None:
    server = counted_hypercorn_server
    streams = [await trio.open_tcp_stream("127.0.0.1", server.port) for _ in range(3)]
    try:
        for s in streams:
            _response, body = await h11_exchange(s, b"GET", b"/")
            assert body == b"hello"
        assert server.counter.total == 3
        assert server.counter.peak == 3
    finally:
        for s in streams:
            await s.aclose()
    # The peer's FIN counts at once, even before the proxy's handler saw it.
    assert server.counter.open_now == 0
    await trio.aclose_forcefully(await trio.open_tcp_stream("127.0.0.1", server.port))
    await server.counter.wait_for(lambda: server.counter.total == 4)
    assert server.counter.peak == 3


async def test_http_server_handler_and_counts(start_http_server: Any) -> None:
    seen: list[bytes] = []
    reached = trio.Event()
    release = trio.Event()

    async def handler(request: H11Request) -> None:
        seen.append(await request.read_body())
        if request.path == "/wait":
            reached.set()
            await release.wait()
        await request.respond(201, b"made", [(b"x-test", b"1")])

    server = await start_http_server(handler)
    async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
        response, body = await h11_exchange(stream, b"PUT", b"/a", b"data")
        assert (response.status_code, body) == (201, b"made")
        assert (b"x-test", b"1") in response.headers
        async with trio.open_nursery() as nursery:
            nursery.start_soon(h11_exchange, stream, b"GET", b"/wait")
            await reached.wait()
            assert len(server.extra["requests"]) == 2
            release.set()
    assert seen == [b"data", b""]
    assert server.counter.total == 1
    assert server.connections[0].requests == 2
    await server.connections[0].closed.wait()


async def test_http_server_close_idle(start_http_server: Any) -> None:
    server = await start_http_server(close_idle=True)
    async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
        _response, body = await h11_exchange(stream, b"GET", b"/")
        assert body == b"hello"
        assert await stream.receive_some(100) == b""  # the server closed it
    assert server.extra["idle_closed"] == 1


async def test_raw_server_scripted_and_reset(start_raw_server: Any) -> None:
    async def handler(conn: RawConn) -> None:
        head, body = await conn.read_request()
        assert head.startswith(b"POST / HTTP/1.1\r\n")
        assert body == b"abc"
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234")
        conn.reset()

    server = await start_raw_server(handler)
    async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
        await stream.send_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        received = b""
        with pytest.raises(trio.BrokenResourceError) as info:
            while True:
                data = await stream.receive_some(65536)
                if not data:
                    break
                received += data
        assert isinstance(info.value.__cause__, ConnectionResetError)


async def test_raw_server_counts_and_peer_close(start_raw_server: Any) -> None:
    async def handler(conn: RawConn) -> None:
        await conn.wait_closed_by_peer()

    server = await start_raw_server(handler)
    a = await trio.open_tcp_stream("127.0.0.1", server.port)
    b = await trio.open_tcp_stream("127.0.0.1", server.port)
    await server.counter.wait_for(lambda: server.counter.total == 2)
    assert server.counter.peak == 2
    await a.aclose()
    await server.connections[0].closed.wait()
    c = await trio.open_tcp_stream("127.0.0.1", server.port)
    await server.counter.wait_for(lambda: server.counter.total == 3)
    assert server.counter.peak == 2
    await b.aclose()
    await c.aclose()
    await server.counter.wait_for(lambda: not server.counter.open)


async def test_blackhole_connect_hangs(nursery: trio.Nursery) -> None:
    server = await serve_blackhole(nursery)
    connected = False
    with trio.CancelScope() as scope:

        async def connect() -> None:
            nonlocal connected
            sock = trio.socket.socket()
            try:
                await sock.connect(("127.0.0.1", server.port))
                connected = True
            finally:
                sock.close()

        async with trio.open_nursery() as inner:
            inner.start_soon(connect)
            await trio.testing.wait_all_tasks_blocked()
            scope.cancel()
    assert not connected
    server.stop.set()


async def test_closed_port_refuses() -> None:
    with pytest.raises(OSError):
        await trio.open_tcp_stream("127.0.0.1", closed_port())


async def test_counted_tls_hypercorn(nursery: trio.Nursery, tls: TLSMaterial) -> None:
    server = await serve_hypercorn(
        nursery, certfile=tls.certfile, keyfile=tls.keyfile, count_connections=True
    )
    assert server.scheme == "https"
    for _ in range(2):
        tcp = await trio.open_tcp_stream("127.0.0.1", server.port)
        async with trio.SSLStream(tcp, tls.client_context(), server_hostname="localhost") as s:
            response, body = await h11_exchange(s, b"GET", b"/")
            assert (response.status_code, body) == (200, b"hello")
    assert server.counter.total == 2
    assert server.counter.peak == 1
