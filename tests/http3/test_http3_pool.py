"""HTTP/3 in the pool: cancellation, a server that closes idle connections, Alt-Svc
discovery, fallback to TCP, and the blocking Client."""

from __future__ import annotations

import pytest
import trio
import trio.testing

import trio_httpcore
from tests.support.asgi import TestApp
from tests.support.h3server import serve_hypercorn_h3
from tests.support.pool import PoolFactory, read_all
from tests.support.servers import Server, pattern
from tests.support.tls import TLSMaterial


async def test_cancelling_half_the_streams_leaves_the_rest_and_the_connection(
    make_pool: PoolFactory, h3_server: Server, tls: TLSMaterial
) -> None:
    """Half the requests are cancelled (before the head, or mid-body); the others complete."""
    size = 300_000
    async with make_pool(ssl_context=tls.client_context(), http3="prior") as pool:
        done: list[int] = []

        async def one(i: int, scope: trio.CancelScope) -> None:
            with scope:
                _, _, stream, _ = await pool.arequest(b"GET", h3_server.url4(f"/bytes/{size}"))
                if i % 4 == 0:
                    scope.cancel()  # cancelled holding the unread body
                async for _ in stream:
                    if i % 4 == 2:
                        scope.cancel()  # cancelled mid-body
                done.append(i)

        async with trio.open_nursery() as nursery:
            for i in range(40):
                scope = trio.CancelScope()
                if i % 4 == 1:
                    scope.cancel()  # cancelled before it is sent
                nursery.start_soon(one, i, scope)
        assert sorted(done) == [i for i in range(40) if i % 2 == 1 and i % 4 != 1]
        stats = pool.statistics()
        assert (stats.connecting, stats.active, stats.waiting, stats.idle) == (0, 0, 0, 1)
        _, _, stream, ext = await pool.arequest(b"GET", h3_server.url4(f"/bytes/{size}"))
        assert await read_all(stream) == pattern(size)
        assert ext["http_version"] == "HTTP/3"


async def test_cancelled_while_the_server_holds_the_response(
    make_pool: PoolFactory, h3_server: Server, tls: TLSMaterial, app: TestApp
) -> None:
    """Cancelled while the server holds the response: only that stream is reset."""
    async with make_pool(ssl_context=tls.client_context(), http3="prior") as pool:
        async with trio.open_nursery() as nursery:

            async def request() -> None:
                _, _, stream, _ = await pool.arequest(b"GET", h3_server.url4("/gate/a"))
                try:
                    await read_all(stream)
                finally:
                    await stream.aclose()

            nursery.start_soon(request)
            await app.gate("a").headers_sent.wait()
            nursery.cancel_scope.cancel()
        _, _, stream, _ = await pool.arequest(b"GET", h3_server.url4("/"))
        assert await read_all(stream) == b"hello"
        assert pool.statistics().idle == 1
        app.gate("a").release.set()


