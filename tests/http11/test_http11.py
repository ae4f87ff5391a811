"""HTTP/1.1 through AsyncConnectionPool against real servers: messages, reuse, TLS, hand-over."""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest
import trio
import trio.testing

import trio_httpcore
from tests.support.asgi import serve_hypercorn
from tests.support.h11server import H11Request
from tests.support.pool import (
    TIMEOUTS,
    PoolFactory,
    get_body,
    header,
    read_all,
    request,
    wait_closed,
)
from tests.support.raw import RawConn
from tests.support.servers import Server, pattern
from tests.support.tls import TLSMaterial, make_tls_material


async def test_get_against_hypercorn(make_pool: PoolFactory, hypercorn_server: Server) -> None:
    async with make_pool() as pool:
        status, headers, body, ext = await request(pool, hypercorn_server, "/echo")
        assert status == 200
        assert header(headers, b"content-type") == b"application/json"
        assert ext["http_version"] == "HTTP/1.1"
        assert ext["reason"] == "OK" or ext["reason"] == ""
        doc = json.loads(body)
        assert doc["method"] == "GET"
        # Host is added when missing, with the (non-default) port.
        assert ["host", f"127.0.0.1:{hypercorn_server.port}"] in doc["headers"]


async def test_statistics_shape(make_pool: PoolFactory, http_server: Server) -> None:
    async with make_pool() as pool:
        stats = pool.statistics()
        assert (stats.connecting, stats.active, stats.idle, stats.waiting) == (0, 0, 0, 0)
        assert stats.http2_streams == 0
        status, _, stream, _ = await pool.arequest(b"GET", http_server.url4("/"), ext=TIMEOUTS)
        assert status == 200
        assert pool.statistics().active == 1
        assert await read_all(stream) == b"hello"
        stats = pool.statistics()
        assert (stats.connecting, stats.active, stats.idle, stats.waiting) == (0, 0, 1, 0)


async def test_reason_phrase_and_status(make_pool: PoolFactory, start_raw_server: Any) -> None:
    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 299 Quite Fine\r\nContent-Length: 2\r\nX-A: b\r\n\r\nok")
        await conn.wait_closed_by_peer()

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        status, headers, body, ext = await request(pool, server)
    assert (status, body) == (299, b"ok")
    assert ext == {"http_version": "HTTP/1.1", "reason": "Quite Fine"}
    assert (b"X-A", b"b") in headers or (b"x-a", b"b") in headers


async def test_host_header_kept_when_given(
    make_pool: PoolFactory, hypercorn_server: Server
) -> None:
    async with make_pool() as pool:
        _, _, body, _ = await request(
            pool, hypercorn_server, "/echo", headers=[(b"Host", b"example.org")]
        )
    hosts = [v for k, v in json.loads(body)["headers"] if k == "host"]
    assert hosts == ["example.org"]


async def test_request_body_with_content_length(
    make_pool: PoolFactory, start_http_server: Any
) -> None:
    seen: list[tuple[bytes | None, bytes | None, bytes]] = []

    async def handler(req: H11Request) -> None:
        body = await req.read_body()
        seen.append((req.header(b"content-length"), req.header(b"transfer-encoding"), body))
        await req.respond(200, body)

    server = await start_http_server(handler)
    async with make_pool() as pool:
        _, _, body, _ = await request(
            pool,
            server,
            method=b"POST",
            headers=[(b"Content-Length", b"7")],
            stream=trio_httpcore.PlainByteStream(b"payload"),
        )
    assert body == b"payload"
    assert seen == [(b"7", None, b"payload")]


