"""AsyncSOCKSProxy: SOCKS5 through pproxy, remote DNS, and every refusal as ProxyError."""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trio
import trio.testing

from tests.support.pool import assert_empty
from tests.support.proxy import PProxy
from tests.support.raw import RawConn, closed_port
from tests.support.servers import HOST, Server
from tests.support.tls import TLSMaterial
from trio_httpcore import (
    AsyncSOCKSProxy,
    ConnectError,
    ConnectTimeout,
    ProxyError,
    UnsupportedProtocol,
)

from .helpers import echo, fetch


class RefusingResolver(trio.abc.HostnameResolver):
    """Fails every host-name lookup of this process, and remembers the names."""

    def __init__(self) -> None:
        self.names: list[bytes | str] = []

    async def getaddrinfo(self, host: bytes | str | None, *args: Any, **kwargs: Any) -> Any:
        assert host is not None
        self.names.append(host)
        raise OSError(f"the client looked up {host!r}")

    async def getnameinfo(self, *args: Any) -> Any:  # pragma: no cover - never called
        raise OSError("no reverse lookups")


@pytest.fixture
async def no_client_dns() -> AsyncIterator[RefusingResolver]:
    """Any DNS lookup the client makes fails (and is recorded); IP literals need none."""
    resolver = RefusingResolver()
    previous = trio.socket.set_custom_hostname_resolver(resolver)
    yield resolver
    trio.socket.set_custom_hostname_resolver(previous)
    assert resolver.names == []


def socks_url(proxy: PProxy, scheme: bytes = b"socks5") -> Any:
    return (scheme, HOST.encode(), proxy.port, b"")


async def test_socks5_with_auth_through_pproxy(
    pproxy_socks5_auth: PProxy, hypercorn_server: Server, no_client_dns: RefusingResolver
) -> None:
    """Username/password login (RFC 1929); ``localhost`` is resolved by the proxy, not by us."""
    async with AsyncSOCKSProxy(
        socks_url(pproxy_socks5_auth), proxy_auth=(b"user", b"secret")
    ) as pool:
        for _ in range(2):
            doc = await echo(pool, hypercorn_server.url4("/echo", host="localhost"))
            assert ["host", f"localhost:{hypercorn_server.port}"] in doc["headers"]
        assert pool.statistics().idle == 1


@pytest.mark.parametrize("scheme", [b"socks5", b"socks5h"])
async def test_socks5_to_https_origin_through_pproxy(
    pproxy_socks5: PProxy,
    tls_server: Server,
    tls: TLSMaterial,
    scheme: bytes,
    no_client_dns: RefusingResolver,
) -> None:
    async with AsyncSOCKSProxy(
        socks_url(pproxy_socks5, scheme), ssl_context=tls.client_context()
    ) as pool:
        doc = await echo(pool, tls_server.url4("/echo", host="localhost"))
    assert doc["http_version"] == "1.1"


async def test_socks5_http2_to_https_origin_through_pproxy(
    pproxy_socks5_auth: PProxy, tls_server: Server, tls: TLSMaterial
) -> None:
    async with AsyncSOCKSProxy(
        socks_url(pproxy_socks5_auth),
        proxy_auth=(b"user", b"secret"),
        ssl_context=tls.client_context(),
        http2=True,
    ) as pool:
        doc = await echo(pool, tls_server.url4("/echo"))
    assert doc["http_version"] == "2"


async def test_socks5_wrong_password_raises_proxy_error(
    pproxy_socks5_auth: PProxy, hypercorn_server: Server
) -> None:
    async with AsyncSOCKSProxy(
        socks_url(pproxy_socks5_auth), proxy_auth=(b"user", b"wrong")
    ) as pool:
        with pytest.raises(ProxyError) as info:
            await fetch(pool, hypercorn_server.url4("/echo"))
    # pproxy hangs up instead of answering the login (the scripted proxy below answers).
    assert f"proxy socks5://{HOST}:{pproxy_socks5_auth.port}" in str(info.value)
    assert (info.value.status_code, info.value.reason) == (None, None)


