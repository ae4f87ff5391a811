"""What a client is built from: the types of its options (with the seed's aliases), and the
auth, proxy pools and default headers they turn into. Pure functions of the arguments; the client
calls them once, when it is built or when a setting changes."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, TypedDict

from .._exceptions import UnsupportedProtocol
from .._http import AsyncHTTPTransport
from .._proxy import AsyncHTTPProxy, AsyncSOCKSProxy
from .._version import __version__
from ._auth import Auth, BasicAuth, FunctionAuth, basic_credentials
from ._config import CertTypes, Limits, TimeoutTypes, VerifyTypes
from ._content import RequestContent, RequestData
from ._cookies import CookieTypes
from ._decoders import ACCEPT_ENCODING
from ._headers import Headers, HeaderTypes
from ._models import Request
from ._proxies import environment_proxies
from ._queryparams import QueryParamTypes
from ._urls import URL

EventHook = Callable[[Any], Awaitable[None] | None]
EventHooks = Mapping[str, Sequence[EventHook]]
AuthTypes = tuple[str | bytes, str | bytes] | Auth | Callable[[Request], Request]
ProxyTypes = URL | str | Mapping[str, URL | str | None]


class QueryOptions(TypedDict, total=False):
    """The keyword arguments of ``get``, ``head``, ``options`` and ``delete``."""

    params: QueryParamTypes | None
    headers: HeaderTypes | None
    cookies: CookieTypes | None
    auth: AuthTypes | None
    follow_redirects: bool
    timeout: TimeoutTypes
    stream: bool
    query_params: QueryParamTypes | None
    allow_redirects: bool


class ClientOptions(TypedDict, total=False):
    """The keyword arguments of ``AsyncClient`` and ``Client``."""

    auth: AuthTypes | None
    params: QueryParamTypes | None
    headers: HeaderTypes | None
    cookies: CookieTypes | None
    verify: VerifyTypes
    cert: CertTypes | None
    http1: bool
    http2: bool
    http3: bool | Literal["prior", "only"]
    proxies: ProxyTypes | None
    timeout: TimeoutTypes
    limits: Limits
    max_redirects: int
    base_url: URL | str | None
    trust_env: bool
    transport: AsyncHTTPTransport | None
    event_hooks: EventHooks | None
    dispatch: AsyncHTTPTransport | None
    pool_limits: Limits | None


class BodyOptions(QueryOptions, total=False):
    """The keyword arguments of ``request``, ``post``, ``put`` and ``patch``."""

    content: RequestContent | None
    data: RequestData | RequestContent | None
    files: Any
    json: Any


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