async def test_request_body_chunked_without_length(
    make_pool: PoolFactory, start_http_server: Any
) -> None:
    seen: list[tuple[bytes | None, bytes | None, bytes]] = []

    async def handler(req: H11Request) -> None:
        body = await req.read_body()
        seen.append((req.header(b"content-length"), req.header(b"transfer-encoding"), body))
        await req.respond(200, body)

    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one,", b"", b"two,", b"three"):
            yield part

    server = await start_http_server(handler)
    async with make_pool() as pool:
        _, _, body, _ = await request(
            pool,
            server,
            method=b"PUT",
            stream=trio_httpcore.AsyncIteratorByteStream(parts()),
        )
    assert body == b"one,two,three"
    assert seen == [(None, b"chunked", b"one,two,three")]


async def test_http10_response_close_delimited(
    make_pool: PoolFactory, start_raw_server: Any
) -> None:
    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.0 200 OK\r\nX: y\r\n\r\n")
        await conn.send(b"part one, ")
        await conn.send(b"part two")
        # returning closes the connection: that ends the body

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        for _ in range(2):
            status, _, body, ext = await request(pool, server)
            assert (status, body) == (200, b"part one, part two")
            assert ext["http_version"] == "HTTP/1.0"
    assert server.counter.total == 2  # never reused


async def test_http11_close_delimited_body(make_pool: PoolFactory, start_raw_server: Any) -> None:
    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + pattern(70_000))

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        status, _, body, ext = await request(pool, server)
        assert (status, body, ext["http_version"]) == (200, pattern(70_000), "HTTP/1.1")
        assert pool.statistics().idle == 0
        status, _, body, _ = await request(pool, server)
        assert body == pattern(70_000)
    assert server.counter.total == 2


async def test_connection_close_response_not_reused(
    make_pool: PoolFactory, counted_hypercorn_server: Server
) -> None:
    server = counted_hypercorn_server
    async with make_pool() as pool:
        assert await get_body(pool, server, "/close") == b"bye"
        assert pool.statistics().idle == 0
        assert await get_body(pool, server, "/") == b"hello"
    assert server.counter.total == 2


async def test_response_aclose_before_end_closes_connection(
    make_pool: PoolFactory, http_server: Server
) -> None:
    async with make_pool() as pool:
        status, _, stream, _ = await pool.arequest(
            b"GET", http_server.url4("/bytes/1000000"), ext=TIMEOUTS
        )
        assert status == 200
        async for chunk in stream:
            assert chunk
            break
        await stream.aclose()
        assert pool.statistics().active == 0
        await wait_closed(http_server, 0)
        assert await get_body(pool, http_server) == b"hello"
    assert http_server.counter.total == 2


# -- Expect: 100-continue


async def test_expect_100_continue_waits_for_interim(
    make_pool: PoolFactory, start_http_server: Any
) -> None:
    body_before_continue: list[bytes] = []

    async def handler(req: H11Request) -> None:
        assert req.conn.h11.they_are_waiting_for_100_continue
        # Give the client every chance to (wrongly) send the body now.
        await trio.testing.wait_all_tasks_blocked()
        body_before_continue.append(bytes(req.conn.h11.trailing_data[0]))
        await req.send_interim(100)
        await req.respond(200, await req.read_body())

    server = await start_http_server(handler)
    async with make_pool() as pool:
        status, _, body, _ = await request(
            pool,
            server,
            method=b"POST",
            headers=[(b"Expect", b"100-continue"), (b"Content-Length", b"4")],
            stream=trio_httpcore.PlainByteStream(b"data"),
        )
    assert (status, body) == (200, b"data")
    assert body_before_continue == [b""]


