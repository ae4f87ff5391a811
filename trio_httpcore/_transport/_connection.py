"""A pool's connection to one origin: open the stream, then speak HTTP/1.1 or HTTP/2 on it."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import trio

from .._exceptions import CONNECT_ERRORS, ConnectError, ConnectTimeout, map_exceptions
from .._http import (
    ConnectionProtocol,
    alpn_protocol,
    close_now,
    open_stream,
    start_tls,
    traced,
    tracer_for,
)
from .._http3 import HTTP3Policy
from .._http11 import HTTP11Connection
from .._types import Extensions, Origin, fail_after, get_timeout, origin_text

LOGGER = logging.getLogger("trio_httpcore.connection")

# Delays between connect attempts when ``retries`` allows more than one:
# at once, then doubling from half a second (0, 0.5, 1, 2, 4, ...).
RETRY_BACKOFF_FACTOR = 0.5


def retry_delay(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based)."""
    return 0.0 if attempt <= 1 else RETRY_BACKOFF_FACTOR * 2 ** (attempt - 2)


class PoolCallbacks(Protocol):
    """What a connection tells the pool that owns it."""

    def connection_connected(self, connection: AsyncHTTPConnection) -> None: ...

    def connection_released(self, connection: AsyncHTTPConnection) -> None: ...

    def connection_closed(self, connection: AsyncHTTPConnection) -> None: ...


@dataclass(frozen=True)
class ConnectOptions:
    """How a pool opens its connections; shared by all of them."""

    ssl_context: ssl.SSLContext
    http1: bool
    http2: bool
    uds: str | None
    local_address: str | None
    retries: int
    keepalive_expiry: float | None
    # HTTP/3: which origins to try over QUIC (None: never). See _http3/_altsvc.py.
    http3: HTTP3Policy | None = None


Opener = Callable[["AsyncHTTPConnection", Extensions], Awaitable[trio.abc.Stream]]
"""Opens the stream a connection runs over (plain TCP/UDS, or through a proxy)."""


