"""Servers for the sync facade's tests: each in a thread of its own, with its own trio run.

A sync test blocks its own thread in ``pool.request()``, so the server cannot
live in the test's trio run (a sync test has none): :class:`ThreadedServer`
runs the servers of ``tests/support`` on a background thread and stops
them (joining the thread) when the test ends. Events the server sets for the
test are ``threading.Event``s.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
import trio

from .asgi import serve_counted_tls_hypercorn
from .h2server import serve_h2_hello_tls
from .h11server import H11Request, default_h11_handler, serve_http
from .servers import Server
from .tls import TLSMaterial

T = TypeVar("T")


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


@pytest.fixture
def h2_server(tls: TLSMaterial) -> Iterator[ThreadedServer]:
    """:func:`~tests.support.h2server.serve_h2_hello_tls` in a thread."""
    with ThreadedServer(lambda nursery: serve_h2_hello_tls(nursery, tls)) as server:
        yield server
