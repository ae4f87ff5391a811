"""``Client``: the blocking client, the one :class:`AsyncClient` run in a portal's trio thread.

Each response comes back with a blocking body: read already by the async client, or, streamed,
through the read-ahead body bridge; so ``Response`` and ``AsyncClient`` know nothing of
portals. Event hooks, blocking functions, run in a worker thread, where a body still in the
trio thread is read through ``trio.from_thread``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any

import trio

from .._client import (
    URL,
    USE_CLIENT_DEFAULT,
    AsyncClient,
    Auth,
    AuthTypes,
    BodyOptions,
    ClientOptions,
    Cookies,
    CookieTypes,
    EventHook,
    EventHooks,
    Headers,
    HeaderTypes,
    QueryOptions,
    QueryParams,
    QueryParamTypes,
    Request,
    Response,
    Timeout,
    TimeoutTypes,
)
from .._streams import AsyncByteStream, SyncByteStream
from ._body import BodyReader, PortalByteStream, read_ahead, stop_reading
from ._once import OpenOnce
from ._portal import CallStatus, Portal

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack


def _in_worker_thread(hook: EventHook) -> Callable[[Any], Awaitable[None]]:
    """``hook``, a blocking function, run in a worker thread rather than the portal's.

    In the portal's thread a hook could not make blocking calls such as
    ``response.read()``; in a worker thread a response's body is read through
    :class:`_HookBody`, for as long as the hook runs.
    """

    async def run(argument: Any) -> None:
        stream = argument._stream if isinstance(argument, Response) else None
        if not isinstance(stream, AsyncByteStream):
            await trio.to_thread.run_sync(hook, argument)
            return
        argument._stream = _HookBody(stream)
        try:
            await trio.to_thread.run_sync(hook, argument)
        finally:
            argument._stream = stream

    return run


class _HookBody(SyncByteStream):
    """A body still in the trio thread, seen by a hook in a worker thread: each chunk is
    fetched with ``trio.from_thread.run``. Hooks seldom read: no read-ahead here."""

    def __init__(self, stream: AsyncByteStream) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        chunks = aiter(self._stream)
        try:
            while (chunk := trio.from_thread.run(_next_chunk, chunks)) is not None:
                yield chunk
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:  # an async generator, left suspended: finished now
                trio.from_thread.run(aclose)

    def close(self) -> None:
        trio.from_thread.run(self._stream.aclose)


async def _next_chunk(chunks: AsyncIterator[bytes]) -> bytes | None:
    try:
        return await anext(chunks)
    except StopAsyncIteration:
        return None


_READ = SyncByteStream()
"""The body of a response read (and closed) before it was handed over: never iterated."""


class Client:
    """The blocking HTTP client: ``with Client() as client: client.get(url)``.

    It takes the arguments of :class:`AsyncClient` and has its methods,
    blocking. ``with`` is optional: the portal thread starts with the first
    request, and :meth:`close` ends it (as does garbage collection); a closed
    client cannot be entered again. Calling it from inside a trio run raises
    ``RuntimeError``: use ``AsyncClient`` there.
    """

    def __init__(self, **options: Unpack[ClientOptions]) -> None:
        hooks = options.pop("event_hooks", None)
        self._client = AsyncClient(**options)
        self.event_hooks = hooks
        self._portal = Portal(
            type(self).__name__, async_api="AsyncClient (`async with AsyncClient() as client:`)"
        )
        self._open = OpenOnce(self._portal, self._client)

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
        return self._send(partial(self._client.request, method, url, **options))

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
        call = partial(
            self._client.send,
            request,
            stream=stream,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
        return self._send(call)

    def _send(self, send: Callable[[], Awaitable[Response]]) -> Response:
        """``await send()`` in the portal; the response comes back with a blocking body, as
        do the ones its ``next()`` follows. (Unless streamed, the async client read it.)"""
        portal = self._open()
        handed_over: tuple[Response, BodyReader | None] = portal.start_task(
            self._request_task, send, discard=stop_reading
        )
        response, body = handed_over
        stream = _READ if body is None else PortalByteStream(portal, body)
        try:
            response._stream = stream
            for earlier in response.history:
                earlier._stream = _READ
            if response._follow is not None:
                response._follow_blocking = partial(self._follow, response, response._follow)
        except BaseException:
            stream.close()  # interrupted (Ctrl-C) before the caller got it: free the connection
            raise
        return response

    async def _request_task(
        self,
        send: Callable[[], Awaitable[Response]],
        *,
        task_status: CallStatus[tuple[Response, BodyReader | None]],
    ) -> None:
        """In the trio thread: the response, then the reading of its body."""
        response = await send()
        stream = response._stream
        if response.is_closed or not isinstance(stream, AsyncByteStream):
            # Read already: not streamed, or read by an auth flow or a hook.
            task_status.started((response, None))
            return
        reading = read_ahead(self._portal, task_status, stream, response.headers.raw, response)
        del response  # not kept by this frame while the body is read (see read_ahead)
        await reading

    def _follow(self, response: Response, follow: Callable[[], Awaitable[Response]]) -> Response:
        """``response.next()``: close it here (its body is a blocking one), then follow."""
        response.close()
        return self._send(follow)

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