async def test_expect_100_continue_final_status_skips_body(
    make_pool: PoolFactory, start_raw_server: Any
) -> None:
    received: list[bytes] = []

    async def handler(conn: RawConn) -> None:
        head = await conn.read_request_head()
        await trio.testing.wait_all_tasks_blocked()
        await conn.send(b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n")
        received.append(head)
        await conn.wait_closed_by_peer()
        received.append(conn.buffer)

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        status, _, body, _ = await request(
            pool,
            server,
            method=b"POST",
            headers=[(b"Expect", b"100-continue"), (b"Content-Length", b"4")],
            stream=trio_httpcore.PlainByteStream(b"data"),
        )
        assert (status, body) == (417, b"")
        await wait_closed(server, 0)
    assert received[1] == b""  # the body never came
    assert server.counter.total == 1


async def test_expect_100_continue_sends_body_after_read_timeout(
    make_pool: PoolFactory, start_http_server: Any, mock_clock: trio.testing.MockClock
) -> None:
    async def handler(req: H11Request) -> None:
        await req.respond(200, await req.read_body())  # never sends 100

    server = await start_http_server(handler)
    async with make_pool() as pool, trio.open_nursery() as nursery:
        result: list[Any] = []

        async def run() -> None:
            result.append(
                await request(
                    pool,
                    server,
                    method=b"POST",
                    headers=[(b"Expect", b"100-continue"), (b"Content-Length", b"4")],
                    stream=trio_httpcore.PlainByteStream(b"data"),
                    ext={"timeout": {"read": 3}},
                )
            )

        nursery.start_soon(run)
        await trio.testing.wait_all_tasks_blocked()
        assert not result  # waiting for 100 Continue
        mock_clock.jump(3.5)
        await server.counter.wait_for(lambda: bool(server.extra["requests"]))
    assert result[0][0] == 200
    assert result[0][2] == b"data"


# -- TLS


async def test_https_with_trustme(
    make_pool: PoolFactory, tls_h1_server: Server, tls: TLSMaterial
) -> None:
    async with make_pool(ssl_context=tls.client_context()) as pool:
        for host in ("localhost", "127.0.0.1"):
            status, _, body, ext = await request_host(pool, tls_h1_server, host, "/echo")
            assert status == 200
            assert ext["http_version"] == "HTTP/1.1"
            assert json.loads(body)["method"] == "GET"


async def test_https_alpn_h2_server_spoken_as_http11(
    make_pool: PoolFactory, tls_server: Server, tls: TLSMaterial
) -> None:
    # The server offers h2 and http/1.1; a pool with http2=False offers only http/1.1.
    async with make_pool(ssl_context=tls.client_context()) as pool:
        status, _, body, ext = await request_host(pool, tls_server, "localhost", "/echo")
    assert (status, ext["http_version"]) == (200, "HTTP/1.1")
    assert json.loads(body)["http_version"] == "1.1"


async def request_host(
    pool: Any, server: Server, host: str, path: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes, dict[str, Any]]:
    status, headers, stream, ext = await pool.arequest(
        b"GET", server.url4(path, host=host), ext=TIMEOUTS
    )
    return status, headers, await read_all(stream), ext


# -- Unix sockets and local address


async def test_uds(make_pool: PoolFactory, nursery: trio.Nursery, tmp_path: Any) -> None:
    path = str(tmp_path / "server.sock")
    server = await serve_hypercorn(nursery, bind=f"unix:{path}")
    async with make_pool(uds=path) as pool:
        status, _headers, stream, _ = await pool.arequest(
            b"GET", (b"http", b"localhost", None, b"/echo"), ext=TIMEOUTS
        )
        doc = json.loads(await read_all(stream))
        assert status == 200
        assert ["host", "localhost"] in doc["headers"]
        status, _, stream, _ = await pool.arequest(
            b"GET", (b"http", b"example.org", 8080, b"/bytes/10"), ext=TIMEOUTS
        )
        assert await read_all(stream) == pattern(10)
    assert server.extra["app"].requests[0]["path"] == "/echo"


async def test_local_address(make_pool: PoolFactory, http_server: Server) -> None:
    async with make_pool(local_address="127.0.0.2") as pool:
        assert await get_body(pool, http_server) == b"hello"
    assert http_server.connections[0].peer_host == "127.0.0.2"


async def test_local_address_ipv4_wildcard(make_pool: PoolFactory, http_server: Server) -> None:
    async with make_pool(local_address="0.0.0.0") as pool:
        assert await get_body(pool, http_server) == b"hello"
    assert http_server.connections[0].peer_host == "127.0.0.1"


# -- 101 Switching Protocols and CONNECT hand the stream over


async def _upgrade_server(
    start_raw_server: Any, status_line: bytes, early: bytes = b""
) -> tuple[Server, trio.MemoryReceiveChannel[RawConn], trio.Event]:
    send, receive = trio.open_memory_channel[RawConn](10)
    done = trio.Event()

    async def handler(conn: RawConn) -> None:
        await conn.read_request_head()
        await conn.send(status_line + b"\r\n" + early)
        await send.send(conn)
        await done.wait()

    return await start_raw_server(handler), receive, done


async def test_101_hands_over_network_stream(make_pool: PoolFactory, start_raw_server: Any) -> None:
    server, conns, done = await _upgrade_server(
        start_raw_server,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n",
        early=b"early bytes",
    )
    async with make_pool() as pool:
        status, _, stream, ext = await pool.arequest(
            b"GET",
            server.url4("/"),
            headers=[(b"Upgrade", b"echo"), (b"Connection", b"Upgrade")],
            ext=TIMEOUTS,
        )
        assert status == 101
        network_stream = ext["network_stream"]
        assert isinstance(network_stream, trio.abc.Stream)
        # The pool has let go of it.
        stats = pool.statistics()
        assert (stats.active, stats.idle, stats.connecting) == (0, 0, 0)
        server_side = await conns.receive()
        # Bytes the server sent right after the 101 are not lost.
        received = b""
        while len(received) < len(b"early bytes"):
            received += await network_stream.receive_some(100)
        assert received == b"early bytes"
        await network_stream.send_all(b"ping")
        assert await server_side.read_exactly(4) == b"ping"
        await server_side.send(b"pong")
        assert await network_stream.receive_some(100) == b"pong"
        await network_stream.aclose()
        await stream.aclose()
        done.set()


async def test_connect_2xx_hands_over_network_stream(
    make_pool: PoolFactory, start_raw_server: Any
) -> None:
    server, conns, done = await _upgrade_server(
        start_raw_server, b"HTTP/1.1 200 Connection established\r\n"
    )
    async with make_pool() as pool:
        status, _, stream, ext = await pool.arequest(
            b"CONNECT", (*server.url4("/")[:3], b"example.org:443"), ext=TIMEOUTS
        )
        assert status == 200
        network_stream = ext["network_stream"]
        server_side = await conns.receive()
        await network_stream.send_all(b"tunnelled")
        assert await server_side.read_exactly(9) == b"tunnelled"
        await network_stream.aclose()
        await stream.aclose()
        assert pool.statistics().active == 0
        done.set()


async def test_101_network_stream_is_a_conforming_trio_stream(
    make_pool: PoolFactory, start_raw_server: Any
) -> None:
    server, conns, done = await _upgrade_server(
        start_raw_server,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n",
    )
    async with make_pool() as pool:

        async def maker() -> tuple[trio.abc.Stream, trio.abc.Stream]:
            _, _, _, ext = await pool.arequest(
                b"GET",
                server.url4("/"),
                headers=[(b"Upgrade", b"x"), (b"Connection", b"Upgrade")],
                ext=TIMEOUTS,
            )
            server_side = await conns.receive()
            return ext["network_stream"], server_side.stream

        await trio.testing.check_two_way_stream(maker, None)
        done.set()


# -- Validation and lifetime


async def test_arequest_on_pool_not_entered() -> None:
    pool = trio_httpcore.AsyncConnectionPool()
    with pytest.raises(RuntimeError, match="async with"):
        await pool.arequest(b"GET", (b"http", b"127.0.0.1", 1, b"/"))


async def test_pool_after_exit_refuses(make_pool: PoolFactory, http_server: Server) -> None:
    async with make_pool() as pool:
        assert await get_body(pool, http_server) == b"hello"
    with pytest.raises(RuntimeError, match="async with"):
        await pool.arequest(b"GET", http_server.url4("/"))


@pytest.mark.parametrize("backend", ["asyncio", "sync", "anyio", ""])
def test_backend_validation(backend: str) -> None:
    with pytest.raises(ValueError, match="trio") as info:
        trio_httpcore.AsyncConnectionPool(backend=backend)
    assert repr(backend) in str(info.value)


async def test_max_keepalive_is_a_deprecated_alias(
    make_pool: PoolFactory, http_server: Server
) -> None:
    with pytest.warns(DeprecationWarning, match="max_keepalive_connections"):
        pool_cm = make_pool(max_keepalive=1)
        pool = await pool_cm.__aenter__()
    try:
        streams = [
            (await pool.arequest(b"GET", http_server.url4("/"), ext=TIMEOUTS))[2] for _ in range(3)
        ]
        assert pool.statistics().active == 3
        for stream in streams:
            assert await read_all(stream) == b"hello"
        assert pool.statistics().idle == 1
    finally:
        await pool_cm.__aexit__(None, None, None)


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        (b"example.org", None, "example.org"),
        (b"example.org", 80, "example.org"),
        (b"example.org", 8080, "example.org:8080"),
        (b"::1", 8080, "[::1]:8080"),
        (b"::1", None, "[::1]"),
    ],
)
async def test_host_header_forms(
    make_pool: PoolFactory,
    nursery: trio.Nursery,
    tmp_path: Any,
    host: bytes,
    port: int | None,
    expected: str,
) -> None:
    # Over a Unix socket, so any host and port can be named without a network.
    path = str(tmp_path / "server.sock")
    await serve_hypercorn(nursery, bind=f"unix:{path}")
    async with make_pool(uds=path) as pool:
        _, _, stream, _ = await pool.arequest(b"GET", (b"http", host, port, b"/echo"), ext=TIMEOUTS)
        doc = json.loads(await read_all(stream))
    assert [v for k, v in doc["headers"] if k == "host"] == [expected]


