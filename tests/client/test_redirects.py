"""Redirects: method rewriting, bodies, credentials, history, limits, one step at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trio

from tests.support.asgi import serve_hypercorn
from tests.support.proxy import RecordingProxy
from tests.support.servers import Server
from tests.support.tls import TLSMaterial
from trio_httpcore import AsyncHTTPProxy
from trio_httpcore._client import URL, AsyncClient
from trio_httpcore._exceptions import (
    RedirectBodyUnavailable,
    RemoteProtocolError,
    TooManyRedirects,
    UnsupportedProtocol,
)
from trio_httpcore._types import RawHeaders

from .conftest import ClientApp
from .helpers import MockTransport, Sent


def header_values(echo: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in echo["headers"] if key == name]


async def test_chain_and_history(client: AsyncClient, server: Server) -> None:
    response = await client.get("/chain/3")
    assert response.content == b"done"
    assert response.url == URL(f"{server.url}/chain/0")
    assert [r.status_code for r in response.history] == [302, 302, 302]
    assert [r.url.path for r in response.history] == ["/chain/3", "/chain/2", "/chain/1"]
    assert all(r.is_closed and r.is_redirect for r in response.history)
    assert response.history[-1].history == response.history[:2]


async def test_max_redirects(server: Server) -> None:
    async with AsyncClient(base_url=server.url, max_redirects=2) as client:
        assert (await client.get("/chain/2")).content == b"done"
        with pytest.raises(TooManyRedirects, match="max_redirects=2"):
            await client.get("/chain/3")
        # The connection of the refused redirect was released.
        assert (await client.get("/chain/0")).content == b"done"


@pytest.mark.parametrize("status", [301, 302, 303])
async def test_post_becomes_get_without_body(client: AsyncClient, status: int) -> None:
    response = await client.post(f"/redirect/{status}", params={"location": "/echo"}, json={"a": 1})
    echo = response.json()
    assert echo["method"] == "GET"
    assert echo["body"] == ""
    assert header_values(echo, "content-length") == []
    assert header_values(echo, "content-type") == []
    assert response.history[0].request.method == "POST"


@pytest.mark.parametrize("status", [307, 308])
async def test_307_308_keep_method_and_body(client: AsyncClient, status: int) -> None:
    response = await client.put(
        f"/redirect/{status}", params={"location": "/echo"}, content=b"payload"
    )
    echo = response.json()
    assert (echo["method"], echo["body"]) == ("PUT", "payload")
    assert header_values(echo, "content-length") == ["7"]


async def test_307_with_a_one_shot_body(client: AsyncClient) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"once"

    with pytest.raises(RedirectBodyUnavailable, match="one-shot"):
        await client.post("/redirect/307", params={"location": "/echo"}, content=body())
    # A 303 drops the body, so a one-shot body is no obstacle.
    response = await client.post("/redirect/303", params={"location": "/echo"}, content=body())
    assert response.json()["method"] == "GET"


async def test_head_is_not_followed_by_default(client: AsyncClient) -> None:
    response = await client.head("/redirect/302?location=/echo")
    assert response.status_code == 302
    assert response.next_request is not None
    response = await client.head("/redirect/302?location=/echo", follow_redirects=True)
    assert response.status_code == 200


async def test_relative_location_and_fragment(client: AsyncClient, server: Server) -> None:
    response = await client.get("/redirect/302?location=../echo/x%3Fy#kept")
    assert response.url == URL(f"{server.url}/echo/x?y#kept")
    response = await client.get("/redirect/302?location=echo%23new#old")
    assert response.url.fragment == "new"


async def test_cross_host_redirect_drops_authorization(client: AsyncClient, server: Server) -> None:
    same = await client.get(
        "/redirect/302", params={"location": "/echo"}, headers={"Authorization": "secret"}
    )
    assert header_values(same.json(), "authorization") == ["secret"]
    other = f"http://localhost:{server.port}/echo"
    moved = await client.get(
        "/redirect/302", params={"location": other}, headers={"Authorization": "secret"}
    )
    echo = moved.json()
    assert header_values(echo, "authorization") == []
    assert header_values(echo, "host") == [f"localhost:{server.port}"]


def redirecting(location: str, status: int = 302) -> MockTransport:
    """A transport that redirects ``/start`` to ``location`` and answers anything else."""

    def handler(sent: Sent) -> tuple[int, RawHeaders, bytes]:
        if sent[1][3].startswith(b"/start"):
            return status, [(b"location", location.encode())], b""
        return 200, [], b"arrived"

    return MockTransport(handler)


@pytest.mark.parametrize(
    ("start", "location", "keeps"),
    [
        ("http://a.example/start", "http://a.example/next", True),
        ("http://a.example/start", "https://a.example/next", True),  # upgrade, default ports
        ("http://a.example:8080/start", "https://a.example/next", False),
        ("https://a.example/start", "http://a.example/next", False),  # never down to http
        ("https://a.example/start", "https://b.example/next", False),
        ("https://a.example/start", "https://a.example:8443/next", False),
    ],
)
async def test_authorization_across_origins(start: str, location: str, keeps: bool) -> None:
    transport = redirecting(location)
    async with AsyncClient(transport=transport) as client:
        response = await client.get(start, headers={"Authorization": "Basic xyz"})
    assert response.content == b"arrived"
    final_headers = dict(transport.sent[-1][2])
    assert (b"Authorization" in final_headers) == keeps
    assert transport.entered and transport.closed


async def test_next_and_anext(client: AsyncClient, server: Server) -> None:
    response = await client.get("/chain/2", follow_redirects=False)
    assert response.status_code == 302
    assert response.next_request is not None
    assert response.next_request.url == URL(f"{server.url}/chain/1")
    second = await response.anext()
    assert second.status_code == 302
    assert second.history == [response]
    third = await second.anext()
    assert third.content == b"done"
    assert third.history == [response, second]
    with pytest.raises(ValueError, match="not a redirect"):
        await third.anext()
    with pytest.raises(RuntimeError, match="AsyncClient"):
        second.next()


async def test_next_with_stream(client: AsyncClient) -> None:
    response = await client.get("/chain/1", follow_redirects=False, stream=True)
    following = await response.anext()
    assert response.is_closed
    assert not following.is_closed
    assert await following.aread() == b"done"


async def test_bad_locations() -> None:
    async with AsyncClient(transport=redirecting("http://[::1/")) as client:
        with pytest.raises(RemoteProtocolError, match="Invalid Location"):
            await client.get("http://a.example/start")
        response = await client.get("http://a.example/start", follow_redirects=False)
        assert response.next_request is None
        with pytest.raises(RemoteProtocolError, match="Invalid Location"):
            await response.anext()
    async with AsyncClient(transport=redirecting("ftp://a.example/file")) as client:
        with pytest.raises(UnsupportedProtocol, match="ftp"):
            await client.get("http://a.example/start")


async def test_redirect_without_location_is_a_response(client: AsyncClient) -> None:
    response = await client.get("/status/302")
    assert response.status_code == 302
    assert not response.is_redirect
    assert response.history == []


# -- Credentials across origins, against real servers

AUTHORIZATION_MATRIX = [
    # (start, location, Authorization kept)
    ("http://localhost/", "http://localhost/echo", True),  # same origin
    ("http://localhost/", "http://localhost:80/echo", True),  # same origin, port spelt out
    ("http://localhost/", "https://localhost/echo", True),  # upgrade, default ports
    ("http://localhost/", "https://localhost:443/echo", True),  # the same, port spelt out
    ("http://localhost/", "https://localhost:8443/echo", False),  # upgrade to another port
    ("http://localhost:8080/", "https://localhost/echo", False),  # upgrade from another port
    ("http://localhost:8080/", "https://localhost:8443/echo", False),
    ("http://localhost/", "http://localhost:8080/echo", False),  # port
    ("http://localhost/", "http://127.0.0.1/echo", False),  # host
    ("https://localhost/", "http://localhost/echo", False),  # never down to http
    ("https://localhost/", "https://localhost:8443/echo", False),  # port
    ("https://localhost/", "https://127.0.0.1/echo", False),  # host
    ("https://localhost:8443/", "https://localhost:8443/echo", True),  # same origin
]


@pytest.fixture
async def origins(
    nursery: trio.Nursery,
    client_app: ClientApp,
    tls: TLSMaterial,
    start_recording_proxy: Callable[..., Any],
) -> RecordingProxy:
    """:class:`ClientApp` on Hypercorn, plain and over TLS, each on a port of its own, behind
    a tunnelling proxy that stands in for the ports a test cannot bind: tunnels to ports 80
    and 8080 reach the plain server, to 443 and 8443 the TLS one (any host: 127.0.0.1)."""
    plain = await serve_hypercorn(nursery, client_app)
    secure = await serve_hypercorn(nursery, client_app, certfile=tls.certfile, keyfile=tls.keyfile)
    proxy: RecordingProxy = await start_recording_proxy()
    proxy.port_map.update({80: plain.port, 8080: plain.port, 443: secure.port, 8443: secure.port})
    return proxy


@pytest.mark.parametrize(("start", "location", "keeps"), AUTHORIZATION_MATRIX)
async def test_authorization_across_origins_against_real_servers(
    origins: RecordingProxy, tls: TLSMaterial, start: str, location: str, keeps: bool
) -> None:
    """The redirect really goes to the other origin (the proxy opened a tunnel to it, the
    server there answered), and Authorization goes with it only where it may."""
    transport = AsyncHTTPProxy(
        origins.url4, proxy_mode="TUNNEL_ONLY", ssl_context=tls.client_context()
    )
    async with AsyncClient(transport=transport) as client:
        response = await client.get(
            f"{start}redirect/302",
            params={"location": location},
            headers={"Authorization": "Bearer secret"},
        )
    assert response.status_code == 200
    assert response.url == URL(location)
    echo = response.json()
    assert header_values(echo, "authorization") == (["Bearer secret"] if keeps else [])
    target = URL(location)
    port = target.port or {"http": 80, "https": 443}[target.scheme]
    assert origins.heads[-1].startswith(b"CONNECT %s:%d " % (target.raw_host, port))
