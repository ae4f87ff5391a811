"""The clients under test, each behind the same small adapter.

An async adapter is an async context manager factory ``open(cfg)`` yielding a
session with ``get(path) -> int`` (one request, body read whole, returns its
length) and ``download(path) -> int`` (one request, body streamed and
counted, not kept). A sync adapter's session has ``get(path)`` only.

``cfg`` says which server port and protocol to use and the pool size; every
pool gets the same limits (``max_connections`` and as many keep-alive
connections), so no client pays for connection churn the others do not.
"""

from __future__ import annotations

import importlib.util
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import trio
from _server import HOST, Server


@dataclass(frozen=True)
class ConnCfg:
    """How a workload connects: ``proto`` is "h1", "h1-tls", "h2" (TLS + ALPN) or "h2c"."""

    proto: str
    port: int
    max_connections: int

    @property
    def tls(self) -> bool:
        return self.proto in ("h1-tls", "h2")

    @property
    def http2(self) -> bool:
        return self.proto in ("h2", "h2c")

    @property
    def http1(self) -> bool:
        return self.proto != "h2c"

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def url(self, path: str) -> str:
        return f"{self.scheme}://{HOST}:{self.port}{path}"

    def url4(self, path: str) -> tuple[bytes, bytes, int, bytes]:
        return (self.scheme.encode(), HOST.encode(), self.port, path.encode())


class NotApplicable(Exception):
    """This client cannot run this workload; the message says why (printed as n/a)."""