async def test_aclose_with_garbage_already_buffered_closes_connection(
    make_pool: PoolFactory, start_raw_server: Any
) -> None:
    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnonsense")
        await conn.wait_closed_by_peer()

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        status, _, stream, _ = await pool.arequest(b"GET", server.url4("/"), ext=TIMEOUTS)
        assert status == 200
        await stream.aclose()
        assert pool.statistics().idle == 0
        await wait_closed(server, 0)


async def test_sni_hostname_ext(
    make_pool: PoolFactory, start_raw_server: Any, tmp_path: Any
) -> None:
    material = make_tls_material(str(tmp_path))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    material.ca.issue_cert("example.org").configure_cert(server_context)
    server_names: list[str | None] = []
    server_context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)

    async def handler(conn: RawConn) -> None:
        tls = trio.SSLStream(conn.stream, server_context, server_side=True)
        await tls.do_handshake()
        data = b""
        while b"\r\n\r\n" not in data:
            data += await tls.receive_some(65536)
        await tls.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await trio.aclose_forcefully(tls)

    server = await start_raw_server(handler)
    async with make_pool(ssl_context=material.client_context()) as pool:
        status, _, stream, _ = await pool.arequest(
            b"GET",
            (b"https", b"127.0.0.1", server.port, b"/"),
            ext={**TIMEOUTS, "sni_hostname": "example.org"},
        )
        assert (status, await read_all(stream)) == (200, b"ok")
    assert server_names == ["example.org"]


