"""``AsyncClient``: requests with merged defaults, auth, redirects, cookies and hooks.

The pipeline of :meth:`AsyncClient.send` is ``_send_handling_auth`` (the
auth flow's steps) over ``_send_handling_redirects`` (hooks, redirects,
history) over ``_send_single_request`` (one exchange with the transport that
:meth:`AsyncClient._transport_for_url` picks: the default pool, or the pool
of the proxy the most specific ``proxies=`` pattern names). Cookies go on in
:meth:`AsyncClient.build_request` and on every redirect, and come back from
every response.
"""

from __future__ import annotations

import inspect
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from .._exceptions import (
    InvalidURL,
    RedirectBodyUnavailable,
    RemoteProtocolError,
    StreamConsumed,
    TooManyRedirects,
    UnsupportedProtocol,
)
from .._http import AsyncHTTPTransport
from .._sync import Portal
from .._transport import AsyncConnectionPool
from ._auth import Auth, BasicAuth, NetRCAuth
from ._config import (
    UNSET,
    CertTypes,
    Limits,
    Timeout,
    TimeoutTypes,
    VerifyTypes,
    create_ssl_context,
)
from ._content import ByteStream, RequestContent, RequestData, as_async_stream, is_replayable
from ._cookies import Cookies, CookieTypes
from ._headers import Headers, HeaderTypes
from ._models import Request, Response
from ._options import (
    AuthTypes,
    BodyOptions,
    EventHook,
    EventHooks,
    ProxyTypes,
    QueryOptions,
    build_auth,
    default_headers,
    proxy_patterns,
    proxy_pool,
    seed_alias,
)
from ._proxies import URLPattern, sorted_patterns
from ._queryparams import QueryParams, QueryParamTypes
from ._redirects import build_redirect_request
from ._urls import URL, RequestURLs

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

USE_CLIENT_DEFAULT: Any = UNSET
"""A request argument left to the client's setting."""

DEFAULT_TIMEOUT = Timeout(5.0)
DEFAULT_LIMITS = Limits()

_NO_AUTH = Auth()
"""The auth of a request that has none: the base class, which sends the request as it is."""


def _check_replay(request: Request, auth: Auth, sent: list[ByteStream]) -> None:
    """Refuse to send a one-shot body that an auth flow already sent once."""
    stream = request.stream
    if stream is None or is_replayable(stream):
        return
    if any(stream is earlier for earlier in sent):
        raise StreamConsumed(
            f"{type(auth).__name__} sends {request.method} {request.url} again, but its body "
            "was a one-shot stream, already sent: pass the body as bytes, or give the auth "
            "class requires_request_body = True so the client reads the body in first."
        )
    sent.append(stream)


async def _call_hook(hook: EventHook, argument: Any) -> None:
    """Call an event hook; a coroutine function's result is awaited."""
    result = hook(argument)
    if inspect.isawaitable(result):
        await result


