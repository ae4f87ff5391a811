"""``AsyncClient``: requests with merged defaults, redirects and hooks over a transport.

The pipeline of :meth:`AsyncClient.send` is ``_send_handling_redirects``
(hooks, redirects, history) over ``_send_single_request`` (one exchange with
the transport that :meth:`AsyncClient._transport_for_url` picks). Cookies,
auth and proxies (API.md section 2) plug in at these three places.
"""

from __future__ import annotations

import inspect
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypedDict

from .._exceptions import (
    InvalidURL,
    RedirectBodyUnavailable,
    RemoteProtocolError,
    TooManyRedirects,
    UnsupportedProtocol,
)
from .._transport._base import AsyncHTTPTransport
from .._transport._pool import AsyncConnectionPool
from .._transport._portal import Portal
from ._config import (
    UNSET,
    CertTypes,
    Limits,
    Timeout,
    TimeoutTypes,
    VerifyTypes,
    create_ssl_context,
)
from ._content import RequestContent, RequestData, as_async_stream
from ._decoders import ACCEPT_ENCODING
from ._headers import Headers, HeaderTypes
from ._models import Request, Response
from ._queryparams import QueryParams, QueryParamTypes
from ._redirects import build_redirect_request
from ._urls import URL

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

EventHook = Callable[[Any], Awaitable[None] | None]
EventHooks = Mapping[str, Sequence[EventHook]]

USE_CLIENT_DEFAULT: Any = UNSET
"""A request argument left to the client's setting."""

DEFAULT_TIMEOUT = Timeout(5.0)
DEFAULT_LIMITS = Limits()


class QueryOptions(TypedDict, total=False):
    """The keyword arguments of ``get``, ``head``, ``options`` and ``delete``."""

    params: QueryParamTypes | None
    headers: HeaderTypes | None
    cookies: Any
    auth: Any
    follow_redirects: bool
    timeout: TimeoutTypes
    stream: bool
    query_params: QueryParamTypes | None
    allow_redirects: bool


class ClientOptions(TypedDict, total=False):
    """The keyword arguments of ``AsyncClient`` and ``Client``."""

    auth: Any
    params: QueryParamTypes | None
    headers: HeaderTypes | None
    cookies: Any
    verify: VerifyTypes
    cert: CertTypes | None
    http1: bool
    http2: bool
    proxies: Any
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


def _seed_alias(name: str, value: Any, alias: str, alias_value: Any, default: Any = None) -> Any:
    """The value of argument ``name``, which may come under its seed name ``alias``."""
    if alias_value is default:
        return value
    if value is not default:
        raise TypeError(f"Give {name}= or its seed name {alias}=, not both.")
    return alias_value


def _not_yet(**arguments: Any) -> None:
    """Refuse the arguments of features that are not built yet, by name."""
    given = [name for name, value in arguments.items() if value is not None]
    if given:
        names = ", ".join(f"{name}=" for name in given)
        raise NotImplementedError(f"{names} not supported yet (cookies, auth, proxies).")