async def test_a_connection_the_server_let_idle_out_is_dropped(
    make_pool: PoolFactory,
    tls: TLSMaterial,
    nursery: trio.Nursery,
    monkeypatch: pytest.MonkeyPatch,
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The server's QUIC idle timeout (1 s) ends the connection; the next request opens another."""
    import hypercorn.protocol.quic
    from aioquic.quic.configuration import QuicConfiguration

    def short_idle(**kwargs: object) -> QuicConfiguration:
        return QuicConfiguration(idle_timeout=1.0, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hypercorn.protocol.quic, "QuicConfiguration", short_idle)
    server = await serve_hypercorn_h3(nursery, tls)
    async with make_pool(ssl_context=tls.client_context(), http3="prior") as pool:
        _, _, stream, _ = await pool.arequest(b"GET", server.url4("/"))
        assert await read_all(stream) == b"hello"
        assert pool.statistics().idle == 1
        await trio.sleep(10)  # virtual time: both ends' idle timers fire
        assert pool.statistics().idle == 0
        _, _, stream, ext = await pool.arequest(b"GET", server.url4("/"))
        assert (await read_all(stream), ext["http_version"]) == (b"hello", "HTTP/3")


async def test_alt_svc_from_an_http2_response_moves_the_origin_to_http3(
    make_pool: PoolFactory, h3_server: Server, tls: TLSMaterial
) -> None:
    async with make_pool(ssl_context=tls.client_context(), http2=True, http3=True) as pool:
        _, headers, stream, ext = await pool.arequest(b"GET", h3_server.url4("/"))
        await read_all(stream)
        assert ext["http_version"] == "HTTP/2"
        assert (b"alt-svc", f'h3=":{h3_server.port}"; ma=3600'.encode()) in headers
        versions = []
        for _ in range(3):
            _, _, stream, ext = await pool.arequest(b"GET", h3_server.url4("/"))
            assert await read_all(stream) == b"hello"
            versions.append(ext["http_version"])
        assert versions == ["HTTP/3"] * 3
        assert pool.statistics().idle == 1  # the HTTP/2 connection was closed once idle


async def test_without_alt_svc_the_origin_stays_on_tcp(
    make_pool: PoolFactory, tls: TLSMaterial, nursery: trio.Nursery
) -> None:
    server = await serve_hypercorn_h3(nursery, tls, alt_svc=False)
    async with make_pool(ssl_context=tls.client_context(), http2=True, http3=True) as pool:
        for _ in range(2):
            _, _, stream, ext = await pool.arequest(b"GET", server.url4("/"))
            await read_all(stream)
            assert ext["http_version"] == "HTTP/2"


@pytest.mark.parametrize("silent", [False, True], ids=["refused", "silent"])
async def test_falls_back_to_tcp_when_nothing_answers_on_udp(
    make_pool: PoolFactory, tls: TLSMaterial, nursery: trio.Nursery, silent: bool
) -> None:
    """No QUIC on the port (refused, or a socket that never answers): TCP, and QUIC not retried."""
    server = await serve_hypercorn_h3(nursery, tls, quic=False, silent_udp=silent)
    ext_in = {"timeout": {"connect": 0.5}}
    async with make_pool(ssl_context=tls.client_context(), http2=True, http3="prior") as pool:
        start = trio.current_time()
        _, _, stream, ext = await pool.arequest(b"GET", server.url4("/"), ext=ext_in)
        assert (await read_all(stream), ext["http_version"]) == (b"hello", "HTTP/2")
        assert trio.current_time() - start < 2
        policy = pool._options.http3
        assert policy.target((b"https", b"127.0.0.1", server.port), trio.current_time()) is None


async def test_http3_only_fails_when_nothing_answers(
    make_pool: PoolFactory, tls: TLSMaterial, nursery: trio.Nursery
) -> None:
    server = await serve_hypercorn_h3(nursery, tls, quic=False, silent_udp=True)
    async with make_pool(ssl_context=tls.client_context(), http3="only") as pool:
        with pytest.raises(trio_httpcore.ConnectTimeout, match=r"127\.0\.0\.1") as info:
            await pool.arequest(b"GET", server.url4("/"), ext={"timeout": {"connect": 0.3}})
        assert isinstance(info.value.__cause__, trio.TooSlowError)


async def test_an_untrusted_certificate_is_a_connect_error(
    make_pool: PoolFactory, h3_server: Server, other_tls: TLSMaterial
) -> None:
    async with make_pool(ssl_context=other_tls.client_context(), http3="only") as pool:
        with pytest.raises(trio_httpcore.ConnectError, match=r"127\.0\.0\.1") as info:
            await pool.arequest(b"GET", h3_server.url4("/"))
        assert info.value.__cause__ is not None


def test_http3_needs_a_known_mode() -> None:
    with pytest.raises(ValueError, match="http3"):
        trio_httpcore.AsyncConnectionPool(http3="yes")  # type: ignore[arg-type]


def test_the_blocking_client_speaks_http3(tls: TLSMaterial) -> None:
    """The portal runs the same pool: HTTP/3 with no code of its own."""
    from tests.support.threaded import ThreadedServer

    with (
        ThreadedServer(lambda nursery: serve_hypercorn_h3(nursery, tls)) as server,
        trio_httpcore.Client(verify=tls.ca_file, http3="prior") as client,
    ):
        response = client.get(f"{server.server.url}/bytes/100000")
        assert response.http_version == "HTTP/3"
        assert response.content == pattern(100_000)
