"""The connection pool: one nursery, connections as tasks in it, lock-free bookkeeping."""

from __future__ import annotations

import heapq
import itertools
import math
import ssl
import sys
import warnings
from collections import deque
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Literal

import trio

from .._exceptions import PoolTimeout, RemoteProtocolError, TransportError
from .._http import (
    AsyncHTTPTransport,
    AsyncResponse,
    RetryOnNewConnection,
    check_body,
    check_request,
)
from .._http3 import HTTP3Policy, http3_available
from .._streams import AsyncByteStream
from .._tls import alpn_protocols, default_ssl_context
from .._types import (
    URL4,
    Extensions,
    Origin,
    RawHeaders,
    fail_after,
    get_timeout,
    origin_text,
    url_origin,
)
from ._connection import AsyncHTTPConnection, ConnectOptions, Opener

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from typing_extensions import Self


@dataclass(frozen=True)
class PoolStatistics:
    """A snapshot of a pool: connections by state, requests waiting, streams open.

    HTTP/2 and HTTP/3 streams are counted apart, so each field keeps one meaning;
    ``http3_streams`` defaults to 0 for code that builds a snapshot positionally.
    """

    connecting: int
    active: int
    idle: int
    waiting: int
    http2_streams: int
    http3_streams: int = 0


# How often one request may be refused by servers (GOAWAY above its stream,
# REFUSED_STREAM) and sent again on another connection before it fails.
MAX_REFUSED_RETRIES = 3


class _Waiter:
    """A request queued for a connection; the pool hands it one and sets ``event``.

    ``ticket`` numbers waiters in arrival order, across origins.
    """

    __slots__ = ("connection", "event", "origin", "ticket")

    def __init__(self, origin: Origin, ticket: int) -> None:
        self.origin = origin
        self.ticket = ticket
        self.event = trio.Event()
        self.connection: AsyncHTTPConnection | None = None


