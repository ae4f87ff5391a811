"""The other clients measured beside trio_httpcore, and the ceilings: the same adapters as in
``_clients.py``. A peer that is not installed is printed as n/a ("not installed"), never an error.

Peers: httpx2 (under trio, and blocking), niquests and pyreqwest (under asyncio, and blocking),
pycurl (blocking). Ceilings: a blocking ``ssl`` socket loop (HTTP/1.1 over TLS, no parsing) for
the TLS and HTTP/2 downloads, and a raw HTTP/2 loop (h2's state machine on a blocking ``ssl``
socket, no checks) for the many-streams run.
"""

from __future__ import annotations

import importlib
import io
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from _clients import (
    ASYNC_CLIENTS as OWN_ASYNC_CLIENTS,
)
from _clients import (
    SYNC_CLIENTS as OWN_SYNC_CLIENTS,
)
from _clients import (
    Client,
    NotApplicable,
    RawBlockingSession,
    _client_options,
    _ClientSession,
    _SyncClientSession,
)
from _server import HOST, Server

DOWNLOAD_READ = 256 * 1024


def need(module: str) -> Any:
    """``import module``, or NotApplicable("not installed") when it is not."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise NotApplicable(f"{module} is not installed ({exc.name} missing)") from None


def ca_file(server: Server) -> str:
    """The benchmark CA as a PEM file (for clients that take a path), written once."""
    path = Path(server.directory) / "bench-ca.pem"
    if not path.exists():
        server.ca.cert_pem.write_to_path(str(path))
    return str(path)


# -- httpx2: httpx's successor, same API.


@asynccontextmanager
async def httpx2_client(cfg: Any, server: Server) -> AsyncIterator[Any]:
    httpx2 = need("httpx2")
    async with httpx2.AsyncClient(**_client_options(cfg, server, httpx2.Limits)) as client:
        yield _ClientSession(client, cfg)


@contextmanager
def httpx2_sync_client(cfg: Any, server: Server) -> Iterator[Any]:
    httpx2 = need("httpx2")
    with httpx2.Client(**_client_options(cfg, server, httpx2.Limits)) as client:
        yield _SyncClientSession(client, cfg)


# -- niquests: requests' successor; HTTP/2 by ALPN over TLS.


def _niquests_session(module: Any, cfg: Any, server: Server) -> Any:
    if cfg.proto == "h2c":
        raise NotApplicable("niquests has no HTTP/2 prior knowledge")
    kwargs: dict[str, Any] = {"pool_maxsize": cfg.max_connections}
    if cfg.proto == "h1-tls":
        kwargs["disable_http2"] = True
    return module(**kwargs)


@asynccontextmanager
async def niquests_session(cfg: Any, server: Server) -> AsyncIterator[Any]:
    niquests = need("niquests")
    verify = ca_file(server)  # niquests heeds a CA path per request, not on the session
    async with _niquests_session(niquests.AsyncSession, cfg, server) as session:

        class Session:
            async def get(self, path: str) -> int:
                response = await session.get(cfg.url(path), verify=verify)
                return len(response.content)

            async def download(self, path: str) -> int:
                n = 0
                response = await session.get(cfg.url(path), stream=True, verify=verify)
                async for chunk in await response.iter_content(DOWNLOAD_READ):
                    n += len(chunk)
                return n

        yield Session()


@contextmanager
def niquests_sync_session(cfg: Any, server: Server) -> Iterator[Any]:
    niquests = need("niquests")
    verify = ca_file(server)  # niquests heeds a CA path per request, not on the session
    with _niquests_session(niquests.Session, cfg, server) as session:

        class Session:
            def get(self, path: str) -> int:
                return len(session.get(cfg.url(path), verify=verify).content)

            def download(self, path: str) -> int:
                with session.get(cfg.url(path), stream=True, verify=verify) as response:
                    return sum(len(c) for c in response.iter_content(DOWNLOAD_READ))

        yield Session()


# -- pyreqwest: Rust's reqwest (hyper, rustls), async on asyncio and blocking.


def _pyreqwest_builder(builder: Any, cfg: Any, server: Server) -> Any:
    builder = builder.add_root_certificate_pem(server.ca.cert_pem.bytes())
    builder = builder.max_connections(cfg.max_connections)
    if cfg.proto == "h2c":
        builder = builder.http2_prior_knowledge()
    elif cfg.proto == "h2":
        builder = builder.http2(True)
    else:
        builder = builder.http1_only()
    return builder.build()


@asynccontextmanager
async def pyreqwest_client(cfg: Any, server: Server) -> AsyncIterator[Any]:
    client_module = need("pyreqwest.client")
    async with _pyreqwest_builder(client_module.ClientBuilder(), cfg, server) as client:

        class Session:
            async def get(self, path: str) -> int:
                response = await client.get(cfg.url(path)).build().send()
                return len(await response.bytes())

            async def download(self, path: str) -> int:
                n = 0
                async with client.get(cfg.url(path)).build_streamed() as response:
                    reader = response.body_reader
                    while (chunk := await reader.read_chunk()) is not None:
                        n += len(chunk)
                return n

        yield Session()


@contextmanager
def pyreqwest_sync_client(cfg: Any, server: Server) -> Iterator[Any]:
    client_module = need("pyreqwest.client")
    with _pyreqwest_builder(client_module.SyncClientBuilder(), cfg, server) as client:

        class Session:
            def get(self, path: str) -> int:
                return len(client.get(cfg.url(path)).build().send().bytes())

            def download(self, path: str) -> int:
                n = 0
                with client.get(cfg.url(path)).build_streamed() as response:
                    reader = response.body_reader
                    while (chunk := reader.read_chunk()) is not None:
                        n += len(chunk)
                return n

        yield Session()


# -- pycurl: libcurl, one easy handle (keep-alive) per thread.


@contextmanager
def pycurl_session(cfg: Any, server: Server) -> Iterator[Any]:
    pycurl = need("pycurl")
    local = threading.local()
    handles: list[Any] = []

    def handle() -> Any:
        curl = getattr(local, "curl", None)
        if curl is None:
            curl = local.curl = pycurl.Curl()
            handles.append(curl)
            if cfg.tls:
                curl.setopt(pycurl.CAINFO, ca_file(server))
            version = {
                "h1": pycurl.CURL_HTTP_VERSION_1_1,
                "h1-tls": pycurl.CURL_HTTP_VERSION_1_1,
                "h2": pycurl.CURL_HTTP_VERSION_2TLS,
                "h2c": pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE,
            }[cfg.proto]
            curl.setopt(pycurl.HTTP_VERSION, version)
        return curl

    class Session:
        def get(self, path: str) -> int:
            buffer = io.BytesIO()
            curl = handle()
            curl.setopt(pycurl.URL, cfg.url(path))
            curl.setopt(pycurl.WRITEDATA, buffer)
            curl.perform()
            return len(buffer.getvalue())

        def download(self, path: str) -> int:
            n = 0

            def count(chunk: bytes) -> None:
                nonlocal n
                n += len(chunk)

            curl = handle()
            curl.setopt(pycurl.URL, cfg.url(path))
            curl.setopt(pycurl.WRITEFUNCTION, count)
            curl.perform()
            curl.unsetopt(pycurl.WRITEFUNCTION)
            return n

    try:
        yield Session()
    finally:
        for curl in handles:
            curl.close()


# -- Ceilings.


def _tls_socket(cfg: Any, server: Server, alpn: str) -> ssl.SSLSocket:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    server.ca.configure_trust(context)
    context.set_alpn_protocols([alpn])
    sock = socket.create_connection((HOST, cfg.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return context.wrap_socket(sock, server_hostname=HOST)


@contextmanager
def raw_ssl(cfg: Any, server: Server) -> Iterator[Any]:
    """Blocking ``ssl`` socket, HTTP/1.1 bytes read whole (the TLS ceiling: no parsing)."""
    if not cfg.tls:
        raise NotApplicable("the blocking ssl loop is the ceiling of the TLS rows only")
    sock = _tls_socket(cfg, server, "http/1.1")
    try:
        yield RawBlockingSession(sock, cfg)
    finally:
        sock.close()


@contextmanager
def raw_h2(cfg: Any, server: Server) -> Iterator[Any]:
    """h2's state machine on a blocking ``ssl`` socket: requests in batches, no checks."""
    if cfg.proto != "h2":
        raise NotApplicable("the raw HTTP/2 loop is the ceiling of the HTTP/2 (TLS) rows only")
    h2_config = need("h2.config")
    h2_connection = need("h2.connection")
    h2_events = need("h2.events")
    sock = _tls_socket(cfg, server, "h2")
    conn = h2_connection.H2Connection(h2_config.H2Configuration(client_side=True))
    conn.initiate_connection()
    conn.increment_flow_control_window(2**30)
    sock.sendall(conn.data_to_send())
    headers = [
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", f"{HOST}:{cfg.port}"),
        (":path", "/"),
    ]

    def batch(count: int) -> int:
        open_streams = set()
        for _ in range(count):
            stream_id = conn.get_next_available_stream_id()
            conn.send_headers(stream_id, headers, end_stream=True)
            open_streams.add(stream_id)
        sock.sendall(conn.data_to_send())
        total = 0
        while open_streams:
            for event in conn.receive_data(sock.recv(DOWNLOAD_READ)):
                if isinstance(event, h2_events.DataReceived):
                    total += len(event.data)
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2_events.StreamEnded):
                    open_streams.discard(event.stream_id)
            if data := conn.data_to_send():
                sock.sendall(data)
        return total

    class Session:
        def get(self, path: str) -> int:
            return batch(1)

        def download(self, path: str) -> int:
            raise NotApplicable("the raw HTTP/2 loop is the ceiling of the many-streams run")

        def many(self, n: int, concurrency: int) -> None:
            """``n`` GETs of ``/``, ``concurrency`` streams open at a time."""
            while n > 0:
                n -= concurrency
                batch(concurrency + min(n, 0))

    try:
        yield Session()
    finally:
        sock.close()


