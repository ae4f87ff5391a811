"""HTTP proxies: forwarding in absolute form, and tunnels opened with CONNECT.

A forwarded request (RFC 9112 section 3.2.2) goes to the proxy with the
origin's absolute URL as its target; every origin shares one pool of
connections to the proxy. A tunnel (RFC 9110 section 9.3.6) is a connection
to the proxy turned, by a ``CONNECT host:port`` answered 2xx, into a byte
pipe to the origin, over which the pool does TLS to the origin and speaks
HTTP/1.1 or HTTP/2 as if it had connected directly; tunnels are pooled per
origin. Both are :class:`AsyncConnectionPool` subclasses: the pool's
bookkeeping is unchanged, only the way a connection opens its stream (the
pool's opener) and, for forwarding, the request's target differ.
"""

from __future__ import annotations

import ssl
from typing import Literal, get_args

import trio

from .._exceptions import (
    CONNECT_ERRORS,
    NetworkError,
    ProxyError,
    RemoteProtocolError,
    UnsupportedProtocol,
    map_exceptions,
)
from .._http import (
    AsyncResponse,
    authority,
    check_request,
    close_now,
    has_header,
    open_stream,
    start_tls,
)
from .._http11 import HTTP11Connection
from .._streams import AsyncByteStream
from .._tls import alpn_protocols, default_ssl_context
from .._transport import AsyncConnectionPool, AsyncHTTPConnection, resolve_max_keepalive
from .._types import (
    DEFAULT_PORTS,
    URL4,
    Extensions,
    Origin,
    RawHeaders,
    origin_text,
    url_origin,
)

ProxyMode = Literal["DEFAULT", "FORWARD_ONLY", "TUNNEL_ONLY"]
PROXY_MODES: tuple[str, ...] = get_args(ProxyMode)


def proxy_text(proxy: Origin) -> str:
    """``proxy scheme://host:port``, for error messages."""
    return f"proxy {origin_text(proxy)}"


async def open_proxy_stream(
    proxy: Origin, ssl_context: ssl.SSLContext, local_address: str | None
) -> trio.abc.Stream:
    """A TCP stream to the proxy, wrapped in TLS to it when the proxy URL is ``https``.

    Errors name the proxy, not the origin. A TLS proxy must speak HTTP/1.1:
    a caller's ``ssl_context`` shared with the origins may offer ``h2`` (with
    ``http2=True``), and a proxy that picks it is refused with :class:`ProxyError`.
    """
    scheme, host, port = proxy
    text = proxy_text(proxy)
    with map_exceptions(CONNECT_ERRORS, text, "connecting to"):
        stream = await open_stream(
            host.decode("ascii"), port, uds=None, local_address=local_address
        )
        if scheme != b"https":
            return stream
        try:
            tls = await start_tls(stream, ssl_context, host.decode("ascii"))
        except BaseException:
            close_now(stream)
            raise
    if tls.selected_alpn_protocol() == "h2":
        close_now(tls)
        raise ProxyError(f"{text} chose HTTP/2 by ALPN; proxies are spoken to in HTTP/1.1")
    return tls


def connect_target(origin: Origin) -> bytes:
    """The authority-form target of CONNECT: ``host:port``, the port always given.

    RFC 9110 section 9.3.6 requires the port (there is no default to leave
    out); an IPv6 literal goes in brackets (RFC 3986 section 3.2.2).
    """
    _, host, port = origin
    if b":" in host and not host.startswith(b"["):
        host = b"[" + host + b"]"
    return b"%s:%d" % (host, port)


class _OneExchange:
    """The listener of the HTTP/1.1 connection that carries only the CONNECT: no pool."""

    def released(self) -> None:
        """The CONNECT's connection is never reused: nothing to do."""

    def closed(self) -> None:
        """Closed, or handed over as the tunnel: the caller owns what is left."""


async def open_tunnel(
    stream: trio.abc.Stream, origin: Origin, proxy_headers: RawHeaders, proxy: str
) -> trio.abc.Stream:
    """Ask the proxy on ``stream`` for a tunnel to ``origin`` (RFC 9110 section 9.3.6).

    ``CONNECT host:port HTTP/1.1`` goes with ``Host: host:port`` and
    ``proxy_headers`` (Proxy-Authorization, say) and nothing of the origin
    request. The exchange runs on a one-off :class:`HTTP11Connection`, whose
    2xx answer to CONNECT hands over the stream (with any bytes read past the
    head). Any other answer closes ``stream`` and raises :class:`ProxyError`
    with the status and reason. The caller's connect timeout covers it all.
    """
    target = connect_target(origin)
    exchange = HTTP11Connection(stream, proxy, _OneExchange())
    try:
        status, _, body, ext = await exchange.handle_request(
            b"CONNECT",
            (b"http", origin[1], origin[2], target),
            [(b"Host", target), *proxy_headers],
            None,
            {},
        )
    except (NetworkError, RemoteProtocolError) as exc:
        raise ProxyError(
            f"{proxy} failed to answer CONNECT {target.decode('ascii')}: {exc}"
        ) from exc
    if 200 <= status < 300:
        tunnel: trio.abc.Stream = ext["network_stream"]
        return tunnel
    reason: str = ext["reason"]
    await body.aclose()
    exchange.close_now()
    raise ProxyError(
        f"{proxy} refused to open a tunnel to {target.decode('ascii')}: {status} {reason}".rstrip(),
        status_code=status,
        reason=reason,
    )