async def test_large_upload_and_download_intact(
    make_pool: PoolFactory, start_http_server: Any
) -> None:
    async def handler(req: H11Request) -> None:
        body = await req.read_body()
        await req.respond(200, hashlib.sha256(body).hexdigest().encode() + body[::-1])

    server = await start_http_server(handler)
    payload = pattern(3_000_001)

    async def parts() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 100_000):
            yield payload[i : i + 100_000]

    async with make_pool() as pool:
        for stream, headers in (
            (trio_httpcore.PlainByteStream(payload), [(b"Content-Length", b"3000001")]),
            (trio_httpcore.AsyncIteratorByteStream(parts()), []),
        ):
            status, _, body, _ = await request(
                pool, server, method=b"PUT", headers=headers, stream=stream
            )
            assert status == 200
            assert body[:64] == hashlib.sha256(payload).hexdigest().encode()
            assert body[64:] == payload[::-1]
    assert server.counter.total == 1


async def test_response_headers_keep_order_case_and_repeats(
    make_pool: PoolFactory, start_raw_server: Any
) -> None:
    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        await conn.send(
            b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Mixed-Case: v\r\n"
            b"Set-Cookie: b=2\r\nContent-Length: 0\r\n\r\n"
        )
        await conn.wait_closed_by_peer()

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        _, headers, _, _ = await request(pool, server)
    assert headers == [
        (b"Set-Cookie", b"a=1"),
        (b"X-Mixed-Case", b"v"),
        (b"Set-Cookie", b"b=2"),
        (b"Content-Length", b"0"),
    ]