class AsyncHTTPConnection:
    """One connection slot of a pool, from connecting to closed.

    It is CONNECTING (counted against ``max_connections``, no protocol yet)
    until :meth:`connect` succeeds, then delegates to the protocol it
    negotiated. The request that made it connects it, in its own task: no
    task is spawned per request.
    """

    def __init__(self, pool: PoolCallbacks, origin: Origin, options: ConnectOptions) -> None:
        self._pool = pool
        self.origin = origin
        self.origin_text = origin_text(origin)
        self._options = options
        self.protocol: ConnectionProtocol | None = None
        self.is_closed = False
        # HTTP/3 hook: the UDP port this connection tries first, if any.
        self._http3_port = (
            options.http3.target(origin, trio.current_time())
            if options.http3 is not None and options.uds is None
            else None
        )

    def __repr__(self) -> str:
        state = "connecting" if self.protocol is None else repr(self.protocol)
        return f"<AsyncHTTPConnection {self.origin_text} {state}>"

    @property
    def may_multiplex(self) -> bool:
        """Whether this connection may turn out to speak HTTP/2 (requests wait to share it)."""
        if self.protocol is not None:
            return self.protocol.http_version in ("HTTP/2", "HTTP/3")
        if self._http3_port is not None:
            return True
        if not self._options.http2:
            return False
        scheme = self.origin[0]
        return scheme == b"https" or not self._options.http1

    # -- Capacity: delegated to the protocol once connected.

    def try_reserve(self) -> bool:
        if self.protocol is None:
            return False
        if self.protocol.http_version == "HTTP/2" and self.superseded():
            return False
        return self.protocol.try_reserve()

    def superseded(self) -> bool:
        """HTTP/3 hook: a TCP connection to an origin now wanted over HTTP/3 takes no new request.

        True once the origin advertised HTTP/3 (Alt-Svc) after this connection
        opened; the pool closes it as soon as it is idle.
        """
        policy = self._options.http3
        return (
            policy is not None
            and self._http3_port is None
            and self.protocol is not None
            and self.protocol.http_version != "HTTP/3"
            and policy.target(self.origin, trio.current_time()) is not None
        )

    def unreserve(self) -> None:
        if self.protocol is None:
            # Never connected: its request gave up before connecting it.
            self._set_closed()
        else:
            self.protocol.unreserve()

    def is_idle(self) -> bool:
        return self.protocol is not None and self.protocol.is_idle()

    def close_now(self) -> None:
        if self.protocol is None:
            self._set_closed()
        else:
            self.protocol.close_now()

    # -- ConnectionListener, for the protocol.

    def released(self) -> None:
        self._pool.connection_released(self)

    def closed(self) -> None:
        self._set_closed()

    def _set_closed(self) -> None:
        if not self.is_closed:
            self.is_closed = True
            self._pool.connection_closed(self)

    # -- Connecting.

    async def connect(
        self, ext: Extensions, opener: Opener | None, nursery: trio.Nursery
    ) -> ConnectionProtocol:
        """Open the stream (retrying a failed connect as ``retries`` allows), pick the protocol.

        The caller holds the new protocol's first reservation. On any failure or
        cancellation the half-open stream is closed and the slot released.
        """
        try:
            protocol = None
            if self._http3_port is not None and opener is None:
                protocol = await self._connect_http3(ext)
            if protocol is None:
                stream = await self._open_with_retries(ext, opener)
                if self.is_closed:
                    close_now(stream)
                else:
                    protocol = self._start_protocol(stream)
            elif self.is_closed:
                protocol.close_now()
            if protocol is None or self.is_closed:
                raise ConnectError(f"the pool closed while connecting to {self.origin_text}")
            self.protocol = protocol
        except BaseException:
            self._set_closed()
            raise
        nursery.start_soon(self._serve, name=f"trio_httpcore connection to {self.origin_text}")
        self._pool.connection_connected(self)
        return self.protocol

    async def _serve(self) -> None:
        """The protocol's task. It must never take the pool's nursery down with it."""
        assert self.protocol is not None
        try:
            await self.protocol.serve()
        except Exception:
            # An I/O error the protocol did not expect: the connection is unusable.
            self.protocol.close_now()

    async def _connect_http3(self, ext: Extensions) -> ConnectionProtocol | None:
        """The HTTP/3 hook: a QUIC connection, or ``None`` to go over TCP.

        A failed or timed-out handshake falls back to TCP (and the origin is
        not tried over QUIC for a while), unless the pool speaks only HTTP/3.
        """
        from .._http3 import connect_http3

        policy = self._options.http3
        assert policy is not None and self._http3_port is not None
        host = self.origin[1].decode("ascii")
        try:
            protocol = await connect_http3(
                host,
                self._http3_port,
                origin=self.origin_text,
                ssl_context=self._options.ssl_context,
                server_name=ext.get("sni_hostname") or host,
                listener=self,
                local_address=self._options.local_address,
                keepalive_expiry=self._options.keepalive_expiry,
                timeout=get_timeout(ext, "connect"),
            )
        except (ConnectError, ConnectTimeout):
            if policy.mode == "only":
                raise
            policy.failed(self.origin, trio.current_time())
            return None
        policy.succeeded(self.origin)
        return protocol

    async def _open_with_retries(self, ext: Extensions, opener: Opener | None) -> trio.abc.Stream:
        attempt = 0
        while True:
            try:
                return await self._open(ext, opener)
            except (ConnectError, ConnectTimeout):
                attempt += 1
                if attempt > self._options.retries:
                    raise
            await trio.sleep(retry_delay(attempt))

    async def _open(self, ext: Extensions, opener: Opener | None) -> trio.abc.Stream:
        """One connect attempt, under the connect timeout: TCP or UDS, proxy step, TLS."""
        timeouts = ext.get("timeout") or {}
        scheme, host, port = self.origin
        trace = tracer_for(LOGGER, ext)
        with (
            map_exceptions(CONNECT_ERRORS, self.origin_text, "connecting to"),
            fail_after(timeouts.get("connect")),
        ):
            if opener is not None:
                stream = await opener(self, ext)
            else:
                step = "connect_tcp" if self._options.uds is None else "connect_unix_socket"
                info = {
                    "host": host.decode("ascii"),
                    "port": port,
                    "local_address": self._options.local_address,
                    "timeout": timeouts.get("connect"),
                }
                if self._options.uds is not None:
                    info = {"path": self._options.uds, "timeout": timeouts.get("connect")}
                stream = await traced(
                    trace,
                    step,
                    info,
                    open_stream(
                        host.decode("ascii"),
                        port,
                        uds=self._options.uds,
                        local_address=self._options.local_address,
                    ),
                )
            if scheme != b"https":
                return stream
            try:
                hostname = ext.get("sni_hostname") or host.decode("ascii")
                info = {"server_hostname": hostname, "timeout": timeouts.get("connect")}
                return await traced(
                    trace,
                    "start_tls",
                    info,
                    start_tls(stream, self._options.ssl_context, hostname),
                )
            except BaseException:
                close_now(stream)
                raise

    def _start_protocol(self, stream: trio.abc.Stream) -> ConnectionProtocol:
        """HTTP/2 if ALPN chose it, or by prior knowledge on http:// with http1=False."""
        if self.origin[0] == b"https":
            speaks_h2 = alpn_protocol(stream) == "h2"
        else:
            speaks_h2 = self._options.http2 and not self._options.http1
        if speaks_h2:
            from .._http2 import HTTP2Connection

            return HTTP2Connection(stream, self.origin_text, self, self._options.keepalive_expiry)
        # The pool runs check_request on every request before it gets here.
        return HTTP11Connection(
            stream,
            self.origin_text,
            self,
            self._options.keepalive_expiry,
            checked_requests=True,
        )
