"""Cookies through the client against real servers: the jar's domain, path, expiry and
Secure rules (RFC 6265 via ``http.cookiejar``), per-request cookies, and redirects.

Cross-subdomain cases need one server reachable under several host names;
``*.example.test`` names don't resolve here, so :class:`Rerouter` (a
transport) connects every request to 127.0.0.1 while the URL, the ``Host``
field and the jar see the name: the server answers under whatever name the
request used.
"""

from __future__ import annotations

import http.cookiejar
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import pytest
import trio

from tests.support.asgi import serve_hypercorn
from tests.support.servers import HOST, Server
from tests.support.tls import TLSMaterial
from trio_httpcore import (
    AsyncClient,
    AsyncConnectionPool,
    AsyncHTTPTransport,
    Client,
    Cookies,
    Response,
)
from trio_httpcore._http._base import AsyncResponse
from trio_httpcore._streams import AsyncByteStream
from trio_httpcore._types import URL4, Extensions, RawHeaders

from .conftest import ClientApp, Scope, Send


class CookieApp(ClientApp):
    """ClientApp plus ``/set?c=<Set-Cookie value>&c=...[&location=<url>]``.

    Each ``c`` is sent as a ``Set-Cookie`` field; with ``location`` the answer
    is a 302 redirect to it, else 200.
    """

    async def route_set(
        self, scope: Scope, send: Send, rest: str, query: dict[str, list[str]], body: bytes
    ) -> None:
        fields = [(b"set-cookie", value.encode()) for value in query.get("c", [])]
        if "location" in query:
            fields.append((b"location", query["location"][0].encode()))
            await self.respond(send, 302, b"", fields)
        else:
            await self.respond(send, 200, b"set", fields)


@pytest.fixture
def client_app() -> CookieApp:
    return CookieApp()


def cookie_set(response: Response) -> set[str]:
    """The cookies the ``/echo`` server received (``name=value`` each), in any order."""
    field = dict(response.json()["headers"]).get("cookie")
    return set(field.split("; ")) if field else set()


async def sent_cookies(client: AsyncClient, url: str, **kwargs: Any) -> set[str]:
    """The cookies the server received with a GET of ``url`` (an ``/echo`` URL)."""
    return cookie_set(await client.get(url, **kwargs))


async def test_jar_persists_and_per_request_cookies(server: Server) -> None:
    async with AsyncClient(base_url=server.url, cookies={"seed": "0"}) as client:
        response = await client.get("/set", params={"c": ["a=1", "b=2; HttpOnly"]})
        assert dict(response.cookies) == {"a": "1", "b": "2"}
        assert dict(client.cookies) == {"seed": "0", "a": "1", "b": "2"}
        assert await sent_cookies(client, "/echo") == {"a=1", "b=2", "seed=0"}
        # Per request: added for that request only.
        assert await sent_cookies(client, "/echo", cookies={"c": "3"}) == {
            "a=1",
            "b=2",
            "c=3",
            "seed=0",
        }
        assert "c" not in client.cookies
        # A Cookie field of one's own replaces the jar's.
        assert await sent_cookies(client, "/echo", headers={"Cookie": "mine=1"}) == {"mine=1"}
        # A new value replaces the old one; Max-Age=0 removes it (RFC 6265 section 5.2.2).
        await client.get("/set", params={"c": ["a=10", "b=; Max-Age=0"]})
        assert await sent_cookies(client, "/echo") == {"a=10", "seed=0"}
        client.cookies.delete("a")
        client.cookies.set("d", "4", domain=HOST)
        assert await sent_cookies(client, "/echo") == {"d=4", "seed=0"}


async def test_path_matching(server: Server) -> None:
    """A cookie goes to its path and below only (RFC 6265 section 5.1.4)."""
    async with AsyncClient(base_url=server.url) as client:
        await client.get("/set", params={"c": ["p=1; Path=/echo/sub", "root=1; Path=/"]})
        assert await sent_cookies(client, "/echo") == {"root=1"}
        assert await sent_cookies(client, "/echo/subway") == {"root=1"}
        assert await sent_cookies(client, "/echo/sub") == {"p=1", "root=1"}
        assert await sent_cookies(client, "/echo/sub/deeper") == {"p=1", "root=1"}
        # Without Path, the default is the request path's directory (section 5.1.4).
        await client.get("/set/in/dir", params={"c": "dflt=1"})
        assert await sent_cookies(client, "/echo") == {"root=1"}
        assert client.cookies.get("dflt", path="/set/in") == "1"


async def test_host_only_and_domain_cookies(server: Server) -> None:
    """A cookie without Domain is host-only; one for another domain is refused."""
    async with AsyncClient() as client:
        at_ip = f"http://{HOST}:{server.port}"
        response = await client.get(
            f"{at_ip}/set", params={"c": ["host=1", "foreign=1; Domain=example.org"]}
        )
        assert dict(response.cookies) == {"host": "1"}
        assert await sent_cookies(client, f"{at_ip}/echo") == {"host=1"}
        # The same server under another name is another host.
        assert await sent_cookies(client, f"http://localhost:{server.port}/echo") == set()


