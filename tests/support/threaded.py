"""Servers for the sync facade's tests: each in a thread of its own, with its own trio run.

A sync test blocks its own thread in ``pool.request()``, so the server cannot
live in the test's trio run (a sync test has none): :class:`ThreadedServer`
runs the servers of ``tests/_servers.py`` on a background thread and stops
them (joining the thread) when the test ends. Events the server sets for the
test are ``threading.Event``s.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import h2.config
import h2.connection
import h2.events
import pytest
import trio

from tests._servers import (
    ConnectionCounter,
    CountedConn,
    H11Request,
    Server,
    TLSMaterial,
    _open_listener,
    _proxy_handler,
    _serve_listener,
    default_h11_handler,
    serve_http,
    serve_hypercorn,
)

T = TypeVar("T")

# Generous: these only guard against hangs, and a loaded CI machine is slow.
TIMEOUTS: dict[str, Any] = {"timeout": {"connect": 30, "read": 30, "write": 30, "pool": 30}}
"""Generous limits: a hang fails the test instead of blocking it (no test relies on them firing)."""


class ThreadedServer:
    """A server started by ``start(nursery)`` in a thread running its own ``trio.run``."""

    def __init__(self, start: Callable[[trio.Nursery], Awaitable[Server]]) -> None:
        self._start = start
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="test server", daemon=True)
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._server: Server | None = None
        self._error: BaseException | None = None

    @property
    def server(self) -> Server:
        assert self._server is not None
        return self._server

    def url4(self, path: str = "/") -> tuple[bytes, bytes, int | None, bytes]:
        return self.server.url4(path)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the server's trio thread (to read its counters consistently)."""
        return trio.from_thread.run_sync(fn, *args, trio_token=self._token)

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise RuntimeError("the test server failed to start") from self._error
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._token is not None and self._stop is not None
        self._token.run_sync_soon(self._stop.set)
        self._thread.join()
        if self._error is not None:
            raise RuntimeError("the test server failed") from self._error

    def _main(self) -> None:
        try:
            trio.run(self._serve)
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._stop = trio.Event()
        async with trio.open_nursery() as nursery:
            self._server = await self._start(nursery)
            self._token = trio.lowlevel.current_trio_token()
            self._ready.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()


class SlowPaths:
    """What the h11 test server shares with the test thread for ``/slow`` and ``/gate``."""

    def __init__(self) -> None:
        self.arrived = threading.Event()  # a /slow or /gate request reached the server
        self.release = threading.Event()  # the test lets /gate send the rest of its body


async def sync_test_handler(request: H11Request, slow: SlowPaths) -> None:
    """The default routes, plus:

    * ``/echo``: the request body back;
    * ``/slow``: sets ``slow.arrived``, then never answers (until the client goes away);
    * ``/gate``: sends headers and b"first", sets ``slow.arrived``, waits for
      ``slow.release``, sends b"last";
    * ``/truncated``: promises 100 bytes, sends 10, closes the connection.
    """
    if request.path == "/echo":
        await request.respond(200, await request.read_body())
    elif request.path == "/slow":
        slow.arrived.set()
        await request.stall()
    elif request.path == "/gate":
        await request.read_body()
        await request.start_response(200, [(b"transfer-encoding", b"chunked")])
        await request.send_data(b"first")
        slow.arrived.set()
        await trio.to_thread.run_sync(slow.release.wait)
        await request.send_data(b"last")
        await request.end()
    elif request.path == "/truncated":
        await request.start_response(200, [(b"content-length", b"100")])
        await request.send_data(b"0123456789")  # and return: the server closes
    else:
        await default_h11_handler(request)


@pytest.fixture
def slow() -> SlowPaths:
    return SlowPaths()


@pytest.fixture
def h11_server(slow: SlowPaths) -> Iterator[ThreadedServer]:
    """Our h11 server (see :func:`sync_test_handler`) in a thread; it counts connections."""

    async def start(nursery: trio.Nursery) -> Server:
        return await serve_http(nursery, lambda request: sync_test_handler(request, slow))

    with ThreadedServer(start) as server:
        try:
            yield server
        finally:
            slow.release.set()  # a failed test must not leave /gate waiting: it stops the server


async def serve_counted_tls_hypercorn(nursery: trio.Nursery, tls: TLSMaterial) -> Server:
    """Hypercorn over TLS (ALPN h2, http/1.1) behind a counting TCP relay: the relay
    passes the TLS bytes through, so ``server.counter`` counts the client's TCP connections."""
    backend = await serve_hypercorn(nursery, certfile=tls.certfile, keyfile=tls.keyfile)
    counter = ConnectionCounter()
    listener = await _open_listener()
    await nursery.start(
        _serve_listener, listener, _proxy_handler(backend.port), counter, backend.stop
    )
    port = listener.socket.getsockname()[1]
    return Server("https", backend.host, port, counter, backend.stop, dict(backend.extra))


@pytest.fixture
def tls_h2_server(tls: TLSMaterial, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadedServer]:
    """Hypercorn TLS with HTTP/2 in a thread, its TCP connections counted.

    Hypercorn ends a connection with GOAWAY after 1000 requests by default
    (``keep_alive_max_requests``, like nginx's ``keepalive_requests``); the
    tests here count connections over more requests than that, so it is raised.
    """
    from hypercorn.config import Config

    monkeypatch.setattr(Config, "keep_alive_max_requests", 1_000_000)
    with ThreadedServer(lambda nursery: serve_counted_tls_hypercorn(nursery, tls)) as server:
        yield server


async def serve_h2(nursery: trio.Nursery, tls: TLSMaterial) -> Server:
    """A minimal HTTP/2 server over TLS (ALPN h2) on h2: every request gets 200 b"hello".

    ``server.extra["stream_ids"]`` lists the stream ids of the requests in the
    order their HEADERS arrived on the wire, across all connections.
    """
    counter = ConnectionCounter()
    stop = trio.Event()
    listener = await _open_listener()
    context = tls.server_context(alpn=["h2"])
    stream_ids: list[int] = []

    async def handle(stream: trio.SocketStream, counted: CountedConn) -> None:
        tls_stream = trio.SSLStream(stream, context, server_side=True)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        try:
            await tls_stream.send_all(conn.data_to_send())
            while data := await tls_stream.receive_some(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        stream_ids.append(event.stream_id)
                        counted.requests += 1
                        conn.send_headers(
                            event.stream_id, [(":status", "200"), ("content-length", "5")]
                        )
                        conn.send_data(event.stream_id, b"hello", end_stream=True)
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        return
                await tls_stream.send_all(conn.data_to_send())
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return

    await nursery.start(_serve_listener, listener, handle, counter, stop)
    port = listener.socket.getsockname()[1]
    return Server("https", "127.0.0.1", port, counter, stop, {"stream_ids": stream_ids})


@pytest.fixture
def h2_server(tls: TLSMaterial) -> Iterator[ThreadedServer]:
    """:func:`serve_h2` in a thread."""
    with ThreadedServer(lambda nursery: serve_h2(nursery, tls)) as server:
        yield server