def _default_headers() -> Headers:
    from .. import __version__

    return Headers(
        {
            "Accept": "*/*",
            "Accept-Encoding": ACCEPT_ENCODING,
            "User-Agent": f"trio_httpcore/{__version__}",
        }
    )


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
    ``base_url`` is the base of relative URLs. See API.md section 2.
    """

    def __init__(
        self,
        *,
        auth: Any = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: Any = None,
        verify: VerifyTypes = True,
        cert: CertTypes | None = None,
        http1: bool = True,
        http2: bool = False,
        proxies: Any = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        limits: Limits = DEFAULT_LIMITS,
        max_redirects: int = 20,
        base_url: URL | str | None = None,
        trust_env: bool = True,
        transport: AsyncHTTPTransport | None = None,
        event_hooks: EventHooks | None = None,
        dispatch: AsyncHTTPTransport | None = None,
        pool_limits: Limits | None = None,
    ) -> None:
        _not_yet(auth=auth, cookies=cookies, proxies=proxies)
        transport = _seed_alias("transport", transport, "dispatch", dispatch)
        if pool_limits is not None:
            limits = pool_limits
        self.params = QueryParams(params)
        self.headers = headers
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.base_url = base_url
        self.trust_env = trust_env
        self.event_hooks = event_hooks
        self._owns_pool = transport is None
        if transport is None:
            transport = AsyncConnectionPool(
                ssl_context=create_ssl_context(verify, cert, trust_env),
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
                http1=http1,
                http2=http2,
            )
        self._transport = transport
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
        merged = _default_headers()
        given = Headers(headers)
        for name in given:
            merged.pop(name, None)
        for raw_name, value in given.raw:
            merged.add(raw_name, value)
        self._headers = merged

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
        return self._base_url

    @base_url.setter
    def base_url(self, base_url: URL | str | None) -> None:
        if base_url is None:
            self._base_url: URL | None = None
            return
        url = URL(base_url)
        self._base_url = url if url.path.endswith("/") else url.copy_with(path=url.path + "/")

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
        if self._state != "unopened":
            raise RuntimeError(f"This {type(self).__name__} was opened already; open a new one.")
        await self._transport.__aenter__()
        self._state = "opened"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self._state = "closed"
        await self._transport.__aexit__(exc_type, exc_value, traceback)

    async def aclose(self) -> None:
        """Close the transport and every connection; the same as leaving ``async with``."""
        if self._state != "closed":
            self._state = "closed"
            await self._transport.aclose()

    def _check_open(self) -> None:
        if self._state == "closed":
            raise RuntimeError(f"This {type(self).__name__} is closed: open a new one.")
        if self._state == "unopened" and self._owns_pool:
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
        cookies: Any = None,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
    ) -> Request:
        """A request with the client's defaults merged in: base URL, params, headers, timeout."""
        _not_yet(cookies=cookies)
        request = Request(
            method,
            self._merge_url(url),
            params=self.params.merge(params) if self.params else params,
            headers=self._merge_headers(headers),
            content=content,
            data=data,
            files=files,
            json=json,
        )
        timeout = self.timeout if timeout is USE_CLIENT_DEFAULT else Timeout(timeout)
        request.ext["timeout"] = timeout.as_dict()
        return request

    def _merge_url(self, url: URL | str) -> URL:
        """``url``, resolved against ``base_url`` when it is relative.

        A relative path extends the base URL's path even when it starts with
        ``/``: with ``base_url="https://api.example/v1"``, ``"/users"`` is
        ``https://api.example/v1/users``.
        """
        merged = URL(url, allow_relative=True)
        if self._base_url is None or merged.is_absolute_url:
            return merged
        if not merged.raw_host and merged.path.startswith("/"):
            merged = merged.copy_with(path=merged.path.lstrip("/"))
        return self._base_url.join(merged)

    def _merge_headers(self, headers: HeaderTypes | None) -> Headers:
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
        params = _seed_alias(
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
            auth=options.get("auth"),
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
        auth: Any = None,
        follow_redirects: bool = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
        allow_redirects: bool = USE_CLIENT_DEFAULT,
    ) -> Response:
        """Send ``request``, following redirects unless told not to (and never for HEAD).

        With ``stream=False`` the body is read before this returns; with
        ``stream=True`` it is not, and the response must be closed.
        """
        _not_yet(auth=auth)
        self._check_open()
        follow = _seed_alias(
            "follow_redirects", follow_redirects, "allow_redirects", allow_redirects, UNSET
        )
        if follow is USE_CLIENT_DEFAULT:
            follow = request.method != "HEAD"
        if timeout is not USE_CLIENT_DEFAULT:
            request.ext["timeout"] = Timeout(timeout).as_dict()
        response = await self._send_handling_redirects(request, follow, [], stream)
        if not stream:
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        return response

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
                next_request = build_redirect_request(request, response)
                # Read the redirect's body so its connection is free for the next request.
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
            history.append(response)
            request = next_request

    def _leave_redirect(self, request: Request, response: Response, stream: bool) -> None:
        """Let ``response.next()``/``anext()`` follow the redirect later, one step."""
        try:
            response.next_request = build_redirect_request(request, response)
        except (RemoteProtocolError, RedirectBodyUnavailable, UnsupportedProtocol):
            # Raised again if the redirect is followed.
            response.next_request = None

        async def follow() -> Response:
            await response.aclose()
            next_request = response.next_request or build_redirect_request(request, response)
            history = [*response.history, response]
            following = await self._send_handling_redirects(next_request, False, history, stream)
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
        return response

    def _transport_for_url(self, url: URL) -> AsyncHTTPTransport:
        """The transport that carries requests to ``url``; proxies will choose here."""
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