async def test_a_refused_login_stops_the_handshake(start_raw_server: Callable[..., Any]) -> None:
    """A proxy that refuses the login (RFC 1929 status 1) but would still serve a CONNECT:
    the client stops at the refusal and never asks for the tunnel."""
    connects: list[bytes] = []

    async def lenient(conn: RawConn) -> None:
        await conn.read_exactly(3)  # version, one method: username/password
        await conn.send(b"\x05\x02")
        _, size = await conn.read_exactly(2)  # the subnegotiation's version, the name's size
        user = await conn.read_exactly(size)
        await conn.read_exactly((await conn.read_exactly(1))[0])  # the password
        await conn.send(b"\x01\x01")  # refused
        if (after := await conn.receive_some()) and user:
            connects.append(after)
            await conn.send(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")
            await conn.wait_closed_by_peer()

    server = await start_raw_server(lenient)
    proxy = (b"socks5", HOST.encode(), server.port, b"")
    async with AsyncSOCKSProxy(proxy, proxy_auth=(b"user", b"wrong")) as pool:
        with pytest.raises(ProxyError, match="refused the SOCKS5 login for user b'user'"):
            await fetch(pool, (b"http", b"example.org", None, b"/"))
    assert connects == []


async def test_socks5_without_credentials_is_refused(
    pproxy_socks5_auth: PProxy, hypercorn_server: Server
) -> None:
    async with AsyncSOCKSProxy(socks_url(pproxy_socks5_auth)) as pool:
        with pytest.raises(ProxyError, match=f"proxy socks5://{HOST}:{pproxy_socks5_auth.port}"):
            await fetch(pool, hypercorn_server.url4("/echo"))


# ---------------------------------------------------------------------------
# A scripted SOCKS5 server, for every reply


def scripted_socks5(
    requests: list[bytes], reply: int = 0, method: bytes = b"\x00"
) -> Callable[[RawConn], Any]:
    """Answers the greeting with ``method``, records the CONNECT request, replies ``reply``."""

    async def handle(conn: RawConn) -> None:
        await conn.read_exactly(3)
        await conn.send(b"\x05" + method)
        if method != b"\x00":
            return
        head = await conn.read_exactly(5)
        size = {1: 3, 4: 15}.get(head[3], head[4]) + 2
        requests.append(head + await conn.read_exactly(size))
        await conn.send(b"\x05" + bytes([reply]) + b"\x00\x01\x00\x00\x00\x00\x00\x00")
        await conn.wait_closed_by_peer()

    return handle


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (1, "general server failure (0x01)"),
        (2, "connection not allowed by ruleset (0x02)"),
        (3, "network unreachable (0x03)"),
        (4, "host unreachable (0x04)"),
        (5, "connection refused (0x05)"),
        (6, "ttl expired (0x06)"),
        (7, "command not supported (0x07)"),
        (8, "address type not supported (0x08)"),
    ],
)
async def test_every_socks5_failure_reply_is_a_proxy_error_naming_it(
    start_raw_server: Callable[..., Any], code: int, name: str
) -> None:
    requests: list[bytes] = []
    server = await start_raw_server(scripted_socks5(requests, reply=code))
    async with AsyncSOCKSProxy((b"socks5", HOST.encode(), server.port, b"")) as pool:
        with pytest.raises(ProxyError) as info:
            await fetch(pool, (b"https", b"example.org", None, b"/"))
    assert str(info.value) == (
        f"proxy socks5://{HOST}:{server.port} could not connect to example.org:443: {name}"
    )
    # The host went by name (ATYP 3), for the proxy to resolve.
    assert requests == [b"\x05\x01\x00\x03\x0bexample.org\x01\xbb"]


