"""What a client is built from: the types of its options (with the seed's aliases), and the
auth, routes (proxy pools and mounted transports) and default headers they turn into. Pure
functions of the arguments; the client calls them once, when it is built or a setting changes."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from .._exceptions import UnsupportedProtocol
from .._http import AsyncHTTPTransport
from .._proxy import AsyncHTTPProxy, AsyncSOCKSProxy
from .._version import __version__
from ._auth import Auth, BasicAuth, FunctionAuth, basic_credentials
from ._config import Limits
from ._decoders import ACCEPT_ENCODING
from ._headers import Headers
from ._proxies import URLPattern, environment_proxies, sorted_patterns
from ._request import Request
from ._urls import URL

EventHook = Callable[[Any], Awaitable[None] | None]
EventHooks = Mapping[str, Sequence[EventHook]]
AuthTypes = tuple[str | bytes, str | bytes] | Auth | Callable[[Request], Request]
ProxyTypes = URL | str | Mapping[str, URL | str | None]
Mounts = Mapping[str, AsyncHTTPTransport | None]
Route = tuple[URLPattern, AsyncHTTPTransport | None]


def seed_alias(name: str, value: Any, alias: str, alias_value: Any, default: Any = None) -> Any:
    """The value of argument ``name``, which may come under its seed name ``alias``."""
    if alias_value is default:
        return value
    if value is not default:
        raise TypeError(f"Give {name}= or its seed name {alias}=, not both.")
    return alias_value


def build_auth(auth: AuthTypes | None) -> Auth | None:
    """An :class:`Auth` for ``auth=``: a ``(user, password)`` pair is Basic, a callable
    ``(Request) -> Request`` is applied to each request."""
    if auth is None or isinstance(auth, Auth):
        return auth
    if isinstance(auth, tuple):
        return BasicAuth(*auth)
    if callable(auth):
        return FunctionAuth(auth)
    raise TypeError(
        f"auth= takes a (username, password) tuple, an Auth or a callable, not {auth!r}."
    )


def proxy_patterns(proxies: ProxyTypes | None, from_environment: bool) -> dict[str, str | None]:
    """``proxies=`` as ``{pattern: proxy URL or None}``; one URL is the proxy of ``all://``.

    With no ``proxies=`` they come from the environment when ``from_environment``.
    """
    if proxies is None:
        return environment_proxies() if from_environment else {}
    if isinstance(proxies, Mapping):
        return {key: None if url is None else str(url) for key, url in proxies.items()}
    return {"all://": str(proxies)}


class Routes:
    """Which transport carries a request: the proxy pools and mounted transports by pattern.

    ``proxies`` (the seed's mapping) and ``proxy`` (httpx's one proxy, a URL
    or a proxy transport) make a pool per distinct proxy URL; ``mounts``
    (httpx's ``{pattern: transport}``) come on top, replacing a proxy's
    pattern of the same text. ``None`` for a pattern means the default
    transport. The most specific matching pattern wins.
    """

    def __init__(
        self,
        proxies: ProxyTypes | None,
        proxy: URL | str | AsyncHTTPTransport | None,
        mounts: Mounts | None,
        from_environment: bool,
        new_pool: Callable[[URL], AsyncHTTPTransport],
    ) -> None:
        if proxy is not None and proxies is not None:
            raise TypeError("Give proxy= or the seed's proxies=, not both.")
        mounted: dict[str, AsyncHTTPTransport | None] = {}
        if isinstance(proxy, AsyncHTTPTransport):
            mounted["all://"] = proxy
        elif proxy is not None:
            proxies = proxy
        proxy_map = proxy_patterns(proxies, from_environment and not mounted)
        self.proxy_pools: dict[str, AsyncHTTPTransport] = {
            url: new_pool(URL(url))
            for url in dict.fromkeys(url for url in proxy_map.values() if url is not None)
        }
        for key, url in proxy_map.items():
            mounted[key] = None if url is None else self.proxy_pools[url]
        mounted.update(mounts or {})
        self.routes: list[Route] = [
            (pattern, mounted[pattern.pattern]) for pattern in sorted_patterns(mounted)
        ]

    def transports(self) -> list[AsyncHTTPTransport]:
        """Every transport the routes lead to, each once: the client opens and closes them."""
        found = [*self.proxy_pools.values(), *(t for _, t in self.routes if t is not None)]
        return list({id(transport): transport for transport in found}.values())

    def transport_for(self, url: URL, default: AsyncHTTPTransport) -> AsyncHTTPTransport:
        """The transport of the most specific pattern ``url`` matches, else ``default``."""
        for pattern, transport in self.routes:
            if pattern.matches(url):
                return default if transport is None else transport
        return default


def proxy_pool(
    proxy: URL, ssl_context: ssl.SSLContext, limits: Limits, http1: bool, http2: bool
) -> AsyncHTTPTransport:
    """The pool of connections through the proxy at ``proxy``.

    ``http``/``https`` proxies forward ``http`` requests and tunnel ``https``
    ones (CONNECT); credentials in the URL go to the proxy as Basic
    ``Proxy-Authorization`` (RFC 9110 section 11.7.2). ``socks5``/``socks5h``
    proxies get them as the username/password of RFC 1929.
    """
    options: dict[str, Any] = {
        "ssl_context": ssl_context,
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
        "http2": http2,
    }
    has_credentials = bool(proxy.username or proxy.password)
    if proxy.scheme in ("socks5", "socks5h"):
        credentials = (proxy.username.encode(), proxy.password.encode())
        return AsyncSOCKSProxy(
            proxy.raw, proxy_auth=credentials if has_credentials else None, http1=http1, **options
        )
    if proxy.scheme in ("http", "https"):
        headers = []
        if has_credentials:
            value = basic_credentials(proxy.username, proxy.password)
            headers.append((b"Proxy-Authorization", value.encode("ascii")))
        return AsyncHTTPProxy(proxy.raw, proxy_headers=headers, **options)
    raise UnsupportedProtocol(
        f"Unsupported proxy URL scheme {proxy.scheme!r} for the proxy at {proxy.host}: "
        "use http, https, socks5 or socks5h."
    )


def default_headers() -> Headers:
    return Headers(
        {
            "Accept": "*/*",
            "Accept-Encoding": ACCEPT_ENCODING,
            "User-Agent": f"trio_httpcore/{__version__}",
        }
    )
