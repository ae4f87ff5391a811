"""AsyncHTTPProxy: forwarding, CONNECT tunnels, HTTPS proxies, and what goes where."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing

from tests.support.pool import assert_empty, assert_quiescent
from tests.support.proxy import PROXY_AUTH_HEADER, PProxy, RecordingProxy
from tests.support.raw import RawConn, closed_port
from tests.support.servers import HOST, Server
from tests.support.tls import TLSMaterial
from trio_httpcore import (
    AsyncHTTPProxy,
    ConnectError,
    LocalProtocolError,
    ProxyError,
    UnsupportedProtocol,
)

from .helpers import echo, fetch, header_names

# ---------------------------------------------------------------------------
# Through pproxy


async def test_forward_http_through_pproxy(pproxy_http: PProxy, hypercorn_server: Server) -> None:
    async with AsyncHTTPProxy(pproxy_http.url4) as pool:
        doc = await echo(pool, hypercorn_server.url4("/echo?q=1"))
        assert (doc["path"], doc["query"]) == ("/echo", "q=1")
        assert ["host", f"{HOST}:{hypercorn_server.port}"] in doc["headers"]
        assert_quiescent(pool)
    assert_empty(pool)


async def test_tunnel_https_http11_through_pproxy(
    pproxy_http: PProxy, tls_server: Server, tls: TLSMaterial
) -> None:
    async with AsyncHTTPProxy(pproxy_http.url4, ssl_context=tls.client_context()) as pool:
        for _ in range(2):
            doc = await echo(pool, tls_server.url4("/echo", host="localhost"))
            assert doc["http_version"] == "1.1"
        # One tunnel, reused by the second request.
        assert pool.statistics().idle == 1
    assert_empty(pool)


async def test_tunnel_proxy_authorization_never_reaches_origin(
    pproxy_http_auth: PProxy, tls_server: Server, tls: TLSMaterial
) -> None:
    """pproxy lets the CONNECT through only with the credentials; the origin never sees them."""
    async with AsyncHTTPProxy(
        pproxy_http_auth.url4, proxy_headers=[PROXY_AUTH_HEADER], ssl_context=tls.client_context()
    ) as pool:
        doc = await echo(pool, tls_server.url4("/echo"), [(b"Authorization", b"Bearer origin")])
    names = header_names(doc)
    assert "proxy-authorization" not in names
    assert ["authorization", "Bearer origin"] in doc["headers"]


async def test_connect_answered_407_raises_proxy_error(
    pproxy_http_auth: PProxy, tls_server: Server, tls: TLSMaterial
) -> None:
    async with AsyncHTTPProxy(pproxy_http_auth.url4, ssl_context=tls.client_context()) as pool:
        with pytest.raises(ProxyError) as info:
            await fetch(pool, tls_server.url4("/echo"))
        assert_empty(pool)
    error = info.value
    assert (error.status_code, error.reason) == (407, "Proxy Authentication Required")
    assert f"proxy http://{HOST}:{pproxy_http_auth.port}" in str(error)
    assert f"{HOST}:{tls_server.port}" in str(error)


# ---------------------------------------------------------------------------
# Modes and forwarding, seen by our own proxy


async def test_forwarding_shares_one_connection_across_origins(
    start_recording_proxy: Callable[..., Any],
) -> None:
    proxy: RecordingProxy = await start_recording_proxy()
    async with AsyncHTTPProxy(proxy.url4, proxy_headers=[PROXY_AUTH_HEADER]) as pool:
        for url in [
            (b"http", b"example.org", None, b"/a?x=1"),
            (b"http", b"other.example", 8080, b"/b"),
        ]:
            status, _, body, _ = await fetch(pool, url)
            assert (status, body) == (200, b"forwarded")
    assert proxy.server.counter.total == 1
    first, second = proxy.heads
    assert first.startswith(b"GET http://example.org/a?x=1 HTTP/1.1\r\n")
    assert second.startswith(b"GET http://other.example:8080/b HTTP/1.1\r\n")
    assert b"\r\nHost: other.example:8080" in second
    assert b"\r\nProxy-Authorization: Basic " in second


async def test_forward_only_sends_https_requests_in_absolute_form(
    start_recording_proxy: Callable[..., Any],
) -> None:
    proxy: RecordingProxy = await start_recording_proxy()
    async with AsyncHTTPProxy(proxy.url4, proxy_mode="FORWARD_ONLY") as pool:
        status, _, _, _ = await fetch(pool, (b"https", b"example.org", None, b"/"))
    assert status == 200
    assert proxy.heads[0].startswith(b"GET https://example.org/ HTTP/1.1\r\n")


async def test_request_proxy_authorization_overrides_proxy_headers(
    start_recording_proxy: Callable[..., Any],
) -> None:
    proxy: RecordingProxy = await start_recording_proxy()
    async with AsyncHTTPProxy(proxy.url4, proxy_headers=[PROXY_AUTH_HEADER]) as pool:
        await fetch(pool, (b"http", b"example.org", None, b"/"), [(b"Proxy-Authorization", b"x")])
    assert proxy.header_names().count(b"proxy-authorization") == 1
    assert b"\r\nProxy-Authorization: x" in proxy.heads[0]


async def test_tunnel_only_tunnels_http_origins(
    start_recording_proxy: Callable[..., Any], hypercorn_server: Server
) -> None:
    proxy: RecordingProxy = await start_recording_proxy()
    async with AsyncHTTPProxy(proxy.url4, proxy_mode="TUNNEL_ONLY") as pool:
        doc = await echo(pool, hypercorn_server.url4("/echo"))
    assert doc["path"] == "/echo"
    assert proxy.heads == [
        b"CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d" % ((HOST.encode(), hypercorn_server.port) * 2)
    ]


def test_proxy_mode_must_be_known() -> None:
    with pytest.raises(ValueError, match="TUNNEL_ONLY"):
        AsyncHTTPProxy((b"http", b"proxy", 3128, b"/"), proxy_mode="TUNNEL")


def test_proxy_url_scheme_must_be_http_or_https() -> None:
    with pytest.raises(UnsupportedProtocol, match="AsyncSOCKSProxy"):
        AsyncHTTPProxy((b"socks5", b"proxy", 1080, b"/"))


def test_max_keepalive_is_deprecated() -> None:
    with pytest.warns(DeprecationWarning, match="max_keepalive_connections"):
        AsyncHTTPProxy((b"http", b"proxy", 3128, b"/"), max_keepalive=3)


async def test_unreachable_proxy_is_a_connect_error_naming_it() -> None:
    port = closed_port()  # nothing listens there
    async with AsyncHTTPProxy((b"http", HOST.encode(), port, b"/")) as pool:
        with pytest.raises(ConnectError) as info:
            await fetch(pool, (b"https", b"example.org", None, b"/"))
        assert_empty(pool)
    assert f"connecting to proxy http://{HOST}:{port}" in str(info.value)


async def test_connect_timeout_covers_the_connect_exchange(
    start_raw_server: Callable[..., Any], autojump_clock: trio.testing.MockClock
) -> None:
    from trio_httpcore import ConnectTimeout

    async def silent(conn: Any) -> None:
        await conn.read_request_head()
        await conn.wait_closed_by_peer()

    server = await start_raw_server(silent)
    async with AsyncHTTPProxy((b"http", HOST.encode(), server.port, b"/")) as pool:
        with pytest.raises(ConnectTimeout):
            await pool.arequest(
                b"GET", (b"https", b"example.org", None, b"/"), ext={"timeout": {"connect": 0.2}}
            )
        assert_empty(pool)


# ---------------------------------------------------------------------------
# Field lessons


async def test_encode_httpcore_722_https_proxy_tls_in_tls(
    start_recording_proxy: Callable[..., Any], tls_server: Server, tls: TLSMaterial
) -> None:
    """FIELD-LESSONS 15: TLS to the proxy, and TLS to the origin inside that, over CONNECT."""
    proxy: RecordingProxy = await start_recording_proxy(tls_proxy=True)
    assert proxy.url4[0] == b"https"
    async with AsyncHTTPProxy(proxy.url4, ssl_context=tls.client_context()) as pool:
        for _ in range(2):
            doc = await echo(pool, tls_server.url4("/echo", host="localhost"))
            assert doc["path"] == "/echo"
    assert len(proxy.heads) == 1
    assert proxy.heads[0].startswith(b"CONNECT localhost:%d HTTP/1.1\r\n" % tls_server.port)


async def test_encode_httpcore_722_tls_proxy_certificate_is_verified(
    start_recording_proxy: Callable[..., Any], tls_server: Server, other_tls: TLSMaterial
) -> None:
    """FIELD-LESSONS 15: the proxy's certificate is checked, like an origin's."""
    proxy: RecordingProxy = await start_recording_proxy(tls_proxy=True)
    async with AsyncHTTPProxy(proxy.url4, ssl_context=other_tls.client_context()) as pool:
        with pytest.raises(ConnectError, match="verify failed") as info:
            await fetch(pool, tls_server.url4("/echo"))
    assert f"proxy https://{HOST}:{proxy.server.port}" in str(info.value)
    assert proxy.heads == []


@pytest.mark.parametrize(
    ("url", "line"),
    [
        ((b"https", b"example.org", None, b"/"), b"CONNECT example.org:443 HTTP/1.1"),
        ((b"https", b"example.org", 443, b"/"), b"CONNECT example.org:443 HTTP/1.1"),
        ((b"https", b"example.org", 8443, b"/"), b"CONNECT example.org:8443 HTTP/1.1"),
        ((b"https", b"::1", None, b"/"), b"CONNECT [::1]:443 HTTP/1.1"),
        ((b"https", b"2001:db8::7", 8443, b"/"), b"CONNECT [2001:db8::7]:8443 HTTP/1.1"),
        ((b"http", b"example.org", None, b"/"), b"CONNECT example.org:80 HTTP/1.1"),
    ],
)
async def test_encode_httpx_1169_connect_always_has_the_port(
    start_recording_proxy: Callable[..., Any], url: Any, line: bytes
) -> None:
    """FIELD-LESSONS 16: the CONNECT target is host:port, 443 by default, IPv6 in brackets."""
    proxy: RecordingProxy = await start_recording_proxy()
    proxy.connect_status = b"403 Forbidden"
    async with AsyncHTTPProxy(proxy.url4, proxy_mode="TUNNEL_ONLY") as pool:
        with pytest.raises(ProxyError) as info:
            await fetch(pool, url)
    assert (info.value.status_code, info.value.reason) == (403, "Forbidden")
    request_line, host = proxy.heads[0].split(b"\r\n")[:2]
    assert request_line == line
    assert host == b"Host: " + line.split(b" ")[1]


async def test_encode_httpx_473_credentials_stay_where_they_belong(
    start_recording_proxy: Callable[..., Any], tls_server: Server, tls: TLSMaterial
) -> None:
    """FIELD-LESSONS 17: Proxy-Authorization only on CONNECT; origin Authorization never on it."""
    proxy: RecordingProxy = await start_recording_proxy()
    async with AsyncHTTPProxy(
        proxy.url4, proxy_headers=[PROXY_AUTH_HEADER], ssl_context=tls.client_context()
    ) as pool:
        docs = [
            await echo(pool, tls_server.url4("/echo"), [(b"Authorization", b"Bearer origin")])
            for _ in range(2)
        ]
    assert len(proxy.heads) == 1
    assert proxy.header_names() == [b"host", b"proxy-authorization"]
    for doc in docs:
        assert "proxy-authorization" not in header_names(doc)
        assert ["authorization", "Bearer origin"] in doc["headers"]


# ---------------------------------------------------------------------------
# HTTPS proxies, leftovers and cancellation


async def test_forward_over_tls_to_an_https_proxy(
    start_recording_proxy: Callable[..., Any], tls: TLSMaterial
) -> None:
    proxy: RecordingProxy = await start_recording_proxy(tls_proxy=True)
    async with AsyncHTTPProxy(proxy.url4, ssl_context=tls.client_context()) as pool:
        status, _, body, _ = await fetch(pool, (b"http", b"example.org", None, b"/"))
    assert (status, body) == (200, b"forwarded")
    assert proxy.heads[0].startswith(b"GET http://example.org/ HTTP/1.1\r\n")


async def test_caller_context_offers_the_proxy_only_http11(
    start_recording_proxy: Callable[..., Any], tls_server: Server, tls: TLSMaterial
) -> None:
    """With the caller's ``ssl_context`` and ``http2=True`` a TLS proxy that prefers h2 is
    offered only http/1.1 by ALPN (issue 19), HTTP/2 to the origin inside the tunnel still
    works, and the caller's context still offers h2 afterwards (it was not changed for the
    proxy)."""
    context = tls.client_context()
    proxy: RecordingProxy = await start_recording_proxy(tls_proxy=True, alpn=("h2", "http/1.1"))
    async with AsyncHTTPProxy(proxy.url4, ssl_context=context, http2=True) as pool:
        doc = await echo(pool, tls_server.url4("/echo"))
        # A forwarded request goes over its own TLS connection to the proxy.
        status, _, body, _ = await fetch(pool, (b"http", b"example.org", None, b"/"))
    assert doc["http_version"] == "2"
    assert (status, body) == (200, b"forwarded")
    assert proxy.alpn_chosen == ["http/1.1", "http/1.1"]
    assert proxy.heads[0].startswith(b"CONNECT ")
    # The context, used directly, still offers h2 (and the origin picks it).
    tcp = await trio.open_tcp_stream(HOST, tls_server.port)
    direct = trio.SSLStream(tcp, context, server_hostname="localhost")
    await direct.do_handshake()
    assert direct.selected_alpn_protocol() == "h2"
    await trio.aclose_forcefully(direct)


async def test_default_context_offers_the_proxy_only_http11(
    start_recording_proxy: Callable[..., Any],
    tls_server: Server,
    tls: TLSMaterial,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without an ``ssl_context``, a TLS proxy preferring h2 still gets HTTP/1.1 (and the
    origin in the tunnel still gets h2)."""
    from trio_httpcore._transport import _pool

    # The default context, made to trust the test CA instead of certifi's.
    monkeypatch.setattr(_pool, "default_ssl_context", tls.client_context)
    proxy: RecordingProxy = await start_recording_proxy(tls_proxy=True, alpn=("h2", "http/1.1"))
    async with AsyncHTTPProxy(proxy.url4, http2=True) as pool:
        doc = await echo(pool, tls_server.url4("/echo"))
    assert doc["http_version"] == "2"
    assert proxy.alpn_chosen == ["http/1.1"]
    assert proxy.heads[0].startswith(b"CONNECT ")