def ssl_context(server: Server) -> ssl.SSLContext:
    """A fresh verifying context trusting the benchmark's CA (pools set ALPN on it)."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    server.ca.configure_trust(ctx)
    return ctx


def _th_http2_available() -> bool:
    return importlib.util.find_spec("trio_httpcore._http2._connection") is not None


def _th_attr(name: str) -> Any:
    import trio_httpcore

    value = getattr(trio_httpcore, name, None)
    if value is None:
        raise NotApplicable(f"trio_httpcore.{name} is not implemented yet")
    return value


def _th_check(cfg: ConnCfg) -> None:
    if cfg.http2 and not _th_http2_available():
        raise NotApplicable("trio_httpcore's HTTP/2 is not implemented yet")


def _h1_only(cfg: ConnCfg, who: str) -> None:
    if cfg.http2:
        raise NotApplicable(f"{who} speaks HTTP/1.1 only")


def _pool_options(cfg: ConnCfg, server: Server) -> dict[str, Any]:
    """The options every transport-level pool gets (same names in trio_httpcore and httpcore)."""
    return {
        "ssl_context": ssl_context(server),
        "http1": cfg.http1,
        "http2": cfg.http2,
        "max_connections": cfg.max_connections,
        "max_keepalive_connections": cfg.max_connections,
    }


def _client_options(cfg: ConnCfg, server: Server, limits_class: Any) -> dict[str, Any]:
    """The options every client-level API gets (httpx's names, which trio_httpcore's mirror)."""
    return {
        "verify": ssl_context(server),
        "http1": cfg.http1,
        "http2": cfg.http2,
        "limits": limits_class(
            max_connections=cfg.max_connections,
            max_keepalive_connections=cfg.max_connections,
        ),
    }


class _ClientSession:
    """An httpx-style async client (httpx's, or trio_httpcore's AsyncClient)."""

    def __init__(self, client: Any, cfg: ConnCfg) -> None:
        self._client = client
        self._cfg = cfg

    async def get(self, path: str) -> int:
        response = await self._client.get(self._cfg.url(path))
        return len(response.content)

    async def download(self, path: str) -> int:
        n = 0
        async with self._client.stream("GET", self._cfg.url(path)) as response:
            async for chunk in response.aiter_bytes():
                n += len(chunk)
        return n


class _SyncClientSession:
    """An httpx-style blocking client (httpx's, httpx2's, or trio_httpcore's Client)."""

    def __init__(self, client: Any, cfg: ConnCfg) -> None:
        self._client = client
        self._cfg = cfg

    def get(self, path: str) -> int:
        return len(self._client.get(self._cfg.url(path)).content)

    def download(self, path: str) -> int:
        with self._client.stream("GET", self._cfg.url(path)) as response:
            return sum(len(chunk) for chunk in response.iter_bytes())


# -- Async clients, under trio.


@asynccontextmanager
async def th_pool(cfg: ConnCfg, server: Server) -> AsyncIterator[Any]:
    from trio_httpcore import AsyncConnectionPool

    _th_check(cfg)
    async with AsyncConnectionPool(**_pool_options(cfg, server)) as pool:

        class Session:
            async def get(self, path: str) -> int:
                _, _, stream, _ = await pool.arequest(b"GET", cfg.url4(path))
                try:
                    body = b"".join([chunk async for chunk in stream])
                finally:
                    await stream.aclose()
                return len(body)

            async def download(self, path: str) -> int:
                _, _, stream, _ = await pool.arequest(b"GET", cfg.url4(path))
                n = 0
                try:
                    async for chunk in stream:
                        n += len(chunk)
                finally:
                    await stream.aclose()
                return n

        yield Session()


@asynccontextmanager
async def th_client(cfg: ConnCfg, server: Server) -> AsyncIterator[Any]:
    AsyncClient = _th_attr("AsyncClient")
    Limits = _th_attr("Limits")
    _th_check(cfg)
    async with AsyncClient(**_client_options(cfg, server, Limits)) as client:
        yield _ClientSession(client, cfg)


@asynccontextmanager
async def httpcore_pool(cfg: ConnCfg, server: Server) -> AsyncIterator[Any]:
    import httpcore

    async with httpcore.AsyncConnectionPool(**_pool_options(cfg, server)) as pool:

        class Session:
            async def get(self, path: str) -> int:
                response = await pool.request("GET", cfg.url(path))
                return len(response.content)

            async def download(self, path: str) -> int:
                n = 0
                async with pool.stream("GET", cfg.url(path)) as response:
                    async for chunk in response.aiter_stream():
                        n += len(chunk)
                return n

        yield Session()


@asynccontextmanager
async def httpx_client(cfg: ConnCfg, server: Server) -> AsyncIterator[Any]:
    import httpx

    async with httpx.AsyncClient(**_client_options(cfg, server, httpx.Limits)) as client:
        yield _ClientSession(client, cfg)


class _RawTrioSession:
    """A ceiling, not a client: pre-built request bytes, minimal framing, no parsing."""

    def __init__(self, cfg: ConnCfg) -> None:
        self._cfg = cfg
        self._idle: list[tuple[trio.SocketStream, bytearray]] = []
        self._all: list[trio.SocketStream] = []

    async def _take(self) -> tuple[trio.SocketStream, bytearray]:
        if self._idle:
            return self._idle.pop()
        stream = await trio.open_tcp_stream(HOST, self._cfg.port)
        self._all.append(stream)
        return stream, bytearray()

    async def _exchange(self, path: str, keep: bool) -> int:
        stream, buffer = await self._take()
        request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{self._cfg.port}\r\n\r\n".encode()
        await stream.send_all(request)
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            buffer += await stream.receive_some(65536)
        head = bytes(buffer[:end]).lower()
        del buffer[: end + 4]
        start = head.find(b"content-length:")
        n = 0
        if start >= 0:
            length = int(head[start + 15 : head.index(b"\r\n", start)].strip())
            n = len(buffer)
            while n < length:
                data = await stream.receive_some(1 << 18)
                n += len(data)
                if keep:
                    buffer += data
            body_len = length
            del buffer[:length]
        else:  # chunked: our small responses end with the last-chunk marker
            while not buffer.endswith(b"0\r\n\r\n"):
                buffer += await stream.receive_some(65536)
            body_len = len(buffer)
            buffer.clear()
        self._idle.append((stream, buffer))
        return body_len

    async def get(self, path: str) -> int:
        return await self._exchange(path, True)

    async def download(self, path: str) -> int:
        return await self._exchange(path, False)

    async def aclose(self) -> None:
        for stream in self._all:
            await trio.aclose_forcefully(stream)


@asynccontextmanager
async def raw_trio(cfg: ConnCfg, server: Server) -> AsyncIterator[Any]:
    if cfg.proto != "h1":
        raise NotApplicable("the raw socket loop speaks plain HTTP/1.1 only")
    session = _RawTrioSession(cfg)
    try:
        yield session
    finally:
        await session.aclose()


# -- aiohttp, under asyncio.


@asynccontextmanager
async def aiohttp_session(cfg: ConnCfg, server: Server) -> AsyncIterator[Any]:
    import aiohttp

    _h1_only(cfg, "aiohttp")
    connector = aiohttp.TCPConnector(
        limit=cfg.max_connections,
        limit_per_host=cfg.max_connections,
        ssl=ssl_context(server) if cfg.tls else False,
    )
    async with aiohttp.ClientSession(connector=connector) as session:

        class Session:
            async def get(self, path: str) -> int:
                async with session.get(cfg.url(path)) as response:
                    return len(await response.read())

            async def download(self, path: str) -> int:
                n = 0
                async with session.get(cfg.url(path)) as response:
                    async for chunk in response.content.iter_any():
                        n += len(chunk)
                return n

        yield Session()


# -- Sync clients.


@contextmanager
def th_sync_pool(cfg: ConnCfg, server: Server) -> Iterator[Any]:
    SyncConnectionPool = _th_attr("SyncConnectionPool")
    _th_check(cfg)
    with SyncConnectionPool(**_pool_options(cfg, server)) as pool:

        class Session:
            def get(self, path: str) -> int:
                _, _, stream, _ = pool.request(b"GET", cfg.url4(path))
                try:
                    body = b"".join(stream)
                finally:
                    stream.close()
                return len(body)

            def download(self, path: str) -> int:
                _, _, stream, _ = pool.request(b"GET", cfg.url4(path))
                try:
                    return sum(len(chunk) for chunk in stream)
                finally:
                    stream.close()

        yield Session()


@contextmanager
def th_sync_client(cfg: ConnCfg, server: Server) -> Iterator[Any]:
    Client = _th_attr("Client")
    Limits = _th_attr("Limits")
    _th_check(cfg)
    with Client(**_client_options(cfg, server, Limits)) as client:
        yield _SyncClientSession(client, cfg)


@contextmanager
def httpcore_sync_pool(cfg: ConnCfg, server: Server) -> Iterator[Any]:
    import httpcore

    with httpcore.ConnectionPool(**_pool_options(cfg, server)) as pool:

        class Session:
            def get(self, path: str) -> int:
                return len(pool.request("GET", cfg.url(path)).content)

            def download(self, path: str) -> int:
                with pool.stream("GET", cfg.url(path)) as response:
                    return sum(len(chunk) for chunk in response.iter_stream())

        yield Session()


@contextmanager
def httpx_sync_client(cfg: ConnCfg, server: Server) -> Iterator[Any]:
    import httpx

    with httpx.Client(**_client_options(cfg, server, httpx.Limits)) as client:
        yield _SyncClientSession(client, cfg)


@contextmanager
def urllib3_pool(cfg: ConnCfg, server: Server) -> Iterator[Any]:
    import urllib3

    _h1_only(cfg, "urllib3")
    if cfg.tls:
        pool: Any = urllib3.HTTPSConnectionPool(
            HOST, cfg.port, maxsize=cfg.max_connections, ssl_context=ssl_context(server)
        )
    else:
        pool = urllib3.HTTPConnectionPool(HOST, cfg.port, maxsize=cfg.max_connections)
    with pool:

        class Session:
            def get(self, path: str) -> int:
                return len(pool.request("GET", path).data)

            def download(self, path: str) -> int:
                response = pool.request("GET", path, preload_content=False)
                try:
                    return sum(len(chunk) for chunk in response.stream(256 * 1024))
                finally:
                    response.release_conn()

        yield Session()


class RawBlockingSession:
    """HTTP/1.1 GETs over one blocking socket (plain or ``ssl``), bodies read whole: no parsing
    beyond the head's Content-Length. The ceiling loops of the blocking rows share it."""

    single_threaded = True  # one socket: threads cannot share it

    def __init__(self, sock: socket.socket, cfg: ConnCfg) -> None:
        self._sock = sock
        self._request_line = f"Host: {HOST}:{cfg.port}\r\n\r\n"
        self._reads = bytearray(1 << 18)
        self._view = memoryview(self._reads)
        self._pending = bytearray()

    def get(self, path: str) -> int:
        sock, pending = self._sock, self._pending
        sock.sendall(f"GET {path} HTTP/1.1\r\n{self._request_line}".encode())
        while (end := pending.find(b"\r\n\r\n")) < 0:
            pending.extend(self._view[: sock.recv_into(self._reads)])
        head = bytes(pending[:end]).lower()
        del pending[: end + 4]
        start = head.find(b"content-length:")
        length = int(head[start + 15 : head.index(b"\r\n", start)].strip())
        got = len(pending)
        pending.clear()
        while got < length:
            got += sock.recv_into(self._reads)
        return length

    def download(self, path: str) -> int:
        return self.get(path)


@contextmanager
def raw_sync(cfg: ConnCfg, server: Server) -> Iterator[Any]:
    if cfg.proto != "h1":
        raise NotApplicable("the raw socket loop speaks plain HTTP/1.1 only")
    sock = socket.create_connection((HOST, cfg.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        yield RawBlockingSession(sock, cfg)
    finally:
        sock.close()


@dataclass(frozen=True)
class Client:
    key: str
    label: str
    layer: str  # "transport", "client", "reference", "ceiling"
    runtime: str  # "trio", "asyncio", "sync"
    open: Any


ASYNC_CLIENTS = [
    Client("th_pool", "trio_httpcore AsyncConnectionPool", "transport", "trio", th_pool),
    Client("th_client", "trio_httpcore AsyncClient", "client", "trio", th_client),
    Client("httpcore", "httpcore AsyncConnectionPool (trio)", "transport", "trio", httpcore_pool),
    Client("httpx", "httpx AsyncClient (trio)", "client", "trio", httpx_client),
    Client("aiohttp", "aiohttp ClientSession (asyncio)", "reference", "asyncio", aiohttp_session),
    Client("raw", "raw trio socket loop (no parsing)", "ceiling", "trio", raw_trio),
]

SYNC_CLIENTS = [
    Client("th_sync_pool", "trio_httpcore SyncConnectionPool", "transport", "sync", th_sync_pool),
    Client("th_sync_client", "trio_httpcore Client", "client", "sync", th_sync_client),
    Client("httpcore_sync", "httpcore ConnectionPool", "transport", "sync", httpcore_sync_pool),
    Client("httpx_sync", "httpx Client", "client", "sync", httpx_sync_client),
    Client("urllib3", "urllib3 HTTPConnectionPool", "reference", "sync", urllib3_pool),
    Client("raw_sync", "raw blocking socket loop (no parsing)", "ceiling", "sync", raw_sync),
]
