"""``AsyncClient``: requests with merged defaults, auth, redirects, cookies and hooks.

The pipeline of :meth:`AsyncClient.send` is ``_send_handling_auth`` (the
auth flow's steps) over ``_send_handling_redirects`` (hooks, redirects,
history) over ``_send_single_request`` (one exchange with the transport the
most specific ``mounts=``/``proxy=`` pattern picks, else the default pool).
Cookies go on in :meth:`AsyncClient.build_request` and on every redirect,
and come back from every response. The request methods (``get``...) are
in ``_verbs.py``.
"""

from __future__ import annotations

import inspect
import logging
import time
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import trio

from .._exceptions import (
    InvalidURL,
    RedirectBodyUnavailable,
    RemoteProtocolError,
    RequestError,
    StreamConsumed,
    TooManyRedirects,
    UnsupportedProtocol,
)
from .._http import AsyncHTTPTransport
from .._streams import as_async_stream
from .._transport import AsyncConnectionPool
from ._auth import Auth, BasicAuth, NetRCAuth, auth_flow_of
from ._config import (
    UNSET,
    CertTypes,
    Limits,
    Timeout,
    TimeoutTypes,
    VerifyTypes,
    create_ssl_context,
)
from ._content import ByteStream, RequestContent, RequestData, is_replayable
from ._cookies import Cookies, CookieTypes
from ._headers import Headers, HeaderTypes
from ._models import DefaultEncoding, Request, Response
from ._options import (
    AuthTypes,
    EventHook,
    EventHooks,
    Mounts,
    ProxyTypes,
    Routes,
    build_auth,
    default_headers,
    proxy_pool,
    seed_alias,
)
from ._queryparams import QueryParams, QueryParamTypes
from ._redirects import build_redirect_request
from ._urls import URL, RequestURLs
from ._verbs import USE_CLIENT_DEFAULT as USE_CLIENT_DEFAULT
from ._verbs import AsyncRequestMethods

if TYPE_CHECKING:
    from typing_extensions import Self

    from .._types import Extensions

logger = logging.getLogger("trio_httpcore")

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


def _require_trio(client: AsyncClient) -> None:
    """Refuse, in our words, to run outside trio (under asyncio, trio's own error is cryptic)."""
    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        raise RuntimeError(
            f"{type(client).__name__} runs under trio only (trio.run), not asyncio or another "
            "event loop: use trio, or the blocking trio_httpcore.Client, which works anywhere."
        ) from None


async def _call_hook(hook: EventHook, argument: Any) -> None:
    """Call an event hook; a coroutine function's result is awaited."""
    result = hook(argument)
    if inspect.isawaitable(result):
        await result