async def test_bytes_after_the_connect_answer_belong_to_the_tunnel(
    start_raw_server: Callable[..., Any],
) -> None:
    """A proxy may send the tunnel's first bytes with its 200: they are not lost."""

    async def eager(conn: RawConn) -> None:
        await conn.read_request_head()
        await conn.send(
            b"HTTP/1.1 200 Connection established\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly"
        )
        await conn.read_request_head()
        await conn.wait_closed_by_peer()

    server = await start_raw_server(eager)
    async with AsyncHTTPProxy(
        (b"http", HOST.encode(), server.port, b"/"), proxy_mode="TUNNEL_ONLY"
    ) as pool:
        status, _, body, _ = await fetch(pool, (b"http", b"example.org", None, b"/"))
    assert (status, body) == (200, b"early")


async def test_cancelled_while_the_proxy_answers_connect(
    start_raw_server: Callable[..., Any],
) -> None:
    """Cancelled mid-CONNECT: the half-open tunnel is closed and the slot released."""
    received = trio.Event()

    async def stall(conn: RawConn) -> None:
        await conn.read_request_head()
        received.set()
        await conn.wait_closed_by_peer()

    server = await start_raw_server(stall)
    async with AsyncHTTPProxy((b"http", HOST.encode(), server.port, b"/")) as pool:
        async with trio.open_nursery() as nursery:

            async def request() -> None:
                await fetch(pool, (b"https", b"example.org", None, b"/"))

            nursery.start_soon(request)
            await received.wait()
            assert pool.statistics().connecting == 1
            nursery.cancel_scope.cancel()
        assert_empty(pool)
        await server.counter.wait_for(lambda: server.counter.open_now == 0)


