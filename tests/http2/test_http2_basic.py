"""HTTP/2 against real peers: Hypercorn over TLS (ALPN) and h2c, and the scripted h2 server."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio

from tests.support.asgi import TestApp
from tests.support.h2server import H2Server, H2ServerStream
from tests.support.pool import TIMEOUTS, read_all, request
from tests.support.servers import Server, pattern
from tests.support.tls import TLSMaterial
from trio_httpcore import AsyncIteratorByteStream, PlainByteStream
from trio_httpcore._http2 import _h2compat

H2C = {"http1": False, "http2": True}


async def test_alpn_selects_http2_over_tls(
    make_pool: Any, tls_server: Server, tls: TLSMaterial
) -> None:
    async with make_pool(ssl_context=tls.client_context(), http2=True) as pool:
        status, _, body, ext = await request(pool, tls_server, "/echo")
        assert status == 200
        assert ext == {"http_version": "HTTP/2", "reason": ""}
        assert json.loads(body)["http_version"] == "2"
        assert pool.statistics().http2_streams == 0


async def test_concurrent_requests_over_tls_share_one_connection(
    make_pool: Any, tls_server: Server, tls: TLSMaterial, app: TestApp
) -> None:
    async def one(i: int) -> None:
        _, _, body, ext = await request(pool, tls_server, f"/bytes/{i * 1000}")
        assert (body, ext["http_version"]) == (pattern(i * 1000), "HTTP/2")

    async with (
        make_pool(ssl_context=tls.client_context(), http2=True) as pool,
        trio.open_nursery() as nursery,
    ):
        for i in range(50):
            nursery.start_soon(one, i)
    assert len({scope["client"] for scope in app.requests}) == 1


async def test_tls_without_http2_speaks_http11(
    make_pool: Any, tls_server: Server, tls: TLSMaterial
) -> None:
    async with make_pool(ssl_context=tls.client_context()) as pool:
        _, _, _, ext = await request(pool, tls_server, "/")
        assert ext["http_version"] == "HTTP/1.1"


async def test_h2c_prior_knowledge(make_pool: Any, h2c_server: Server) -> None:
    async with make_pool(**H2C) as pool:
        status, headers, body, ext = await request(pool, h2c_server, "/bytes/100000")
        assert (status, body, ext["http_version"]) == (200, pattern(100000), "HTTP/2")
        assert (b"content-length", b"100000") in headers
        assert all(not name.startswith(b":") for name, _ in headers)


@pytest.mark.parametrize("kind", ["plain", "iterator", "empty"])
async def test_request_bodies(make_pool: Any, h2c_server: Server, kind: str) -> None:
    content = b"" if kind == "empty" else pattern(300_000)

    async def chunks() -> Any:
        for start in range(0, len(content), 70_000):
            yield content[start : start + 70_000]

    stream = AsyncIteratorByteStream(chunks()) if kind == "iterator" else PlainByteStream(content)
    async with make_pool(**H2C) as pool:
        status, _, body, _ = await request(
            pool, h2c_server, "/echo_body", method=b"POST", stream=stream
        )
    assert (status, body) == (200, content)


async def test_streamed_response_no_content_length(make_pool: Any, h2c_server: Server) -> None:
    async with make_pool(**H2C) as pool:
        _, _, body, _ = await request(pool, h2c_server, "/stream/20/1000")
    assert body == b"".join(bytes([65 + i % 26]) * 1000 for i in range(20))


async def test_request_header_block(make_pool: Any, start_h2_server: Any) -> None:
    """RFC 9113 section 8.2.2/8.3.1: pseudo-headers first, lower case, no connection fields."""
    server: H2Server = await start_h2_server()
    headers = [
        (b"Host", b"example.com:8080"),
        (b"Connection", b"keep-alive"),
        (b"Keep-Alive", b"timeout=5"),
        (b"Proxy-Connection", b"keep-alive"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Upgrade", b"h2c"),
        (b"TE", b"gzip"),
        (b"X-Mixed-Case", b"Value"),
    ]
    async with make_pool(**H2C) as pool:
        await request(pool, server.tcp, "/path?q=1", headers=headers)
    seen = server.requests[0].headers
    assert seen == [
        (b":method", b"GET"),
        (b":authority", b"example.com:8080"),
        (b":scheme", b"http"),
        (b":path", b"/path?q=1"),
        (b"x-mixed-case", b"Value"),
    ]


async def test_authority_from_url_and_te_trailers_kept(
    make_pool: Any, start_h2_server: Any
) -> None:
    server: H2Server = await start_h2_server()
    async with make_pool(**H2C) as pool:
        await request(pool, server.tcp, "/", headers=[(b"te", b"trailers")])
    seen = dict(server.requests[0].headers)
    assert seen[b":authority"] == f"127.0.0.1:{server.tcp.port}".encode()
    assert seen[b"te"] == b"trailers"


async def test_trailers_and_informational_responses_are_skipped(
    make_pool: Any, start_h2_server: Any
) -> None:
    async def handler(stream: H2ServerStream) -> None:
        await stream.send_headers(103, [(b"link", b"</style.css>; rel=preload")])
        await stream.send_headers(200, [(b"x-final", b"yes")])
        await stream.send_data(b"body")
        await stream.send_trailers([(b"x-checksum", b"abc")])

    server: H2Server = await start_h2_server(handler)
    async with make_pool(**H2C) as pool:
        status, headers, body, _ = await request(pool, server.tcp)
        assert (status, headers, body) == (200, [(b"x-final", b"yes")], b"body")
        # The connection is still good.
        assert (await request(pool, server.tcp))[2] == b"body"
    assert len(server.connections) == 1


async def test_concurrent_requests_share_one_connection_and_stream_ids_increase(
    make_pool: Any, start_h2_server: Any
) -> None:
    server: H2Server = await start_h2_server()

    async def one(i: int) -> None:
        _, _, body, _ = await request(pool, server.tcp, f"/bytes/{i * 1000}")
        assert body == pattern(i * 1000)

    async with make_pool(**H2C) as pool, trio.open_nursery() as nursery:
        for i in range(30):
            nursery.start_soon(one, i)
    (conn,) = server.connections
    assert conn.stream_ids == list(range(1, 61, 2))
    assert server.errors == []


async def test_http2_streams_statistic(make_pool: Any, start_h2_server: Any) -> None:
    release = trio.Event()

    async def handler(stream: H2ServerStream) -> None:
        await release.wait()
        await stream.respond(200, b"ok")

    server: H2Server = await start_h2_server(handler)
    async with make_pool(**H2C) as pool:
        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(request, pool, server.tcp)
            await server.wait_for(lambda: len(server.requests) == 4)
            stats = pool.statistics()
            assert (stats.active, stats.http2_streams) == (1, 4)
            (connection,) = pool._connections
            assert repr(connection.protocol) == f"<HTTP2Connection {server.tcp.url} 4 streams>"
            release.set()
        stats = pool.statistics()
        assert (stats.active, stats.idle, stats.http2_streams) == (0, 1, 0)


async def test_must_show_500_concurrent_gets_over_one_connection(
    make_pool: Any, counted_h2c_server_many_streams: Server, app: TestApp
) -> None:
    """Issue 4, must show: 500 concurrent GETs, one TCP connection (server-side count)."""
    server = counted_h2c_server_many_streams
    bodies: dict[int, bytes] = {}

    async def one(i: int) -> None:
        _, _, bodies[i], _ = await request(pool, server, f"/bytes/{i * 37}")

    async with make_pool(**H2C) as pool, trio.open_nursery() as nursery:
        for i in range(500):
            nursery.start_soon(one, i)
    assert bodies == {i: pattern(i * 37) for i in range(500)}
    assert server.counter.total == 1
    assert len({scope["client"] for scope in app.requests}) == 1
    assert len(app.requests) == 500


async def test_500_concurrent_gets_are_multiplexed(make_pool: Any, start_h2_server: Any) -> None:
    """The same against the scripted server, which also sees them in flight at once."""
    server: H2Server = await start_h2_server()

    async def one(i: int) -> None:
        _, _, body, _ = await request(pool, server.tcp, f"/bytes/{i}")
        assert body == pattern(i)

    async with make_pool(**H2C) as pool, trio.open_nursery() as nursery:
        for i in range(500):
            nursery.start_soon(one, i)
    (conn,) = server.connections
    assert conn.stream_ids == list(range(1, 1000, 2))
    assert server.peak_open() > 100
    assert server.errors == []


async def test_more_requests_than_the_stream_limit_queue_on_one_connection(
    make_pool: Any, counted_hypercorn_server: Server
) -> None:
    """Hypercorn allows 100 streams: 300 requests with max_connections=1 wait their turn."""
    server = counted_hypercorn_server

    async def one(i: int) -> None:
        _, _, body, _ = await request(pool, server, f"/bytes/{i}")
        assert body == pattern(i)

    async with make_pool(max_connections=1, **H2C) as pool, trio.open_nursery() as nursery:
        for i in range(300):
            nursery.start_soon(one, i)
    assert server.counter.total == 1


async def test_response_read_in_another_order(make_pool: Any, h2c_server: Server) -> None:
    """Each stream has its own channel: reading B before A is fine."""
    async with make_pool(**H2C) as pool:
        responses = [
            await pool.arequest(b"GET", h2c_server.url4(f"/bytes/{n}"), ext=TIMEOUTS)
            for n in (200_000, 300_000)
        ]
        second = await read_all(responses[1][2])
        first = await read_all(responses[0][2])
    assert (first, second) == (pattern(200_000), pattern(300_000))


@pytest.mark.skipif(not _h2compat.TRACE_REPR, reason="the shortcut is off (stock h2)")
@pytest.mark.parametrize("size", [0, 1, 10, 11, 12, 1_000_000])
def test_hyperframe_data_repr_unchanged(size: int) -> None:
    """The cheaper DATA frame repr we install in hyperframe prints what hyperframe's did."""
    import hyperframe.frame
    from hyperframe.frame import DataFrame

    from trio_httpcore._http2._frames import Payload
    from trio_httpcore._http2._h2compat import hex_preview

    assert hyperframe.frame._raw_data_repr is hex_preview
    frame = DataFrame(1, pattern(size))
    shown = pattern(size).hex()
    body = "None" if not size else f"<hex:{shown[:20]}{'...' if len(shown) > 20 else ''}>"
    assert repr(frame) == f"DataFrame(stream_id=1, flags=[]): {body}"
    # Padded: hyperframe showed the serialized body, pad length and padding included.
    padded = DataFrame(1, pattern(size), pad_length=12, flags=["PADDED"])
    shown = padded.serialize_body().hex()
    assert repr(padded) == f"DataFrame(stream_id=1, flags=['PADDED']): <hex:{shown[:20]}...>"
    # A payload in pieces shows as its bytes joined would.
    pieces = DataFrame(1)
    pieces.data = Payload([pattern(size)[:5], pattern(size)[5:]])  # type: ignore[assignment]
    assert repr(pieces) == repr(frame)


async def test_our_settings_disable_push_and_open_large_windows(
    make_pool: Any, start_h2_server: Any
) -> None:
    """RFC 9113 section 6.5.2: ENABLE_PUSH=0; 8 MiB stream windows and a 32 MiB
    connection window, so downloads are not capped at 64 KiB per round trip."""
    server: H2Server = await start_h2_server()
    async with make_pool(**H2C) as pool:
        await request(pool, server.tcp, "/")
        (conn,) = server.connections
        settings = conn.h2.remote_settings
        assert settings.enable_push == 0
        assert settings.initial_window_size == 8 * 1024 * 1024
        assert settings.max_frame_size == 1024 * 1024
        assert conn.h2.outbound_flow_control_window == 32 * 1024 * 1024 - len(b"hello")