async def test_informational_responses_are_skipped(
    make_pool: PoolFactory, start_raw_server: Any
) -> None:
    async def handler(conn: RawConn) -> None:
        for _ in range(2):
            head, _ = await conn.read_request()
            if not head:
                return
            await conn.send(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n")
            await conn.send(b"HTTP/1.1 102 Processing\r\n\r\n")
            await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody")

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        for _ in range(2):
            status, _, body, ext = await request(pool, server)
            assert (status, body, ext["reason"]) == (200, b"body", "OK")
    assert server.counter.total == 1


async def test_chunked_response_with_trailers(
    make_pool: PoolFactory, start_raw_server: Any
) -> None:
    async def handler(conn: RawConn) -> None:
        for _ in range(2):
            head, _ = await conn.read_request()
            if not head:
                return
            await conn.send(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
                b"3\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Sum: 7\r\n\r\n"
            )

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        for _ in range(2):
            status, _, body, _ = await request(pool, server)
            assert (status, body) == (200, b"abcdefg")
    assert server.counter.total == 1


async def test_client_connection_close_header_is_honoured(
    make_pool: PoolFactory, http_server: Server
) -> None:
    async with make_pool() as pool:
        status, _, body, _ = await request(pool, http_server, headers=[(b"Connection", b"close")])
        assert (status, body) == (200, b"hello")
        assert pool.statistics().idle == 0
        await wait_closed(http_server, 0)
        assert await get_body(pool, http_server) == b"hello"
    assert http_server.counter.total == 2


async def test_304_with_content_length_has_no_body_and_keeps_connection(
    make_pool: PoolFactory, start_raw_server: Any
) -> None:
    async def handler(conn: RawConn) -> None:
        for _ in range(2):
            head, _ = await conn.read_request()
            if not head:
                return
            await conn.send(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n")

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        for _ in range(2):
            status, _, body, _ = await request(pool, server)
            assert (status, body) == (304, b"")
    assert server.counter.total == 1


def _ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_available(), reason="no IPv6 loopback")
@pytest.mark.parametrize("local_address", [None, "::"])
async def test_ipv6_literal_host(
    make_pool: PoolFactory, nursery: trio.Nursery, local_address: str | None
) -> None:
    heads: list[bytes] = []

    async def handler(stream: trio.SocketStream) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += await stream.receive_some(65536)
        heads.append(data)
        await stream.send_all(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nv6"
        )
        await stream.aclose()

    listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="::1"))
    port = listeners[0].socket.getsockname()[1]
    async with make_pool(local_address=local_address) as pool:
        status, _, stream, _ = await pool.arequest(
            b"GET", (b"http", b"::1", port, b"/"), ext=TIMEOUTS
        )
        assert (status, await read_all(stream)) == (200, b"v6")
    assert f"\r\nHost: [::1]:{port}\r\n".encode() in heads[0]
    for listener in listeners:
        await listener.aclose()