# ---------------------------------------------------------------------------
# HTTP/2 inside a tunnel


async def test_tunnel_https_http2_through_pproxy(
    pproxy_http: PProxy, tls_server: Server, tls: TLSMaterial
) -> None:
    async with AsyncHTTPProxy(
        pproxy_http.url4, ssl_context=tls.client_context(), http2=True
    ) as pool:
        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(echo, pool, tls_server.url4("/echo"))
        doc = await echo(pool, tls_server.url4("/echo"))
        assert doc["http_version"] == "2"
        assert doc["response_ext"]["http_version"] == "HTTP/2"
        # One tunnel carries every stream.
        assert pool.statistics().idle == 1
    assert_empty(pool)


async def test_encode_httpcore_722_http2_inside_a_tunnel_through_an_https_proxy(
    start_recording_proxy: Callable[..., Any], tls_server: Server, tls: TLSMaterial
) -> None:
    """FIELD-LESSONS 15: HTTP/2 to the origin, in TLS, in TLS to the proxy."""
    proxy: RecordingProxy = await start_recording_proxy(tls_proxy=True)
    async with AsyncHTTPProxy(proxy.url4, ssl_context=tls.client_context(), http2=True) as pool:
        docs = []

        async def one() -> None:
            docs.append(await echo(pool, tls_server.url4("/echo", host="localhost")))

        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(one)
    assert [doc["http_version"] for doc in docs] == ["2"] * 4
    assert len(proxy.heads) == 1