@pytest.mark.parametrize(
    ("host", "request_bytes", "shown"),
    [
        (b"10.1.2.3", b"\x05\x01\x00\x01\x0a\x01\x02\x03\x00\x50", "10.1.2.3:80"),
        (b"::1", b"\x05\x01\x00\x04" + b"\x00" * 15 + b"\x01\x00\x50", "[::1]:80"),
    ],
)
async def test_ip_literals_go_as_addresses(
    start_raw_server: Callable[..., Any], host: bytes, request_bytes: bytes, shown: str
) -> None:
    requests: list[bytes] = []
    server = await start_raw_server(scripted_socks5(requests, reply=5))
    async with AsyncSOCKSProxy((b"socks5", HOST.encode(), server.port, b"")) as pool:
        with pytest.raises(ProxyError, match=re.escape(f"could not connect to {shown}:")):
            await fetch(pool, (b"http", host, None, b"/"))
    assert requests == [request_bytes]


async def test_no_acceptable_method_is_a_proxy_error(
    start_raw_server: Callable[..., Any],
) -> None:
    server = await start_raw_server(scripted_socks5([], method=b"\xff"))
    async with AsyncSOCKSProxy((b"socks5", HOST.encode(), server.port, b"")) as pool:
        with pytest.raises(ProxyError, match="answered no acceptable methods"):
            await fetch(pool, (b"http", b"example.org", None, b"/"))


async def test_proxy_closing_during_the_handshake_is_a_proxy_error(
    start_raw_server: Callable[..., Any],
) -> None:
    async def hang_up(conn: RawConn) -> None:
        await conn.read_exactly(3)

    server = await start_raw_server(hang_up)
    async with AsyncSOCKSProxy((b"socks5", HOST.encode(), server.port, b"")) as pool:
        with pytest.raises(ProxyError, match="closed the connection during the SOCKS5 handshake"):
            await fetch(pool, (b"http", b"example.org", None, b"/"))


def test_proxy_url_scheme_must_be_socks5() -> None:
    with pytest.raises(UnsupportedProtocol, match="AsyncHTTPProxy"):
        AsyncSOCKSProxy((b"socks4", b"proxy", 1080, b""))


def test_credentials_longer_than_255_bytes_are_refused() -> None:
    with pytest.raises(ValueError, match="RFC 1929"):
        AsyncSOCKSProxy((b"socks5", b"proxy", 1080, b""), proxy_auth=(b"u" * 256, b"p"))


def test_missing_socksio_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "socksio", None)
    with pytest.raises(ImportError, match=r"trio_httpcore\[socks\]"):
        AsyncSOCKSProxy((b"socks5", b"proxy", 1080, b""))


async def test_connect_timeout_covers_the_socks5_handshake(
    start_raw_server: Callable[..., Any], autojump_clock: trio.testing.MockClock
) -> None:
    async def silent(conn: RawConn) -> None:
        await conn.wait_closed_by_peer()

    server = await start_raw_server(silent)
    async with AsyncSOCKSProxy((b"socks5", HOST.encode(), server.port, b"")) as pool:
        with pytest.raises(ConnectTimeout):
            await pool.arequest(
                b"GET", (b"http", b"example.org", None, b"/"), ext={"timeout": {"connect": 0.2}}
            )
        assert_empty(pool)


async def test_unreachable_socks_proxy_is_a_connect_error_naming_it() -> None:
    port = closed_port()  # nothing listens there
    async with AsyncSOCKSProxy((b"socks5", HOST.encode(), port, b"")) as pool:
        with pytest.raises(ConnectError, match=f"connecting to proxy socks5://{HOST}:{port}"):
            await fetch(pool, (b"http", b"example.org", None, b"/"))


async def test_proxy_resetting_during_the_handshake_is_a_proxy_error(
    start_raw_server: Callable[..., Any],
) -> None:
    async def reset(conn: RawConn) -> None:
        await conn.read_exactly(3)
        conn.reset()

    server = await start_raw_server(reset)
    async with AsyncSOCKSProxy((b"socks5", HOST.encode(), server.port, b"")) as pool:
        with pytest.raises(ProxyError, match=f"SOCKS5 handshake with proxy socks5://{HOST}"):
            await fetch(pool, (b"http", b"example.org", None, b"/"))