def _with_peers(own: list[Client], peers: list[Client]) -> list[Client]:
    """Our rows and the references first, then the peers, the ceilings last."""
    ceilings = [c for c in own if c.layer == "ceiling"]
    return [*(c for c in own if c.layer != "ceiling"), *peers, *ceilings]


ASYNC_CLIENTS = _with_peers(
    OWN_ASYNC_CLIENTS,
    [
        Client("httpx2", "httpx2 AsyncClient (trio)", "peer", "trio", httpx2_client),
        Client("niquests", "niquests AsyncSession (asyncio)", "peer", "asyncio", niquests_session),
        Client(
            "pyreqwest", "pyreqwest Client (Rust, asyncio)", "peer", "asyncio", pyreqwest_client
        ),
        Client("raw_ssl", "raw blocking ssl loop (TLS ceiling)", "ceiling", "sync", raw_ssl),
        Client("raw_h2", "raw HTTP/2 loop (h2, blocking ssl)", "ceiling", "sync", raw_h2),
    ],
)

SYNC_CLIENTS = _with_peers(
    OWN_SYNC_CLIENTS,
    [
        Client("httpx2_sync", "httpx2 Client", "peer", "sync", httpx2_sync_client),
        Client("niquests_sync", "niquests Session", "peer", "sync", niquests_sync_session),
        Client(
            "pyreqwest_sync", "pyreqwest SyncClient (Rust)", "peer", "sync", pyreqwest_sync_client
        ),
        Client("pycurl", "pycurl (libcurl)", "peer", "sync", pycurl_session),
        Client("raw_ssl_sync", "raw blocking ssl loop (TLS ceiling)", "ceiling", "sync", raw_ssl),
    ],
)