class _TwoHoursLater:
    """The ``time`` module as ``http.cookiejar`` sees it: two hours on."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def time() -> float:
        return time.time() + 2 * 3600


async def test_expiry(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    async with AsyncClient(base_url=server.url) as client:
        cookies = [
            "hour=1; Max-Age=3600",
            "day=1; Expires="
            + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 86400)),
            "past=1; Expires=Thu, 01 Jan 1970 00:00:01 GMT",
            "session=1",
        ]
        response = await client.get("/set", params={"c": cookies})
        assert sorted(response.cookies) == ["day", "hour", "session"]
        assert await sent_cookies(client, "/echo") == {"day=1", "hour=1", "session=1"}
        # Two hours on, the one-hour cookie has expired; the others have not.
        monkeypatch.setattr(http.cookiejar, "time", _TwoHoursLater())
        assert await sent_cookies(client, "/echo") == {"day=1", "session=1"}


async def test_secure_cookies_only_over_https(
    nursery: trio.Nursery, server: Server, client_app: CookieApp, tls: TLSMaterial
) -> None:
    """A Secure cookie set over https is sent over https only (RFC 6265 section 5.4)."""
    secure = await serve_hypercorn(nursery, client_app, certfile=tls.certfile, keyfile=tls.keyfile)
    https, plain = f"https://{HOST}:{secure.port}", f"http://{HOST}:{server.port}"
    async with AsyncClient(verify=tls.ca_file) as client:
        response = await client.get(f"{https}/set", params={"c": ["s=1; Secure", "p=1"]})
        assert dict(response.cookies) == {"s": "1", "p": "1"}
        # Cookies are per host, not per port or scheme; Secure ones need https.
        assert await sent_cookies(client, f"{https}/echo") == {"p=1", "s=1"}
        assert await sent_cookies(client, f"{plain}/echo") == {"p=1"}


class Rerouter(AsyncHTTPTransport):
    """A transport that connects every request to ``127.0.0.1:port`` of its URL,
    leaving the URL's host name to the ``Host`` field (and to the client's jar)."""

    def __init__(self) -> None:
        self.pool = AsyncConnectionPool()
        self.hosts: list[bytes] = []

    async def arequest(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders | None = None,
        stream: AsyncByteStream | None = None,
        ext: Extensions | None = None,
    ) -> AsyncResponse:
        scheme, host, port, target = url
        self.hosts.append(host)
        return await self.pool.arequest(
            method, (scheme, HOST.encode(), port, target), headers, stream, ext
        )

    async def __aenter__(self) -> Rerouter:
        await self.pool.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.pool.__aexit__(exc_type, exc_value, traceback)

    async def aclose(self) -> None:
        await self.pool.aclose()


async def test_redirects_across_subdomains(server: Server) -> None:
    """Each hop sends the jar's cookies for its own URL, including those the hops before set."""
    a, b = (f"http://{name}.example.test:{server.port}" for name in ("a", "b"))
    rerouter = Rerouter()
    async with AsyncClient(transport=rerouter) as client:
        # a sets a domain cookie and a host-only one, and redirects to b, which sets
        # one for a path of its own and redirects back to a's /echo.
        back_to_a = f"{b}/set?c=bpath%3D1%3B%20Path%3D%2Fecho%2Fb&location={a}/echo"
        response = await client.get(
            f"{a}/set",
            params={"c": ["dom=1; Domain=example.test", "aonly=1"], "location": f"{back_to_a}"},
        )
        assert [str(r.url.host) for r in [*response.history, response]] == [
            "a.example.test",
            "b.example.test",
            "a.example.test",
        ]
        assert cookie_set(response) == {"aonly=1", "dom=1"}
        # b got the domain cookie but not a's host-only one.
        assert await sent_cookies(client, f"{b}/echo") == {"dom=1"}
        assert await sent_cookies(client, f"{b}/echo/b/x") == {"bpath=1", "dom=1"}
        # A cookie for an unrelated domain, set by a, is refused.
        await client.get(f"{a}/set", params={"c": "evil=1; Domain=other.test"})
        assert "evil" not in client.cookies
    assert set(rerouter.hosts) == {b"a.example.test", b"b.example.test"}


async def test_redirect_recomputes_the_cookie_field(server: Server) -> None:
    """The Cookie of a redirected request comes from the jar for the new URL, not the old one."""
    async with AsyncClient(base_url=server.url) as client:
        await client.get("/set/x", params={"c": "only_set=1; Path=/set"})
        response = await client.get(
            "/set/x", params={"c": "fresh=1; Path=/", "location": "/echo"}, cookies={"once": "1"}
        )
        assert set(response.history[0].request.headers["cookie"].split("; ")) == {
            "once=1",
            "only_set=1",
        }
        # At /echo: the cookie the redirect set, not /set's nor the per-request one.
        assert cookie_set(response) == {"fresh=1"}


def test_blocking_client_cookies(serve_in_thread: Callable[..., Server]) -> None:
    server = serve_in_thread()
    with Client(base_url=server.url) as client:
        assert client.get("/set", params={"c": "k=v"}).cookies["k"] == "v"
        assert client.get("/echo").json()["headers"].count(["cookie", "k=v"]) == 1
        client.cookies = Cookies({"other": "1"})
        assert dict(client.cookies) == {"other": "1"}


async def test_urls_with_credentials_share_the_hosts_cookies(server: Server) -> None:
    """Userinfo is not part of the host the jar matches (RFC 6265 section 5.1.3)."""
    with_credentials = f"http://user:pw@{HOST}:{server.port}"
    async with AsyncClient() as client:
        response = await client.get(f"{with_credentials}/set", params={"c": "k=1"})
        assert dict(response.cookies) == {"k": "1"}
        assert await sent_cookies(client, f"http://{HOST}:{server.port}/echo") == {"k=1"}
        assert await sent_cookies(client, f"{with_credentials}/echo") == {"k=1"}