class AsyncClient:
    """An HTTP client: ``async with AsyncClient() as client: await client.get(url)``.

    The client owns its transport (by default an ``AsyncConnectionPool``
    built from ``verify``, ``cert``, ``http1``, ``http2`` and ``limits``), so
    it is used as an ``async with`` block, which opens and closes the pool.
    ``params`` and ``headers`` are defaults merged into every request;
    ``base_url`` is the base of relative URLs (docs/client.rst).

    ``auth`` authenticates every request that gives none of its own: a
    ``(username, password)`` pair (Basic), an :class:`Auth` such as
    ``DigestAuth``, or a callable ``(Request) -> Request``. Without it,
    credentials in the URL are sent as Basic, else, with ``trust_env``, those
    of ``.netrc`` for the host (the file is read once per client). ``cookies``
    seeds :attr:`cookies`, the jar that every response's cookies go into and
    every request's come from. ``proxies`` is one proxy URL for every request,
    or a mapping from URL patterns (``"http://"``,
    ``"all://*.example.org"``...) to proxy URLs, ``None`` meaning "no proxy";
    without it, with ``trust_env``, the ``HTTP_PROXY``, ``HTTPS_PROXY``,
    ``ALL_PROXY`` and ``NO_PROXY`` variables decide. A proxy URL is ``http``,
    ``https``, ``socks5`` or ``socks5h``, with credentials as its userinfo if
    needed.
    """

    def __init__(
        self,
        *,
        auth: AuthTypes | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        verify: VerifyTypes = True,
        cert: CertTypes | None = None,
        http1: bool = True,
        http2: bool = False,
        proxies: ProxyTypes | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        limits: Limits = DEFAULT_LIMITS,
        max_redirects: int = 20,
        base_url: URL | str | None = None,
        trust_env: bool = True,
        transport: AsyncHTTPTransport | None = None,
        event_hooks: EventHooks | None = None,
        dispatch: AsyncHTTPTransport | None = None,
        pool_limits: Limits | None = None,
        http3: bool | Literal["prior", "only"] = False,  # HTTP/3: the pool's option
    ) -> None:
        transport = seed_alias("transport", transport, "dispatch", dispatch)
        if pool_limits is not None:
            limits = pool_limits
        self.auth = auth
        self.params = QueryParams(params)
        self.headers = headers
        self.cookies = cookies
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.base_url = base_url
        self.trust_env = trust_env
        self.event_hooks = event_hooks
        self._netrc: NetRCAuth | None = UNSET  # looked for at first need
        ssl_context = create_ssl_context(verify, cert, trust_env)
        # The environment's proxies apply to the client's own pool only, as in httpx.
        proxy_map = proxy_patterns(proxies, from_environment=trust_env and transport is None)
        self._owns_pool = transport is None
        if transport is None:
            transport = AsyncConnectionPool(
                ssl_context=ssl_context,
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
                http1=http1,
                http2=http2,
                http3=http3,
            )
        self._transport = transport
        # One pool per distinct proxy URL; each pattern maps to one, or to None
        # (the default transport). Most specific pattern first.
        # Each pool sets its ALPN offer on its context; an HTTP proxy's pool always
        # offers http/1.1, so with http1=False it needs a context of its own.
        self._proxy_pools: dict[str, AsyncHTTPTransport] = {}
        for url in dict.fromkeys(url for url in proxy_map.values() if url is not None):
            context = ssl_context if http1 else create_ssl_context(verify, cert, trust_env)
            self._proxy_pools[url] = proxy_pool(URL(url), context, limits, http1, http2)
        self._mounts: list[tuple[URLPattern, AsyncHTTPTransport | None]] = [
            (pattern, self._proxy_pools.get(proxy_map[pattern.pattern] or ""))
            for pattern in sorted_patterns(proxy_map)
        ]
        self._exit_stack = AsyncExitStack()
        self._state = "unopened"
        # Set by the blocking Client: its responses read their bodies through the
        # portal. Weak, since the portal's thread holds this client: a Client
        # nobody holds is collected, and its finaliser stops the thread.
        self._portal_ref: weakref.ref[Portal] | None = None

    # Settings, each normalised on assignment.

    @property
    def headers(self) -> Headers:
        """Headers sent with every request; a request's own headers replace them by name."""
        return self._headers

    @headers.setter
    def headers(self, headers: HeaderTypes | None) -> None:
        merged = default_headers()
        given = Headers(headers)
        for name in given:
            merged.pop(name, None)
        for raw_name, value in given.raw:
            merged.add(raw_name, value)
        self._headers = merged

    @property
    def auth(self) -> Auth | None:
        """How requests that don't give their own ``auth=`` are authenticated."""
        return self._auth

    @auth.setter
    def auth(self, auth: AuthTypes | None) -> None:
        self._auth = build_auth(auth)

    @property
    def cookies(self) -> Cookies:
        """The client's cookie jar: every response's cookies go in, requests' come out."""
        return self._cookies

    @cookies.setter
    def cookies(self, cookies: CookieTypes | None) -> None:
        self._cookies = Cookies(cookies)

    @property
    def timeout(self) -> Timeout:
        """The timeout of requests that don't give their own."""
        return self._timeout

    @timeout.setter
    def timeout(self, timeout: TimeoutTypes) -> None:
        self._timeout = Timeout(timeout)

    @property
    def base_url(self) -> URL | None:
        """The base of relative request URLs; its path always ends with ``/``."""
        return self._urls.base_url

    @base_url.setter
    def base_url(self, base_url: URL | str | None) -> None:
        self._urls = RequestURLs(base_url)

    @property
    def event_hooks(self) -> dict[str, list[EventHook]]:
        """``{"request": [...], "response": [...]}``: called with each request and response."""
        return self._event_hooks

    @event_hooks.setter
    def event_hooks(self, event_hooks: EventHooks | None) -> None:
        hooks = dict(event_hooks or {})
        unknown = set(hooks) - {"request", "response"}
        if unknown:
            raise ValueError(f"Unknown event hooks {sorted(unknown)}: use 'request', 'response'.")
        self._event_hooks = {
            "request": list(hooks.get("request", ())),
            "response": list(hooks.get("response", ())),
        }

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`aclose` ran."""
        return self._state == "closed"

    # Lifetime.

    async def __aenter__(self) -> Self:
        """Open the transport and the proxies' pools (closed again if one fails to open)."""
        if self._state != "unopened":
            raise RuntimeError(f"This {type(self).__name__} was opened already; open a new one.")
        async with AsyncExitStack() as stack:
            for transport in (self._transport, *self._proxy_pools.values()):
                await stack.enter_async_context(transport)
            self._exit_stack = stack.pop_all()
        self._state = "opened"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self._state = "closed"
        await self._exit_stack.__aexit__(exc_type, exc_value, traceback)

    async def aclose(self) -> None:
        """Close the transports and every connection; the same as leaving ``async with``."""
        if self._state == "opened":
            self._state = "closed"
            await self._exit_stack.aclose()
        elif self._state == "unopened":
            self._state = "closed"
            await self._transport.aclose()

    def _check_open(self) -> None:
        if self._state == "closed":
            raise RuntimeError(f"This {type(self).__name__} is closed: open a new one.")
        if self._state == "unopened" and (self._owns_pool or self._proxy_pools):
            name = type(self).__name__
            raise RuntimeError(
                f"Use 'async with {name}() as client:' to send requests: the client's "
                "connection pool runs its connections' tasks in a nursery the block opens."
            )

    # Building requests.

    def build_request(
        self,
        method: str,
        url: URL | str,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        content: RequestContent | None = None,
        data: RequestData | RequestContent | None = None,
        files: Any = None,
        json: Any = None,
        cookies: CookieTypes | None = None,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
    ) -> Request:
        """A request with the client's defaults merged in: base URL, params, headers, timeout.

        Its ``Cookie`` field holds the cookies of the client's jar that apply
        to its URL (RFC 6265 section 5.4), with ``cookies`` added, unless
        ``headers`` give a ``Cookie`` field of their own.
        """
        request = Request(
            method,
            self._urls.resolve(url),
            params=self.params.merge(params) if self.params else params,
            headers=self._merge_headers(headers),
            content=content,
            data=data,
            files=files,
            json=json,
        )
        timeout = self.timeout if timeout is USE_CLIENT_DEFAULT else Timeout(timeout)
        request.ext["timeout"] = timeout.as_dict()
        jar = self._cookies
        if cookies:
            jar = Cookies(jar)
            jar.update(cookies)
        if jar:
            jar.set_cookie_header(request)
        return request

    def _merge_headers(self, headers: HeaderTypes | None) -> Headers:
        """The client's headers, those of ``headers`` replacing them by name.

        Without ``headers`` they are the client's own object: ``Request`` copies them.
        """
        if not headers:
            return self._headers
        given = Headers(headers)
        replaced = {name.lower() for name, _ in given.raw}
        merged = Headers([field for field in self._headers.raw if field[0].lower() not in replaced])
        for name, value in given.raw:
            merged.add(name, value)
        return merged

    # Sending requests.

    async def request(
        self, method: str, url: URL | str, **options: Unpack[BodyOptions]
    ) -> Response:
        """Build and send a request; the body is read unless ``stream=True``.

        The arguments are those of :meth:`build_request` and :meth:`send`;
        ``query_params`` and ``allow_redirects`` are the seed names of
        ``params`` and ``follow_redirects``.
        """
        if not options:
            # client.get(url) and the like: every argument is its default.
            return await self.send(self.build_request(method, url))
        params = seed_alias(
            "params", options.get("params"), "query_params", options.get("query_params")
        )
        request = self.build_request(
            method,
            url,
            params=params,
            headers=options.get("headers"),
            content=options.get("content"),
            data=options.get("data"),
            files=options.get("files"),
            json=options.get("json"),
            cookies=options.get("cookies"),
            timeout=options.get("timeout", USE_CLIENT_DEFAULT),
        )
        return await self.send(
            request,
            stream=options.get("stream", False),
            auth=options.get("auth", USE_CLIENT_DEFAULT),
            follow_redirects=options.get("follow_redirects", USE_CLIENT_DEFAULT),
            allow_redirects=options.get("allow_redirects", USE_CLIENT_DEFAULT),
        )

    @asynccontextmanager
    async def stream(
        self, method: str, url: URL | str, **options: Unpack[BodyOptions]
    ) -> AsyncIterator[Response]:
        """``async with client.stream("GET", url) as response:``: the body is left unread.

        Read it with ``aiter_bytes()`` and friends inside the block; leaving
        the block closes the response and frees its connection.
        """
        options["stream"] = True
        response = await self.request(method, url, **options)
        try:
            yield response
        finally:
            await response.aclose()

    async def send(
        self,
        request: Request,
        *,
        stream: bool = False,
        auth: AuthTypes | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
        allow_redirects: bool = USE_CLIENT_DEFAULT,
    ) -> Response:
        """Send ``request``, following redirects unless told not to (and never for HEAD).

        With ``stream=False`` the body is read before this returns; with
        ``stream=True`` it is not, and the response must be closed. ``auth``
        replaces the client's (``None``: none but the URL's or ``.netrc``'s).
        """
        self._check_open()
        follow = seed_alias(
            "follow_redirects", follow_redirects, "allow_redirects", allow_redirects, UNSET
        )
        if follow is USE_CLIENT_DEFAULT:
            follow = request.method != "HEAD"
        if timeout is not USE_CLIENT_DEFAULT:
            request.ext["timeout"] = Timeout(timeout).as_dict()
        flow_auth = self._build_request_auth(request, auth)
        if flow_auth is _NO_AUTH:
            # No auth flow to drive: what _send_handling_auth would do with the plain
            # Auth's one-step flow, without the generator.
            response = await self._send_handling_redirects(request, follow, [], stream)
        else:
            response = await self._send_handling_auth(request, flow_auth, follow, stream, [])
        if not stream:
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        return response

    def _build_request_auth(self, request: Request, auth: AuthTypes | None) -> Auth:
        """The auth of ``request``: its own, else the client's, else the URL's
        credentials (Basic), else, with ``trust_env`` and no ``Authorization``
        field, ``.netrc``'s entry for the host; else none (a plain :class:`Auth`)."""
        given = self._auth if auth is USE_CLIENT_DEFAULT else build_auth(auth)
        if given is not None:
            return given
        url = request.url
        if url.userinfo and (url.username or url.password):
            return BasicAuth(url.username, url.password)
        if self.trust_env and "authorization" not in request.headers:
            if self._netrc is UNSET:  # once per client: the file is read once, or missed once
                self._netrc = NetRCAuth() if NetRCAuth.available() else None
            if self._netrc is not None:
                return self._netrc
        return _NO_AUTH

    async def _send_handling_auth(
        self, request: Request, auth: Auth, follow: bool, stream: bool, history: list[Response]
    ) -> Response:
        """Drive ``auth``'s flow: send each request it yields (following redirects),
        give it the response, until it yields no more; return the last response.

        Each response the flow answers with another request is read, closed
        and added to ``history``, as is each redirect; with
        ``requires_response_body`` each is read before the flow gets it. A flow that may send
        the request again (``requires_request_body``) gets a body it can
        replay: a one-shot stream is read into memory first. A flow that
        sends a one-shot body twice without saying so raises
        :class:`StreamConsumed`.
        """
        if auth.requires_request_body and not is_replayable(request.stream):
            await request.aread()
        sent: list[ByteStream] = []
        flow = auth.auth_flow(request)
        try:
            request = next(flow)
            while True:
                _check_replay(request, auth, sent)
                response = await self._send_handling_redirects(request, follow, history, stream)
                try:
                    if auth.requires_response_body:
                        await response.aread()
                    try:
                        next_request = flow.send(response)
                    except StopIteration:
                        return response
                    await response.aread()
                except BaseException:
                    await response.aclose()
                    raise
                history.append(response)
                request = next_request
        finally:
            flow.close()

    async def _send_handling_redirects(
        self, request: Request, follow: bool, history: list[Response], stream: bool
    ) -> Response:
        """Send ``request`` and, with ``follow``, the requests its redirects ask for."""
        while True:
            for hook in self._event_hooks["request"]:
                await _call_hook(hook, request)
            response = await self._send_single_request(request)
            try:
                response.history = list(history)
                for hook in self._event_hooks["response"]:
                    await _call_hook(hook, response)
                if not response.is_redirect:
                    return response
                if not follow:
                    self._leave_redirect(request, response, stream)
                    return response
                if len(history) >= self.max_redirects:
                    raise TooManyRedirects(
                        f"Exceeded max_redirects={self.max_redirects} following {request.url}."
                    )
                next_request = self._build_redirect_request(request, response)
                # Read the redirect's body so its connection is free for the next request.
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
            history.append(response)
            request = next_request

    def _build_redirect_request(self, request: Request, response: Response) -> Request:
        """The request a redirect asks for, with the jar's cookies for its URL.

        Its ``Cookie`` field comes from the jar, which holds by now what the
        redirect itself set, never from the request redirected: the new URL
        may be another host or path (RFC 6265 section 5.4).
        """
        next_request = build_redirect_request(request, response)
        next_request.headers.pop("Cookie", None)
        if self._cookies:
            self._cookies.set_cookie_header(next_request)
        return next_request

    def _leave_redirect(self, request: Request, response: Response, stream: bool) -> None:
        """Let ``response.next()``/``anext()`` follow the redirect later, one step."""
        try:
            response.next_request = self._build_redirect_request(request, response)
        except (RemoteProtocolError, RedirectBodyUnavailable, UnsupportedProtocol):
            # Raised again if the redirect is followed.
            response.next_request = None

        async def follow() -> Response:
            await response.aclose()
            next_request = response.next_request or self._build_redirect_request(request, response)
            # Authenticated as client.send(next_request) would be: the client's auth.
            auth = self._build_request_auth(next_request, USE_CLIENT_DEFAULT)
            history = [*response.history, response]
            following = await self._send_handling_auth(next_request, auth, False, stream, history)
            if not stream:
                await following.aread()
            return following

        response._follow = follow

    async def _send_single_request(self, request: Request) -> Response:
        """One exchange with the transport: the response's head, its body left unread."""
        url = request.url
        if url.scheme not in ("http", "https"):
            raise UnsupportedProtocol(f"Can't request {url}: the scheme must be http or https.")
        if not url.raw_host:
            raise InvalidURL(f"Can't request {url}: it has no host.")
        transport = self._transport_for_url(url)
        started = time.perf_counter()
        status, headers, stream, ext = await transport.arequest(
            request.method.encode("ascii"),
            url.raw,
            headers=request.headers.raw,
            stream=as_async_stream(request.stream),
            ext=dict(request.ext),
        )
        response = Response(
            status,
            headers=headers,
            stream=stream,
            request=request,
            http_version=ext.get("http_version", "HTTP/1.1"),
            reason_phrase=ext.get("reason") or None,
            ext=ext,
        )
        response.elapsed = timedelta(seconds=time.perf_counter() - started)
        response._portal = self._portal_ref() if self._portal_ref is not None else None
        self._cookies.extract_cookies(response)
        return response

    def _transport_for_url(self, url: URL) -> AsyncHTTPTransport:
        """The transport that carries requests to ``url``: the proxy pool of the most
        specific ``proxies=`` pattern ``url`` matches, else the default transport."""
        for pattern, transport in self._mounts:
            if pattern.matches(url):
                return self._transport if transport is None else transport
        return self._transport

    # Shorthands.

    async def get(self, url: URL | str, **options: Unpack[QueryOptions]) -> Response:
        """Send a GET request."""
        return await self.request("GET", url, **options)

    async def head(self, url: URL | str, **options: Unpack[QueryOptions]) -> Response:
        """Send a HEAD request; redirects are not followed unless ``follow_redirects=True``."""
        return await self.request("HEAD", url, **options)

    async def options(self, url: URL | str, **options: Unpack[QueryOptions]) -> Response:
        """Send an OPTIONS request."""
        return await self.request("OPTIONS", url, **options)

    async def delete(self, url: URL | str, **options: Unpack[QueryOptions]) -> Response:
        """Send a DELETE request."""
        return await self.request("DELETE", url, **options)

    async def post(self, url: URL | str, **options: Unpack[BodyOptions]) -> Response:
        """Send a POST request."""
        return await self.request("POST", url, **options)

    async def put(self, url: URL | str, **options: Unpack[BodyOptions]) -> Response:
        """Send a PUT request."""
        return await self.request("PUT", url, **options)

    async def patch(self, url: URL | str, **options: Unpack[BodyOptions]) -> Response:
        """Send a PATCH request."""
        return await self.request("PATCH", url, **options)