def _merge_headers(proxy_headers: RawHeaders, headers: RawHeaders) -> RawHeaders:
    """``proxy_headers`` the request does not set itself, then the request's headers."""
    own = [(name, value) for name, value in proxy_headers if not has_header(headers, name.lower())]
    return [*own, *headers]


class AsyncHTTPProxy(AsyncConnectionPool):
    """A connection pool that sends every request through an HTTP or HTTPS proxy.

    ``proxy_mode`` decides per request: ``"DEFAULT"`` forwards ``http`` and
    tunnels ``https`` requests, ``"FORWARD_ONLY"`` forwards all of them,
    ``"TUNNEL_ONLY"`` tunnels all of them. ``proxy_headers`` go to the proxy
    only: on forwarded requests, and on the CONNECT of a tunnel, never inside
    it. With an ``https`` proxy URL the pool speaks TLS to the proxy,
    verifying the proxy's name, and in a tunnel TLS again to the origin
    inside that; both use ``ssl_context`` when one is given. ``http2=True``
    lets a tunnel negotiate HTTP/2 with the origin; the proxy itself is
    always spoken to in HTTP/1.1.
    """

    def __init__(
        self,
        proxy_url: URL4,
        proxy_headers: RawHeaders | None = None,
        proxy_mode: str = "DEFAULT",
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int | None = None,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = None,
        http2: bool = False,
        backend: str = "trio",
        max_keepalive: int | None = None,
    ) -> None:
        if proxy_mode not in PROXY_MODES:
            raise ValueError(f"proxy_mode must be one of {PROXY_MODES}, got {proxy_mode!r}")
        scheme = proxy_url[0]
        if scheme not in DEFAULT_PORTS:
            raise UnsupportedProtocol(
                f"unsupported proxy URL scheme {scheme.decode('ascii', 'replace')!r}: "
                "AsyncHTTPProxy takes 'http' or 'https' (SOCKS is AsyncSOCKSProxy)"
            )
        # Resolved here, not in the pool, so a warning points at our caller.
        max_keepalive_connections = resolve_max_keepalive(max_keepalive, max_keepalive_connections)
        super().__init__(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_expiry,
            http2=http2,
            backend=backend,
        )
        self._proxy = url_origin(proxy_url)
        self._proxy_text = proxy_text(self._proxy)
        self._proxy_headers: RawHeaders = list(proxy_headers or [])
        self._mode = proxy_mode
        # Forwarded requests all share this pool key. It is always ``http``:
        # the opener does the TLS to an ``https`` proxy itself, so the pool's
        # own TLS step (to the origin, for ``https`` keys) never applies. No
        # tunnel has this key: DEFAULT tunnels only ``https`` origins, and
        # TUNNEL_ONLY forwards nothing.
        self._forward_key: Origin | None = (
            None if proxy_mode == "TUNNEL_ONLY" else (b"http", self._proxy[1], self._proxy[2])
        )
        # TLS to the proxy: the pool's context (it may offer h2, for origins),
        # unless we build the default one ourselves: then one offering only
        # HTTP/1.1, so a proxy that also speaks HTTP/2 is not refused.
        self._proxy_ssl_context = self._options.ssl_context
        if ssl_context is None and self._proxy[0] == b"https":
            self._proxy_ssl_context = default_ssl_context()
            self._proxy_ssl_context.set_alpn_protocols(alpn_protocols(http1=True, http2=False))
        self._opener = self._open_via_proxy

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._proxy_text} {self._mode}>"

    def _forwards(self, scheme: bytes) -> bool:
        if self._mode == "DEFAULT":
            return scheme == b"http"
        return self._mode == "FORWARD_ONLY"

    async def arequest(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders | None = None,
        stream: AsyncByteStream | None = None,
        ext: Extensions | None = None,
    ) -> AsyncResponse:
        headers = headers or []
        check_request(method, url, headers)
        if self._forwards(url[0]):
            url, headers = self._forwarded(url, headers)
        return await super().arequest(method, url, headers, stream, ext)

    def _forwarded(self, url: URL4, headers: RawHeaders) -> tuple[URL4, RawHeaders]:
        """The request as sent to the proxy: absolute-form target, origin's Host, proxy headers."""
        assert self._forward_key is not None
        scheme, _, _, target = url
        host = authority(url)
        if not has_header(headers, b"host"):
            headers = [(b"Host", host), *headers]
        absolute = b"%s://%s%s" % (scheme, host, target)
        return (*self._forward_key, absolute), _merge_headers(self._proxy_headers, headers)

    async def _open_via_proxy(
        self, connection: AsyncHTTPConnection, ext: Extensions
    ) -> trio.abc.Stream:
        """The pool's opener: a stream to the proxy, turned into a tunnel unless forwarding."""
        stream = await open_proxy_stream(
            self._proxy, self._proxy_ssl_context, self._options.local_address
        )
        if connection.origin == self._forward_key:
            return stream
        try:
            return await open_tunnel(
                stream, connection.origin, self._proxy_headers, self._proxy_text
            )
        except BaseException:
            close_now(stream)
            raise