async def test_origin_name_is_verified_inside_the_tunnel(
    start_recording_proxy: Callable[..., Any], tls_server: Server, tls: TLSMaterial
) -> None:
    """TLS inside the tunnel checks the origin's name (here one its certificate lacks)."""
    proxy: RecordingProxy = await start_recording_proxy()
    async with AsyncHTTPProxy(proxy.url4, ssl_context=tls.client_context()) as pool:
        with pytest.raises(ConnectError, match="verify failed") as info:
            await fetch(pool, tls_server.url4("/echo", host="example.org"))
        assert_empty(pool)
    assert f"https://example.org:{tls_server.port}" in str(info.value)
    assert proxy.heads[0].startswith(b"CONNECT example.org:%d " % tls_server.port)


@pytest.mark.parametrize("answer", [b"", b"SSH-2.0-OpenSSH\r\n\r\n"])
async def test_proxy_failing_to_answer_connect_is_a_proxy_error(
    start_raw_server: Callable[..., Any], answer: bytes
) -> None:
    """Closing without an answer, or answering in something other than HTTP."""

    async def bad(conn: RawConn) -> None:
        await conn.read_request_head()
        await conn.send(answer)

    server = await start_raw_server(bad)
    async with AsyncHTTPProxy((b"http", HOST.encode(), server.port, b"/")) as pool:
        with pytest.raises(ProxyError, match=r"failed to answer CONNECT example\.org:443") as info:
            await fetch(pool, (b"https", b"example.org", None, b"/"))
        assert_empty(pool)
    assert info.value.status_code is None


@pytest.mark.parametrize("host", [b"xn--.test", b"a.XN--zz-.test"])
async def test_an_invalid_a_label_is_refused_before_the_proxy_hears_of_it(
    start_recording_proxy: Callable[..., Any], host: bytes
) -> None:
    """The transport takes hosts already encoded: an empty or invalid A-label is refused
    (LocalProtocolError) rather than forwarded (issue 19)."""
    proxy: RecordingProxy = await start_recording_proxy()
    async with AsyncHTTPProxy(proxy.url4, proxy_mode="FORWARD_ONLY") as pool:
        with pytest.raises(LocalProtocolError, match="A-label"):
            await fetch(pool, (b"http", host, None, b"/"))
    assert proxy.heads == [] and proxy.server.connections == []
