"""HTTP/3 by prior knowledge against Hypercorn on 127.0.0.1: requests, bodies, many streams."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

import trio

from tests.support.asgi import TestApp
from tests.support.pool import PoolFactory, read_all
from tests.support.servers import Server, pattern
from tests.support.tls import TLSMaterial
from trio_httpcore import AsyncConnectionPool
from trio_httpcore._streams import PlainByteStream


async def test_get_over_http3(make_pool: PoolFactory, h3_server: Server, tls: TLSMaterial) -> None:
    async with make_pool(ssl_context=tls.client_context(), http3="prior") as pool:
        status, _headers, stream, ext = await pool.arequest(b"GET", h3_server.url4("/echo"))
        body = await read_all(stream)
        assert status == 200
        assert ext["http_version"] == "HTTP/3"
        assert json.loads(body)["http_version"] == "3"
        assert pool.statistics().idle == 1


async def test_100_concurrent_streams_share_one_connection(
    make_pool: PoolFactory, h3_server: Server, tls: TLSMaterial
) -> None:
    async with make_pool(ssl_context=tls.client_context(), http3="prior") as pool:
        results: list[tuple[int, bytes, str]] = []

        async def one(i: int) -> None:
            status, _, stream, ext = await pool.arequest(b"GET", h3_server.url4(f"/bytes/{i}"))
            results.append((status, await read_all(stream), ext["http_version"]))

        async with trio.open_nursery() as nursery:
            for i in range(100):
                nursery.start_soon(one, i)
        assert sorted(len(body) for _, body, _ in results) == list(range(100))
        assert all(body == pattern(len(body)) for _, body, _ in results)
        assert {(status, version) for status, _, version in results} == {(200, "HTTP/3")}
        stats = pool.statistics()
        assert (stats.idle, stats.active, stats.connecting) == (1, 0, 0)


async def test_8_mib_upload_and_download_keep_every_byte(
    make_pool: PoolFactory, h3_server: Server, tls: TLSMaterial
) -> None:
    upload = hashlib.sha256(b"x").digest() * (8 * 1024 * 1024 // 32)
    async with make_pool(ssl_context=tls.client_context(), http3="prior") as pool:
        status, _, stream, ext = await pool.arequest(
            b"POST", h3_server.url4("/echo_body"), stream=PlainByteStream(upload)
        )
        echoed = await read_all(stream)
        assert (status, ext["http_version"]) == (200, "HTTP/3")
        assert hashlib.sha256(echoed).hexdigest() == hashlib.sha256(upload).hexdigest()

        size = 8 * 1024 * 1024
        status, _, stream, _ = await pool.arequest(b"GET", h3_server.url4(f"/bytes/{size}"))
        downloaded = await read_all(stream)
        assert hashlib.sha256(downloaded).hexdigest() == hashlib.sha256(pattern(size)).hexdigest()


async def test_streamed_upload_is_sent_in_order(
    make_pool: PoolFactory, h3_server: Server, tls: TLSMaterial
) -> None:
    chunks = [bytes([i]) * 70_000 for i in range(40)]

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    async with make_pool(ssl_context=tls.client_context(), http3="prior") as pool:
        status, _, stream, _ = await pool.arequest(
            b"POST", h3_server.url4("/echo_body"), stream=body()
        )
        assert status == 200
        assert await read_all(stream) == b"".join(chunks)


async def test_a_slow_reader_holds_back_only_its_own_stream(
    make_pool: PoolFactory, h3_server: Server, tls: TLSMaterial
) -> None:
    """A response nobody reads stops at its stream's window; other streams go on."""
    async with make_pool(ssl_context=tls.client_context(), http3="prior") as pool:
        _, _, stalled, _ = await pool.arequest(b"GET", h3_server.url4("/bytes/33554432"))
        for _ in range(5):
            _, _, stream, _ = await pool.arequest(b"GET", h3_server.url4("/bytes/1000000"))
            assert await read_all(stream) == pattern(1_000_000)
        assert len(await read_all(stalled)) == 32 * 1024 * 1024


async def test_many_requests_in_turn_reuse_the_connection(
    make_pool: PoolFactory, h3_server: Server, tls: TLSMaterial, app: TestApp
) -> None:
    """More requests than the server's first stream limit: MAX_STREAMS keeps it going."""
    async with make_pool(ssl_context=tls.client_context(), http3="prior") as pool:
        for _ in range(300):
            status, _, stream, _ext = await pool.arequest(b"GET", h3_server.url4("/"))
            assert (status, await read_all(stream)) == (200, b"hello")
        assert pool.statistics().idle == 1
    assert len(app.requests) == 300


async def test_pool_exit_ends_the_connection_task(h3_server: Server, tls: TLSMaterial) -> None:
    async with AsyncConnectionPool(ssl_context=tls.client_context(), http3="prior") as pool:
        _, _, stream, _ = await pool.arequest(b"GET", h3_server.url4("/bytes/100000"))
        # The body is left unread: leaving the pool still ends everything.
    assert pool.statistics().idle == 0
    assert stream is not None


async def test_statistics_count_http3_streams_apart_from_http2(
    make_pool: PoolFactory, h3_server: Server, tls: TLSMaterial, app: TestApp
) -> None:
    async with make_pool(ssl_context=tls.client_context(), http3="prior") as pool:
        responses = [await pool.arequest(b"GET", h3_server.url4(f"/gate/{n}")) for n in "abc"]
        stats = pool.statistics()
        assert (stats.active, stats.http3_streams, stats.http2_streams) == (1, 3, 0)
        for name, (_, _, stream, _) in zip("abc", responses, strict=True):
            app.gate(name).release.set()
            assert await read_all(stream) == b"firstlast"
        stats = pool.statistics()
        assert (stats.active, stats.idle, stats.http3_streams) == (0, 1, 0)
