"""Proxies through the client: ``proxies=`` (a URL or a pattern mapping) and the
environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``), through
pproxy (HTTP forwarding, CONNECT tunnels, SOCKS5 with credentials).

Which way a request went is read from the pools: each proxy has a pool of its
own, and a request leaves an idle connection in the pool that carried it. A
proxy URL with nothing listening shows the other side: a request that goes to
it fails with ``ConnectError`` naming the proxy, so one that succeeds went
around it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio

from tests.support.asgi import serve_hypercorn
from tests.support.proxy import PProxy
from tests.support.raw import RawConn, closed_port
from tests.support.servers import HOST, Server
from tests.support.tls import TLSMaterial
from trio_httpcore import (
    URL,
    AsyncClient,
    AsyncConnectionPool,
    AsyncHTTPProxy,
    AsyncSOCKSProxy,
    Client,
    ConnectError,
    InvalidURL,
    ProxyError,
    UnsupportedProtocol,
)

from .conftest import ClientApp


def idle(client: AsyncClient, url: str) -> tuple[str, int]:
    """The kind of transport that carries ``url``, and its idle connections."""
    transport = client._transport_for_url(URL(url))
    return type(transport).__name__, transport.statistics().idle  # type: ignore[attr-defined]


def proxy_url(proxy: PProxy, credentials: str = "") -> str:
    return f"{proxy.scheme}://{credentials}{HOST}:{proxy.port}"


@pytest.fixture
def dead_proxy() -> str:
    """An HTTP proxy URL on a port where nothing listens."""
    return f"http://{HOST}:{closed_port()}"


@pytest.fixture
async def tls_origin(nursery: trio.Nursery, client_app: ClientApp, tls: TLSMaterial) -> Server:
    """ClientApp over TLS (ALPN http/1.1 only) with the ``tls`` certificate."""
    return await serve_hypercorn(
        nursery, client_app, certfile=tls.certfile, keyfile=tls.keyfile, alpn=["http/1.1"]
    )


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy variables but those a test sets."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


async def test_forward_through_one_proxy_url(server: Server, pproxy_http: PProxy) -> None:
    async with AsyncClient(proxies=proxy_url(pproxy_http)) as client:
        response = await client.get(f"{server.url}/echo?q=1")
        assert response.json()["query"] == "q=1"
        assert idle(client, server.url) == ("AsyncHTTPProxy", 1)
        assert client._transport.statistics().idle == 0  # type: ignore[union-attr]


async def test_proxy_credentials_from_the_url(server: Server, pproxy_http_auth: PProxy) -> None:
    """``user:secret@`` goes to the proxy as Basic Proxy-Authorization (407 without)."""
    url = f"{server.url}/echo"
    async with AsyncClient(proxies=proxy_url(pproxy_http_auth, "user:secret@")) as client:
        response = await client.get(url)
        assert response.status_code == 200
        assert "proxy-authorization" not in dict(response.json()["headers"])
    async with AsyncClient(proxies=proxy_url(pproxy_http_auth)) as client:
        assert (await client.get(url)).status_code == 407
    async with AsyncClient(proxies=proxy_url(pproxy_http_auth, "user:wrong@")) as client:
        assert (await client.get(url)).status_code == 407


async def test_https_tunnel_by_scheme_pattern(
    server: Server, tls_origin: Server, pproxy_http: PProxy, tls: TLSMaterial
) -> None:
    """``"https://"`` tunnels https requests; http ones, matching no pattern, go direct."""
    https = f"https://localhost:{tls_origin.port}/echo"
    async with AsyncClient(
        proxies={"https://": proxy_url(pproxy_http)}, verify=tls.ca_file
    ) as client:
        for _ in range(2):
            response = await client.get(https)
            assert response.json()["http_version"] == "1.1"
        assert idle(client, https) == ("AsyncHTTPProxy", 1)  # one tunnel, reused
        assert (await client.get(f"{server.url}/echo")).status_code == 200
        assert idle(client, server.url) == ("AsyncConnectionPool", 1)


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
async def test_socks5_with_credentials(
    server: Server, tls_origin: Server, pproxy_socks5_auth: PProxy, tls: TLSMaterial, scheme: str
) -> None:
    proxy = f"{scheme}://user:secret@{HOST}:{pproxy_socks5_auth.port}"
    async with AsyncClient(proxies=proxy, verify=tls.ca_file) as client:
        assert (await client.get(f"{server.url}/echo")).status_code == 200
        assert (await client.get(f"https://localhost:{tls_origin.port}/echo")).status_code == 200
        assert idle(client, server.url) == ("AsyncSOCKSProxy", 2)
    bad = f"{scheme}://user:wrong@{HOST}:{pproxy_socks5_auth.port}"
    async with AsyncClient(proxies=bad) as client:
        with pytest.raises(ProxyError):
            await client.get(f"{server.url}/echo")


async def test_most_specific_pattern_wins(
    server: Server, pproxy_http: PProxy, pproxy_socks5: PProxy, dead_proxy: str
) -> None:
    url = f"{server.url}/echo"
    proxies: dict[str, str | None] = {
        "all://": dead_proxy,
        "http://": dead_proxy,
        f"all://{HOST}": proxy_url(pproxy_socks5),
        f"http://{HOST}:{server.port}": proxy_url(pproxy_http),
    }
    async with AsyncClient(proxies=proxies) as client:
        assert (await client.get(url)).status_code == 200
        assert idle(client, url) == ("AsyncHTTPProxy", 1)
        assert len(client._proxy_pools) == 3  # one pool per distinct proxy URL
    # A pattern mapped to None: no proxy, even under a wider pattern with one.
    async with AsyncClient(proxies={"all://": dead_proxy, f"all://*{HOST}": None}) as client:
        assert (await client.get(url)).status_code == 200
        assert idle(client, url) == ("AsyncConnectionPool", 1)
    async with AsyncClient(proxies={"all://": dead_proxy}) as client:
        with pytest.raises(ConnectError, match="proxy"):
            await client.get(url)


async def test_environment_proxies(
    server: Server,
    tls_origin: Server,
    pproxy_http: PProxy,
    tls: TLSMaterial,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy_url(pproxy_http))
    monkeypatch.setenv("HTTPS_PROXY", f"{HOST}:{pproxy_http.port}")  # no scheme: http://
    https = f"https://localhost:{tls_origin.port}/echo"
    async with AsyncClient(verify=tls.ca_file) as client:
        assert (await client.get(f"{server.url}/echo")).status_code == 200
        assert (await client.get(https)).status_code == 200
        # Both variables name one proxy: one pool, holding a forwarding connection and a tunnel.
        assert client._transport_for_url(URL(https)) is client._transport_for_url(URL(server.url))
        assert idle(client, https) == ("AsyncHTTPProxy", 2)
        assert client._transport.statistics().idle == 0  # type: ignore[union-attr]
    # trust_env=False, or a transport of one's own: the environment is not read.
    async with AsyncClient(trust_env=False) as client:
        await client.get(f"{server.url}/echo")
        assert idle(client, server.url) == ("AsyncConnectionPool", 1)
    async with AsyncClient(transport=AsyncConnectionPool()) as client:
        await client.get(f"{server.url}/echo")
        assert idle(client, server.url) == ("AsyncConnectionPool", 1)


@pytest.mark.parametrize(
    "no_proxy", [HOST, "127.0.0.0/8", "*", "example.org, 127.0.0.1", "localhost"]
)
async def test_no_proxy_bypass(
    server: Server, dead_proxy: str, monkeypatch: pytest.MonkeyPatch, no_proxy: str
) -> None:
    """ALL_PROXY points nowhere: a request succeeds only if NO_PROXY let it bypass."""
    monkeypatch.setenv("ALL_PROXY", dead_proxy)
    host = "localhost" if "localhost" in no_proxy else HOST
    url = f"http://{host}:{server.port}/echo"
    async with AsyncClient() as client:
        with pytest.raises(ConnectError, match="proxy"):
            await client.get(url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    async with AsyncClient() as client:
        assert (await client.get(url)).status_code == 200
        if no_proxy != "*":
            # Only the hosts NO_PROXY names bypass the proxy.
            with pytest.raises(ConnectError, match="proxy"):
                await client.get(f"http://{'localhost' if host == HOST else HOST}:{server.port}/")


async def test_proxy_url_errors() -> None:
    with pytest.raises(UnsupportedProtocol, match="'ftp'") as info:
        AsyncClient(proxies="ftp://user:hunter2@proxy.example:21")
    assert "hunter2" not in str(info.value)


def test_blocking_client_through_a_proxy(
    serve_in_thread: Callable[..., Server], pproxy_socks5: PProxy
) -> None:
    server = serve_in_thread()
    with Client(proxies=proxy_url(pproxy_socks5)) as client:
        assert client.get(f"{server.url}/echo").status_code == 200
        assert isinstance(client._client._transport_for_url(URL(server.url)), AsyncSOCKSProxy)


async def test_the_pools_open_and_close_with_the_client(pproxy_http: PProxy) -> None:
    client = AsyncClient(proxies={"http://": proxy_url(pproxy_http), "https://": None})
    (pool,) = client._proxy_pools.values()
    assert isinstance(pool, AsyncHTTPProxy)
    with pytest.raises(RuntimeError, match="async with"):
        await client.get("http://example.org/")
    async with client:
        pass
    with pytest.raises(RuntimeError):
        await pool.arequest(b"GET", (b"http", b"example.org", None, b"/"))


def test_http2_only_client_keeps_its_alpn_offer(pproxy_http: PProxy) -> None:
    """An HTTP proxy pool offers http/1.1 by ALPN: with ``http1=False`` it gets a TLS
    context of its own, so the direct connections still offer h2 only."""
    for http1 in (True, False):
        client = AsyncClient(
            http1=http1, http2=True, proxies={"all://proxied": proxy_url(pproxy_http)}
        )
        (pool,) = client._proxy_pools.values()
        shared = pool._options.ssl_context is client._transport._options.ssl_context  # type: ignore[attr-defined,union-attr]
        assert shared is http1


async def test_proxy_is_httpx_name_for_one_proxy(server: Server, pproxy_http: PProxy) -> None:
    """``proxy=`` takes a URL, as httpx 0.28 does, or a proxy transport."""
    async with AsyncClient(proxy=proxy_url(pproxy_http)) as client:
        assert (await client.get(f"{server.url}/echo")).status_code == 200
        assert idle(client, server.url) == ("AsyncHTTPProxy", 1)
    transport = AsyncHTTPProxy(URL(proxy_url(pproxy_http)).raw)
    async with AsyncClient(proxy=transport) as client:
        assert (await client.get(f"{server.url}/echo")).status_code == 200
        assert client._transport_for_url(URL(server.url)) is transport
        assert transport.statistics().idle == 1
    with pytest.raises(TypeError, match="proxy= or"):
        AsyncClient(proxy=proxy_url(pproxy_http), proxies=proxy_url(pproxy_http))


async def test_mounts_route_around_a_proxy(
    server: Server, dead_proxy: str, client_app: ClientApp
) -> None:
    """A mounted pattern beats the proxy's; ``None`` mounts the default transport."""
    mounts = {f"all://{HOST}": None}
    async with AsyncClient(proxy=dead_proxy, mounts=mounts) as client:
        assert (await client.get(f"{server.url}/echo")).status_code == 200
        assert idle(client, server.url) == ("AsyncConnectionPool", 1)
        with pytest.raises(ConnectError, match=dead_proxy.rpartition(":")[2]):
            await client.get("http://elsewhere.invalid/")
    assert len(client_app.requests) == 1


@pytest.mark.parametrize("through_proxy", [True, False])
async def test_an_invalid_a_label_is_invalid_url_before_anything_leaves(
    start_raw_server: Callable[..., Any], through_proxy: bool
) -> None:
    """``http://xn--.test/`` (an empty A-label), through a forward proxy or not:
    InvalidURL, and the proxy never hears of it (issue 19)."""
    received: list[bytes] = []

    async def record(conn: RawConn) -> None:
        received.append(await conn.receive_some())

    proxy = await start_raw_server(record)
    proxies = f"http://{HOST}:{proxy.port}" if through_proxy else None
    async with AsyncClient(proxies=proxies, trust_env=False) as client:
        with pytest.raises(InvalidURL, match="A-label"):
            await client.get("http://xn--.test/")
    assert proxy.connections == [] and received == []