def resolve_max_keepalive(
    max_keepalive: int | None, max_keepalive_connections: int | None, stacklevel: int = 3
) -> int | None:
    """``max_keepalive_connections``, or the deprecated ``max_keepalive`` (with a warning).

    ``stacklevel`` points the warning at the user's call of the constructor.
    """
    if max_keepalive is None:
        return max_keepalive_connections
    warnings.warn(
        "max_keepalive is deprecated: use max_keepalive_connections",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return max_keepalive if max_keepalive_connections is None else max_keepalive_connections


def http3_policy(http3: bool | Literal["prior", "only"]) -> HTTP3Policy | None:
    """The pool's HTTP/3 policy for its ``http3`` option; aioquic must be installed for one.

    ``True``: origins that advertised HTTP/3 in ``Alt-Svc``; ``"prior"``:
    every ``https`` origin first, TCP if QUIC fails; ``"only"``: no TCP.
    """
    if http3 is False:
        return None
    if http3 not in (True, "prior", "only"):
        raise ValueError(f"http3 must be True, False, 'prior' or 'only', got {http3!r}")
    if not http3_available():
        raise ImportError("HTTP/3 needs aioquic: pip install 'trio-httpcore[http3]'")
    return HTTP3Policy("alt-svc" if http3 is True else http3)


def check_backend(cls_name: str, backend: str, expected: str) -> None:
    if backend != expected:
        raise ValueError(
            f"{cls_name} supports only backend={expected!r}, got {backend!r} "
            "(the async classes take 'trio', the sync ones 'sync')"
        )


class AsyncConnectionPool(AsyncHTTPTransport):
    """A pool of HTTP/1.1 and HTTP/2 connections, keyed by origin.

    Use it as ``async with AsyncConnectionPool() as pool:``: the pool owns a
    nursery, and every connection's task runs in it. Leaving the block closes
    every connection and open response stream and returns only when every
    task has ended.

    Bookkeeping (idle connections, the count, the queue of waiting requests)
    changes only in synchronous code between awaits, so check-and-take is
    atomic without locks. Waiting requests are served first come, first
    served; ``max_connections`` counts connections being opened as well as
    open ones.
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int | None = None,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = None,
        http1: bool = True,
        http2: bool = False,
        uds: str | None = None,
        local_address: str | None = None,
        retries: int = 0,
        max_keepalive: int | None = None,
        backend: str = "trio",
        http3: bool | Literal["prior", "only"] = False,
    ) -> None:
        check_backend(type(self).__name__, backend, "trio")
        max_keepalive_connections = resolve_max_keepalive(max_keepalive, max_keepalive_connections)
        if not (http1 or http2):
            raise ValueError("at least one of http1 and http2 must be enabled")
        if max_connections is not None and max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        if max_keepalive_connections is not None and max_keepalive_connections < 0:
            raise ValueError("max_keepalive_connections must not be negative")
        if retries < 0:
            raise ValueError("retries must not be negative")
        if ssl_context is None:
            ssl_context = default_ssl_context()
        ssl_context.set_alpn_protocols(alpn_protocols(http1, http2))
        self._options = ConnectOptions(
            ssl_context=ssl_context,
            http1=http1,
            http2=http2,
            uds=uds,
            local_address=local_address,
            retries=retries,
            keepalive_expiry=keepalive_expiry,
            http3=http3_policy(http3),
        )
        self._max_connections: float = math.inf if max_connections is None else max_connections
        self._max_keepalive: float = (
            math.inf if max_keepalive_connections is None else max_keepalive_connections
        )
        self._opener: Opener | None = None

        self._nursery_manager: AbstractAsyncContextManager[trio.Nursery] | None = None
        self._nursery: trio.Nursery | None = None
        self._closing = False

        # Every connection, connecting or open; len() is what max_connections limits.
        self._connections: set[AsyncHTTPConnection] = set()
        # Idle connections, oldest first: evicted first, and the keep-alive cap.
        self._idle: dict[AsyncHTTPConnection, None] = {}
        # Idle HTTP/1.1 connections per origin, most recently used last (taken first).
        self._idle_http11: dict[Origin, dict[AsyncHTTPConnection, None]] = {}
        # Open HTTP/2 connections per origin: shared while they have streams free.
        self._multiplexed: dict[Origin, list[AsyncHTTPConnection]] = {}
        # Connections still connecting that may turn out HTTP/2, per origin:
        # other requests to the origin wait for them rather than open their own.
        self._connecting_multiplexable: dict[Origin, set[AsyncHTTPConnection]] = {}
        # Waiting requests, per origin in arrival order; dispatch serves the
        # origins by their first waiter's ticket.
        self._waiters: dict[Origin, deque[_Waiter]] = {}
        self._waiting = 0
        self._tickets = itertools.count()
        self._dispatching = False

    # -- Lifetime.

    async def __aenter__(self) -> Self:
        if self._nursery_manager is not None:
            raise RuntimeError(f"{type(self).__name__} can be entered only once")
        self._nursery_manager = trio.open_nursery()
        self._nursery = await self._nursery_manager.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        manager = self._nursery_manager
        if manager is None or self._nursery is None:
            return
        self._close_all()
        self._nursery.cancel_scope.cancel()
        self._nursery = None
        try:
            await manager.__aexit__(exc_type, exc_value, traceback)
        except BaseExceptionGroup as group:
            # Connection tasks never raise, so the group holds only the block's
            # own exception: let that propagate as itself, not wrapped.
            if exc_value is None or group.exceptions != (exc_value,):
                raise

    async def aclose(self) -> None:
        """Close every connection and end every task; the same as leaving ``async with``."""
        await self.__aexit__()

    def _close_all(self) -> None:
        self._closing = True
        for connection in list(self._connections):
            connection.close_now()
        queues, self._waiters, self._waiting = self._waiters, {}, 0
        for queue in queues.values():
            for waiter in queue:
                waiter.event.set()  # with no connection: it raises that the pool closed

    def _running_nursery(self) -> trio.Nursery:
        if self._nursery is None:
            raise RuntimeError(
                f"{type(self).__name__} is not open: use `async with {type(self).__name__}() "
                "as pool:` (the pool owns a nursery that its connections' tasks run in)"
            )
        return self._nursery

    # -- Requests.

    async def arequest(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders | None = None,
        stream: AsyncByteStream | None = None,
        ext: Extensions | None = None,
    ) -> AsyncResponse:
        nursery = self._running_nursery()
        headers = headers or []
        ext = ext or {}
        check_request(method, url, headers)
        check_body(headers, stream)
        origin = url_origin(url)
        pool_timeout = get_timeout(ext, "pool")
        refusals = 0
        while True:
            connection = await self._acquire(origin, pool_timeout)
            protocol = connection.protocol
            if protocol is None:
                protocol = await connection.connect(ext, self._opener, nursery)
            try:
                # Straight to the protocol: one coroutine frame fewer on every
                # suspension of the request.
                response = await protocol.handle_request(method, url, headers, stream, ext)
                http3 = self._options.http3
                if http3 is not None and http3.observe(origin, response[1], trio.current_time()):
                    self._close_superseded(origin)  # HTTP/3: Alt-Svc advertised it
                return response
            except RetryOnNewConnection as retry:
                refusals += retry.refused_by_server
                if refusals > MAX_REFUSED_RETRIES:
                    raise RemoteProtocolError(
                        f"{origin_text(origin)} refused the request {refusals} times "
                        f"without processing it: {retry}"
                    ) from retry

    async def _acquire(self, origin: Origin, timeout: float | None) -> AsyncHTTPConnection:
        """A connection reserved for one request: free, new, or the first to free up."""
        if self._closing:
            raise TransportError(f"the pool is closed: no request to {origin_text(origin)}")
        queue = self._waiters.get(origin)
        if queue is None:
            # Nobody waits for this origin: take what is free now. (Whatever
            # is free could not serve the waiters of other origins, or
            # dispatch would have handed it to them already.)
            connection = self._try_acquire(origin)
            if connection is not None:
                return connection
            queue = self._waiters[origin] = deque()
        waiter = _Waiter(origin, next(self._tickets))
        queue.append(waiter)
        self._waiting += 1
        self._dispatch()
        try:
            with fail_after(timeout):
                await waiter.event.wait()
        except BaseException as exc:
            if isinstance(exc, trio.TooSlowError) and waiter.connection is not None:
                # Handed a connection in the same instant the deadline passed: in time.
                return waiter.connection
            # Cancelled or timed out: leave the queue, or give back what we
            # were handed in the same instant.
            self._abandon(waiter)
            if isinstance(exc, trio.TooSlowError):
                raise PoolTimeout(
                    f"no connection to {origin_text(origin)} became free "
                    f"within the pool timeout ({timeout} s)"
                ) from exc
            raise
        if waiter.connection is None:
            raise TransportError(f"the pool closed while a request to {origin_text(origin)} waited")
        return waiter.connection

    def _close_superseded(self, origin: Origin) -> None:
        """HTTP/3: the origin's idle TCP connections close, so its next requests open QUIC."""
        for connection in [c for c in self._idle if c.origin == origin and c.superseded()]:
            connection.close_now()

    def _abandon(self, waiter: _Waiter) -> None:
        connection, waiter.connection = waiter.connection, None
        if connection is not None:
            connection.unreserve()
        else:
            queue = self._waiters.get(waiter.origin)
            if queue is not None:  # else the pool closed and cleared the queues
                queue.remove(waiter)
                self._waiting -= 1
                if not queue:
                    del self._waiters[waiter.origin]

    def _try_acquire(self, origin: Origin) -> AsyncHTTPConnection | None:
        """Reserve capacity for one request to ``origin`` now, or ``None``.

        In order: a stream on a shared HTTP/2 connection; the most recently
        used idle HTTP/1.1 connection; nothing, if a connection that may speak
        HTTP/2 is still connecting (wait to share it); a new connection within
        ``max_connections``; a new one in place of the oldest idle connection.
        """
        for connection in self._multiplexed.get(origin, ()):
            if connection.try_reserve():
                self._idle.pop(connection, None)
                return connection
        idle = self._idle_http11.get(origin)
        if idle:
            connection, _ = idle.popitem()
            if not idle:
                del self._idle_http11[origin]
            del self._idle[connection]
            connection.try_reserve()
            return connection
        if self._connecting_multiplexable.get(origin):
            return None
        if len(self._connections) >= self._max_connections:
            if not self._idle:
                return None
            next(iter(self._idle)).close_now()
        connection = AsyncHTTPConnection(self, origin, self._options)
        self._connections.add(connection)
        if connection.may_multiplex:
            self._connecting_multiplexable.setdefault(origin, set()).add(connection)
        return connection

    def _dispatch(self) -> None:
        """Hand whatever is free to the waiting requests, first come first served.

        Origins are served in the order their first waiters arrived. An origin
        that nothing free can serve (its HTTP/2 connection is still connecting,
        say) keeps its place while later ones are served; serving one origin
        never frees anything for another, so each is tried until it fails once
        per pass: a release costs O(origins waiting), not O(requests waiting).
        """
        if self._dispatching or self._closing or not self._waiting:
            return
        self._dispatching = True
        try:
            heads = [(queue[0].ticket, origin) for origin, queue in self._waiters.items()]
            heapq.heapify(heads)
            while heads:
                if not (
                    len(self._connections) < self._max_connections
                    or self._idle
                    or self._multiplexed
                ):
                    break
                _, origin = heapq.heappop(heads)
                connection = self._try_acquire(origin)
                if connection is None:
                    continue
                queue = self._waiters[origin]
                waiter = queue.popleft()
                self._waiting -= 1
                waiter.connection = connection
                waiter.event.set()
                if queue:
                    heapq.heappush(heads, (queue[0].ticket, origin))
                else:
                    del self._waiters[origin]
        finally:
            self._dispatching = False

    # -- What connections tell the pool (PoolCallbacks).

    def connection_connected(self, connection: AsyncHTTPConnection) -> None:
        origin = connection.origin
        self._uncount_connecting(connection)
        if connection.may_multiplex:
            self._multiplexed.setdefault(origin, []).append(connection)
        self._dispatch()

    def connection_released(self, connection: AsyncHTTPConnection) -> None:
        if self._closing:
            connection.close_now()
            return
        if connection.is_idle():
            if self._options.http3 is not None and connection.superseded():
                connection.close_now()  # HTTP/3 was advertised meanwhile
                return
            self._idle[connection] = None
            if not connection.may_multiplex:
                self._idle_http11.setdefault(connection.origin, {})[connection] = None
        self._dispatch()
        while len(self._idle) > self._max_keepalive:
            next(iter(self._idle)).close_now()

    def connection_closed(self, connection: AsyncHTTPConnection) -> None:
        if connection not in self._connections:
            return
        self._connections.remove(connection)
        origin = connection.origin
        self._uncount_connecting(connection)
        self._idle.pop(connection, None)
        idle = self._idle_http11.get(origin)
        if idle is not None and idle.pop(connection, False) is None and not idle:
            del self._idle_http11[origin]
        shared = self._multiplexed.get(origin)
        if shared is not None and connection in shared:
            shared.remove(connection)
            if not shared:
                del self._multiplexed[origin]
        self._dispatch()

    def _uncount_connecting(self, connection: AsyncHTTPConnection) -> None:
        connecting = self._connecting_multiplexable.get(connection.origin)
        if connecting is not None:
            connecting.discard(connection)
            if not connecting:
                del self._connecting_multiplexable[connection.origin]

    # -- Introspection.

    def statistics(self) -> PoolStatistics:
        """Connections by state, requests waiting, and HTTP/2 and HTTP/3 streams open."""
        connecting = active = idle = 0
        streams = {"HTTP/2": 0, "HTTP/3": 0}
        for connection in self._connections:
            protocol = connection.protocol
            if protocol is None:
                connecting += 1
                continue
            if protocol.is_idle():
                idle += 1
            else:
                active += 1
            if protocol.http_version in streams:
                streams[protocol.http_version] += protocol.open_streams()
        return PoolStatistics(
            connecting=connecting,
            active=active,
            idle=idle,
            waiting=self._waiting,
            http2_streams=streams["HTTP/2"],
            http3_streams=streams["HTTP/3"],
        )
