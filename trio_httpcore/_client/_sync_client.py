"""``Client``: the blocking client, an :class:`AsyncClient` run on a portal thread.

There is no second copy of the client logic: every call goes through the
portal (``trio_httpcore._sync._portal``) to the one ``AsyncClient``,
which lives in the portal's trio thread. A response's body is pulled
through the portal chunk by chunk and decoded in the caller's thread by the
same code the async client uses. Event hooks, being blocking functions,
run in a worker thread, so they may read the response. A response that
arrives after its caller was interrupted (Ctrl-C) is closed in the portal
(its ``discard``), so its connection is not held by nobody.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any

import trio

from .._sync import OpenOnce, Portal
from ._auth import Auth
from ._client import (
    USE_CLIENT_DEFAULT,
    AsyncClient,
    AuthTypes,
    BodyOptions,
    ClientOptions,
    EventHook,
    EventHooks,
    QueryOptions,
)
from ._config import Timeout, TimeoutTypes
from ._cookies import Cookies, CookieTypes
from ._headers import Headers, HeaderTypes
from ._models import Request, Response
from ._queryparams import QueryParams, QueryParamTypes
from ._urls import URL

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack


def _in_worker_thread(hook: EventHook) -> Callable[[Any], Awaitable[None]]:
    """``hook``, a blocking function, run in a worker thread rather than the portal's.

    In the portal's thread a hook could not make blocking calls such as
    ``response.read()``; in a worker thread those go through the portal.
    """

    async def run(argument: Any) -> None:
        await trio.to_thread.run_sync(hook, argument)

    return run


class Client:
    """The blocking HTTP client: ``with Client() as client: client.get(url)``.

    It takes the arguments of :class:`AsyncClient` and has its methods,
    blocking. ``with`` is optional: the portal thread starts with the first
    request, and :meth:`close` ends it (as does garbage collection). Calling
    it from inside a trio run raises ``RuntimeError``: use ``AsyncClient``
    there.
    """

    def __init__(self, **options: Unpack[ClientOptions]) -> None:
        hooks = options.pop("event_hooks", None)
        self._client = AsyncClient(**options)
        self.event_hooks = hooks
        self._portal = Portal(
            type(self).__name__, async_api="AsyncClient (`async with AsyncClient() as client:`)"
        )
        self._client._portal_ref = weakref.ref(self._portal)
        self._entered = OpenOnce(self._portal, self._client)

    # Settings: the async client's.

    @property
    def headers(self) -> Headers:
        """Headers sent with every request; a request's own headers replace them by name."""
        return self._client.headers

    @headers.setter
    def headers(self, headers: HeaderTypes | None) -> None:
        self._client.headers = headers

    @property
    def auth(self) -> Auth | None:
        """How requests that don't give their own ``auth=`` are authenticated."""
        return self._client.auth

    @auth.setter
    def auth(self, auth: AuthTypes | None) -> None:
        self._client.auth = auth

    @property
    def cookies(self) -> Cookies:
        """The client's cookie jar: every response's cookies go in, requests' come out."""
        return self._client.cookies

    @cookies.setter
    def cookies(self, cookies: CookieTypes | None) -> None:
        self._client.cookies = cookies

    @property
    def params(self) -> QueryParams:
        """Query parameters added to every request."""
        return self._client.params

    @params.setter
    def params(self, params: QueryParamTypes | None) -> None:
        self._client.params = QueryParams(params)

    @property
    def timeout(self) -> Timeout:
        """The timeout of requests that don't give their own."""
        return self._client.timeout

    @timeout.setter
    def timeout(self, timeout: TimeoutTypes) -> None:
        self._client.timeout = timeout

    @property
    def base_url(self) -> URL | None:
        """The base of relative request URLs; its path always ends with ``/``."""
        return self._client.base_url

    @base_url.setter
    def base_url(self, base_url: URL | str | None) -> None:
        self._client.base_url = base_url

    @property
    def max_redirects(self) -> int:
        """How many redirects one request may follow."""
        return self._client.max_redirects

    @max_redirects.setter
    def max_redirects(self, max_redirects: int) -> None:
        self._client.max_redirects = max_redirects

    @property
    def trust_env(self) -> bool:
        """Whether the environment is consulted: ``.netrc``, and (read when the client is
        built) the proxy variables and ``SSL_CERT_FILE``/``SSL_CERT_DIR``."""
        return self._client.trust_env

    @trust_env.setter
    def trust_env(self, trust_env: bool) -> None:
        self._client.trust_env = trust_env

    @property
    def event_hooks(self) -> dict[str, list[EventHook]]:
        """``{"request": [...], "response": [...]}``: blocking functions, run in a worker thread."""
        return self._event_hooks

    @event_hooks.setter
    def event_hooks(self, event_hooks: EventHooks | None) -> None:
        self._client.event_hooks = event_hooks
        self._event_hooks = self._client.event_hooks
        self._client.event_hooks = {
            name: [_in_worker_thread(hook) for hook in hooks]
            for name, hooks in self._event_hooks.items()
        }

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return self._portal.closed

    # Lifetime.

    def _open(self) -> AsyncClient:
        """The async client, entered in the portal's thread on first use."""
        self._entered()
        return self._client

    def __enter__(self) -> Self:
        if self.is_closed:  # as httpx says it
            raise RuntimeError("Cannot reopen a client instance, once it has been closed.")
        self._open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection and stop the portal thread."""
        self._portal.close()

    # Requests.

    def build_request(self, method: str, url: URL | str, **options: Any) -> Request:
        """A request with the client's defaults merged in (see ``AsyncClient.build_request``)."""
        return self._client.build_request(method, url, **options)

    def request(self, method: str, url: URL | str, **options: Unpack[BodyOptions]) -> Response:
        """Build and send a request; the body is read unless ``stream=True``."""
        client = self._open()
        call = partial(client.request, method, url, **options)
        return self._portal.run(call, discard=Response.aclose)

    def send(
        self,
        request: Request,
        *,
        stream: bool = False,
        auth: AuthTypes | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
        allow_redirects: bool = USE_CLIENT_DEFAULT,
    ) -> Response:
        """Send ``request`` (see ``AsyncClient.send``)."""
        client = self._open()
        call = partial(
            client.send,
            request,
            stream=stream,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
        return self._portal.run(call, discard=Response.aclose)

    @contextmanager
    def stream(
        self, method: str, url: URL | str, **options: Unpack[BodyOptions]
    ) -> Iterator[Response]:
        """``with client.stream("GET", url) as response:``: the body is left unread.

        Read it with ``iter_bytes()`` and friends inside the block; leaving
        the block closes the response and frees its connection.
        """
        options["stream"] = True
        response = self.request(method, url, **options)
        try:
            yield response
        finally:
            response.close()

    def get(self, url: URL | str, **options: Unpack[QueryOptions]) -> Response:
        """Send a GET request."""
        return self.request("GET", url, **options)

    def head(self, url: URL | str, **options: Unpack[QueryOptions]) -> Response:
        """Send a HEAD request; redirects are not followed unless ``follow_redirects=True``."""
        return self.request("HEAD", url, **options)

    def options(self, url: URL | str, **options: Unpack[QueryOptions]) -> Response:
        """Send an OPTIONS request."""
        return self.request("OPTIONS", url, **options)

    def delete(self, url: URL | str, **options: Unpack[QueryOptions]) -> Response:
        """Send a DELETE request."""
        return self.request("DELETE", url, **options)

    def post(self, url: URL | str, **options: Unpack[BodyOptions]) -> Response:
        """Send a POST request."""
        return self.request("POST", url, **options)

    def put(self, url: URL | str, **options: Unpack[BodyOptions]) -> Response:
        """Send a PUT request."""
        return self.request("PUT", url, **options)

    def patch(self, url: URL | str, **options: Unpack[BodyOptions]) -> Response:
        """Send a PATCH request."""
        return self.request("PATCH", url, **options)