class AsyncClient(AsyncRequestMethods):
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
    needed. ``proxy`` is httpx's name for one proxy (a URL, or a proxy
    transport such as ``AsyncHTTPProxy``); ``mounts`` maps URL patterns to
    transports of their own (``MockTransport``, ``ASGITransport``...).
    ``follow_redirects`` is the default of every request (unset: follow,
    except for HEAD); ``default_encoding`` decodes text without a charset (a
    codec name or a callable ``(body) -> name``; unset: detected).
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
        http3: bool | Literal["prior", "only"] = False,
        proxies: ProxyTypes | None = None,
        proxy: URL | str | AsyncHTTPTransport | None = None,
        mounts: Mounts | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        follow_redirects: bool | None = None,
        limits: Limits = DEFAULT_LIMITS,
        max_redirects: int = 20,
        base_url: URL | str | None = None,
        trust_env: bool = True,
        transport: AsyncHTTPTransport | None = None,
        event_hooks: EventHooks | None = None,
        default_encoding: DefaultEncoding | None = None,
        dispatch: AsyncHTTPTransport | None = None,
        pool_limits: Limits | None = None,
    ) -> None:
        transport = seed_alias("transport", transport, "dispatch", dispatch)
        if pool_limits is not None:
            limits = pool_limits
        self.auth = auth
        self.params = params  # normalised by the setter
        self.headers = headers
        self.cookies = cookies
        self.timeout = timeout
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.base_url = base_url or None
        self.trust_env = trust_env
        self.event_hooks = event_hooks
        self.default_encoding = default_encoding
        self._netrc: NetRCAuth | None = UNSET  # looked for at first need
        ssl_context = create_ssl_context(verify, cert, trust_env)
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

        def new_proxy_pool(url: URL) -> AsyncHTTPTransport:
            # Each pool sets its ALPN offer on its context; an HTTP proxy's pool always
            # offers http/1.1, so with http1=False it needs a context of its own.
            context = ssl_context if http1 else create_ssl_context(verify, cert, trust_env)
            return proxy_pool(url, context, limits, http1, http2)

        # The environment's proxies apply to the client's own pool only, as in httpx.
        self._routes = Routes(proxies, proxy, mounts, trust_env and self._owns_pool, new_proxy_pool)
        self._proxy_pools = self._routes.proxy_pools
        self._exit_stack = AsyncExitStack()
        self._state = "unopened"

    # Settings, each normalised on assignment.

    @property
    def params(self) -> QueryParams:
        """Query parameters sent with every request; a request's own replace them by name."""
        return self._params

    @params.setter
    def params(self, params: QueryParamTypes | None) -> None:
        self._params = QueryParams(params)

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
        """Open the transport, the proxies' pools and the mounted transports (closed again if
        one fails to open)."""
        _require_trio(self)
        if self._state != "unopened":
            raise RuntimeError(f"This {type(self).__name__} was opened already; open a new one.")
        async with AsyncExitStack() as stack:
            for transport in (self._transport, *self._routes.transports()):
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
            for transport in (self._transport, *self._routes.transports()):
                await transport.aclose()

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
        extensions: Extensions | None = None,
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
            extensions=extensions,
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
        An error raised while sending it is a :class:`RequestError` carrying
        it as ``.request``.
        """
        _require_trio(self)
        self._check_open()
        follow = seed_alias(
            "follow_redirects", follow_redirects, "allow_redirects", allow_redirects, UNSET
        )
        if follow is USE_CLIENT_DEFAULT:
            follow = self.follow_redirects
        if follow is None:
            follow = request.method != "HEAD"
        if timeout is not USE_CLIENT_DEFAULT:
            request.ext["timeout"] = Timeout(timeout).as_dict()
        elif "timeout" not in request.ext:
            # A request built without the client (Request(...)): the client's timeouts.
            request.ext["timeout"] = self._timeout.as_dict()
        try:
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
        except RequestError as exc:
            if exc._request is None:
                exc.request = request
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
        # No .netrc (known after the first look): no need to look for Authorization.
        if (
            self.trust_env
            and self._netrc is not None
            and not request.headers._has(b"authorization")
        ):
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

        The flow is the auth's ``async_auth_flow`` (see :class:`Auth`). Each
        response the flow answers with another request is read, closed and
        added to ``history``, as is each redirect. A flow that sends a
        one-shot body twice without saying so (``requires_request_body``)
        raises :class:`StreamConsumed`.
        """
        sent: list[ByteStream] = []
        flow = auth_flow_of(auth, request)
        try:
            request = await flow.__anext__()
            while True:
                _check_replay(request, auth, sent)
                response = await self._send_handling_redirects(request, follow, history, stream)
                try:
                    try:
                        next_request = await flow.asend(response)
                    except StopAsyncIteration:
                        return response
                    await response.aread()
                except BaseException:
                    await response.aclose()
                    raise
                history.append(response)
                request = next_request
        finally:
            await flow.aclose()

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
        try:
            status, headers, stream, ext = await transport.arequest(
                request.method.encode("ascii"),
                url.raw,
                headers=request.headers.raw,
                stream=as_async_stream(request.stream),
                ext=dict(request.ext),
            )
        except RequestError as exc:
            exc.request = request  # the request in flight: a redirect's, say
            raise
        response = Response(
            status,
            headers=headers,
            stream=stream,
            request=request,
            http_version=ext.get("http_version", "HTTP/1.1"),
            reason_phrase=ext.get("reason") or None,
            ext=ext,
        )
        response._elapsed = time.perf_counter() - started  # made a timedelta if asked for
        if self.default_encoding is not None:
            response.default_encoding = self.default_encoding
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                'HTTP Request: %s %s "%s %d %s"',
                request.method,
                url,
                response.http_version,
                response.status_code,
                response.reason_phrase,
            )
        self._cookies.extract_cookies(response)
        return response

    def _transport_for_url(self, url: URL) -> AsyncHTTPTransport:
        """The transport that carries requests to ``url``: the one mounted (or the proxy
        pool) for the most specific pattern ``url`` matches, else the default transport."""
        return self._routes.transport_for(url, self._transport)
