"""``Client``: the blocking client, the one :class:`AsyncClient` run in a portal's trio thread.

Each response comes back with a blocking body: read already by the async client, or, streamed,
through the read-ahead body bridge; so ``Response`` and ``AsyncClient`` know nothing of
portals. Event hooks, blocking functions, run in a worker thread, where a body still in the
trio thread is read through ``trio.from_thread``.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager, contextmanager
from functools import partial
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    Literal,
    ParamSpec,
    TypeVar,
    cast,
    overload,
)

import trio

from .._client import (
    DEFAULT_LIMITS,
    DEFAULT_TIMEOUT,
    URL,
    AsyncClient,
    Auth,
    AuthTypes,
    CertTypes,
    Cookies,
    CookieTypes,
    DefaultEncoding,
    EventHook,
    EventHooks,
    Headers,
    HeaderTypes,
    Limits,
    Mounts,
    ProxyTypes,
    QueryParams,
    QueryParamTypes,
    Response,
    Timeout,
    TimeoutTypes,
    VerifyTypes,
)
from .._http import AsyncHTTPTransport
from .._streams import AsyncByteStream, SyncByteStream
from ._body import BodyReader, PortalByteStream, read_ahead, stop_reading
from ._once import OpenOnce
from ._portal import CallStatus, Portal

if TYPE_CHECKING:
    from typing_extensions import Self

P = ParamSpec("P")
R = TypeVar("R")
Read = TypeVar("Read")  # a setting's type, as read
Given = TypeVar("Given")  # what may be assigned to it


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


# The blocking client's methods and settings are the async client's, forwarded: one
# implementation, one signature (FIELD-LESSONS: sync copies drift), each shown by help(),
# inspect.signature and type checkers as the async client's, blocking.


def _like(function: Callable[P, R], method: Callable[..., Any], returns: str) -> Callable[P, R]:
    """``function``, named and documented as the async client's ``method``, with its
    signature but returning ``returns`` (a string, as ``from __future__ import annotations``
    leaves annotations)."""
    function.__name__ = method.__name__
    function.__qualname__ = f"Client.{method.__name__}"
    function.__doc__ = method.__doc__
    signature = inspect.signature(method)
    function.__signature__ = signature.replace(return_annotation=returns)  # type: ignore[attr-defined]
    return function


def _forwarded(
    method: Callable[Concatenate[AsyncClient, P], R],
) -> Callable[Concatenate[Client, P], R]:
    """The async client's non-blocking ``method`` (``build_request``), called on it."""

    def forwarded(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return method(self._client, *args, **kwargs)

    return _like(forwarded, method, inspect.signature(method).return_annotation)


def _blocking(
    method: Callable[Concatenate[AsyncClient, P], Awaitable[Response]],
) -> Callable[Concatenate[Client, P], Response]:
    """The async client's ``method`` (``request``, ``send``, ``get``...), blocking: awaited in
    the portal, its response handed over with a blocking body."""

    def blocking(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> Response:
        return self._send(partial(method, self._client, *args, **kwargs))

    return _like(blocking, method, "Response")


def _blocking_stream(
    method: Callable[Concatenate[AsyncClient, P], AbstractAsyncContextManager[Response]],
) -> Callable[Concatenate[Client, P], AbstractContextManager[Response]]:
    """``stream``, the async client's ``method``, blocking: ``request(..., stream=True)``
    (which takes ``stream``'s arguments), the response closed when the block ends."""

    @contextmanager
    def stream(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[Response]:
        request: Callable[..., Awaitable[Response]] = self._client.request
        response = self._send(partial(request, *args, stream=True, **kwargs))
        try:
            yield response
        finally:
            response.close()

    stream = _like(stream, method, "Iterator[Response]")
    stream.__doc__ = """``with client.stream("GET", url) as response:``: the body is left unread.

        Read it with ``iter_bytes()`` and friends inside the block; leaving
        the block closes the response and frees its connection.
        """
    return stream


class _Setting(Generic[Read, Given]):
    """A setting of the async client, read and assigned through the blocking one (the
    async client normalises what is assigned, or ``normalise`` does)."""

    def __init__(self, doc: str, normalise: Callable[[Given], Read] | None = None) -> None:
        self.__doc__ = doc
        self._normalise = normalise

    def __set_name__(self, owner: type[Client], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, client: None, owner: type[Client]) -> Self: ...

    @overload
    def __get__(self, client: Client, owner: type[Client]) -> Read: ...

    def __get__(self, client: Client | None, owner: type[Client]) -> Self | Read:
        if client is None:
            return self
        return cast("Read", getattr(client._client, self._name))

    def __set__(self, client: Client, value: Given) -> None:
        normalised = value if self._normalise is None else self._normalise(value)
        setattr(client._client, self._name, normalised)


class Client:
    """The blocking HTTP client: ``with Client() as client: client.get(url)``.

    It takes the arguments of :class:`AsyncClient` and has its methods,
    blocking. ``with`` is optional: the portal thread starts with the first
    request, and :meth:`close` ends it (as does garbage collection); a closed
    client cannot be entered again. Calling it from inside a trio run raises
    ``RuntimeError``: use ``AsyncClient`` there. Transports given as
    ``transport=``, ``proxy=`` or ``mounts=`` are async ones (``MockTransport``
    handlers may be blocking functions); they run in the portal's trio thread.
    Event hooks are blocking functions, run in a worker thread.
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
        self._client = AsyncClient(
            auth=auth,
            params=params,
            headers=headers,
            cookies=cookies,
            verify=verify,
            cert=cert,
            http1=http1,
            http2=http2,
            http3=http3,
            proxies=proxies,
            proxy=proxy,
            mounts=mounts,
            timeout=timeout,
            follow_redirects=follow_redirects,
            limits=limits,
            max_redirects=max_redirects,
            base_url=base_url,
            trust_env=trust_env,
            transport=transport,
            default_encoding=default_encoding,
            dispatch=dispatch,
            pool_limits=pool_limits,
        )
        self.event_hooks = event_hooks
        self._portal = Portal(
            type(self).__name__, async_api="AsyncClient (`async with AsyncClient() as client:`)"
        )
        self._open = OpenOnce(self._portal, self._client)

    # Settings: the async client's.

    headers = _Setting[Headers, HeaderTypes | None](
        "Headers sent with every request; a request's own headers replace them by name."
    )
    auth = _Setting[Auth | None, AuthTypes | None](
        "How requests that don't give their own ``auth=`` are authenticated."
    )
    cookies = _Setting[Cookies, CookieTypes | None](
        "The client's cookie jar: every response's cookies go in, requests' come out."
    )
    params = _Setting[QueryParams, QueryParamTypes | None](
        "Query parameters added to every request.", QueryParams
    )
    timeout = _Setting[Timeout, TimeoutTypes]("The timeout of requests that don't give their own.")
    follow_redirects = _Setting[bool | None, bool | None](
        "Whether requests that don't say (``follow_redirects=``) follow redirects; ``None``: "
        "they do, except HEAD requests."
    )
    max_redirects = _Setting[int, int]("How many redirects one request may follow.")
    base_url = _Setting[URL | None, URL | str | None](
        "The base of relative request URLs; its path always ends with ``/``."
    )
    trust_env = _Setting[bool, bool](
        "Whether the environment is consulted: ``.netrc``, and (read when the client is "
        "built) the proxy variables and ``SSL_CERT_FILE``/``SSL_CERT_DIR``."
    )
    default_encoding = _Setting[DefaultEncoding | None, DefaultEncoding | None](
        "How the text of a response without a charset is decoded: a codec name, or a "
        "callable ``(body) -> name``; ``None``: the charset is detected."
    )

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

    # Requests: the async client's methods, blocking.

    build_request = _forwarded(AsyncClient.build_request)
    send = _blocking(AsyncClient.send)
    request = _blocking(AsyncClient.request)
    stream = _blocking_stream(AsyncClient.stream)
    get = _blocking(AsyncClient.get)
    head = _blocking(AsyncClient.head)
    options = _blocking(AsyncClient.options)
    delete = _blocking(AsyncClient.delete)
    post = _blocking(AsyncClient.post)
    put = _blocking(AsyncClient.put)
    patch = _blocking(AsyncClient.patch)

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
