"""Fixtures every test folder may use: real servers in the test's nursery, TLS material,
checked pools; the leak checks and the proxies come in as plugins (``pytest_plugins``).

The servers and helpers themselves live in ``tests/support/``, one module per kind;
a test folder's own ``conftest.py`` holds only what that folder uses.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import hypothesis
import pytest
import trio
import trio.testing

from tests.support.asgi import TestApp, serve_hypercorn
from tests.support.h11server import H11Handler, default_h11_handler, serve_http
from tests.support.pool import PoolFactory, assert_empty, assert_quiescent, library_tasks
from tests.support.raw import RawHandler, serve_raw
from tests.support.servers import Server
from tests.support.tls import TLSMaterial, make_tls_material

# tests/http3 needs aioquic (the http3 extra): without it the folder is not collected at all
# (a skip raised while its conftest imports would stop the whole run instead).
collect_ignore: list[str] = []
try:
    import aioquic  # noqa: F401
except ImportError:
    collect_ignore.append("http3")

# The leak checks and time limits every test runs under, fixtures more than one folder
# uses (kept beside their servers), and pytester for the tests of those checks.
pytest_plugins = [
    "tests.support.leaks",
    "tests.support.limits",
    "tests.support.trio_run",
    "tests.support.proxy",
    "pytester",
]

# The Ctrl-C tests need Python's own SIGINT handler. A shell that starts a job in the
# background without job control starts it with SIGINT ignored, and Python then leaves
# it ignored (in pytest and in the processes the tests start): put the handler back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Hypothesis's per-example deadline (200 ms) measures the machine, not the code:
# on a loaded CI machine a slow example fails a correct test. No test of ours
# asserts on time, Hypothesis included.
hypothesis.settings.register_profile("trio_httpcore", deadline=None)
hypothesis.settings.load_profile("trio_httpcore")

# ---------------------------------------------------------------------------
# TLS


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    """A trustme CA and a certificate for ``localhost`` and ``127.0.0.1`` (files on disk)."""
    return make_tls_material(str(tmp_path_factory.mktemp("tls")))


@pytest.fixture(scope="session")
def other_tls(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    """A second, unrelated CA: a client trusting it must reject ``tls``'s server."""
    return make_tls_material(str(tmp_path_factory.mktemp("other_tls")))


# ---------------------------------------------------------------------------
# Servers


@pytest.fixture
def app() -> TestApp:
    """The ASGI test app the ``hypercorn*`` fixtures serve (see ``TestApp``)."""
    return TestApp()


@pytest.fixture
async def hypercorn_server(nursery: trio.Nursery, app: TestApp) -> Server:
    """Hypercorn on trio, plain HTTP/1.1 (also h2c with prior knowledge)."""
    return await serve_hypercorn(nursery, app)


@pytest.fixture
async def h2c_server(nursery: trio.Nursery, app: TestApp) -> Server:
    """Hypercorn plain-text, for HTTP/2 with prior knowledge (h2c)."""
    return await serve_hypercorn(nursery, app)


@pytest.fixture
async def counted_hypercorn_server(nursery: trio.Nursery, app: TestApp) -> Server:
    """Hypercorn behind a counting TCP proxy: ``server.counter.peak`` / ``.total``."""
    return await serve_hypercorn(nursery, app, count_connections=True)


@pytest.fixture
async def tls_server(nursery: trio.Nursery, app: TestApp, tls: TLSMaterial) -> Server:
    """Hypercorn over TLS (ALPN h2, http/1.1) with the ``tls`` certificate."""
    return await serve_hypercorn(nursery, app, certfile=tls.certfile, keyfile=tls.keyfile)


@pytest.fixture
async def tls_h1_server(nursery: trio.Nursery, app: TestApp, tls: TLSMaterial) -> Server:
    """Hypercorn over TLS offering only ALPN http/1.1."""
    return await serve_hypercorn(
        nursery, app, certfile=tls.certfile, keyfile=tls.keyfile, alpn=["http/1.1"]
    )


@pytest.fixture
def start_raw_server(nursery: trio.Nursery) -> Callable[[RawHandler], Any]:
    """``server = await start_raw_server(handler)``: a raw TCP server in the test nursery."""

    async def start(handler: RawHandler) -> Server:
        return await serve_raw(nursery, handler)

    return start


@pytest.fixture
def start_http_server(nursery: trio.Nursery) -> Callable[..., Any]:
    """``server = await start_http_server(handler, close_idle=False)``: an h11 server."""

    async def start(handler: H11Handler = default_h11_handler, **kwargs: Any) -> Server:
        return await serve_http(nursery, handler, **kwargs)

    return start


@pytest.fixture
async def http_server(nursery: trio.Nursery) -> Server:
    """The h11 server with its default handler (``/`` → b"hello", ``/bytes/N``)."""
    return await serve_http(nursery)


# ---------------------------------------------------------------------------
# Pools


@pytest.fixture
def make_pool() -> PoolFactory:
    """``async with make_pool(**kwargs) as pool:`` an ``AsyncConnectionPool`` under check.

    When the block ends normally the pool must be quiescent (nothing connecting,
    active or waiting; pass ``check_quiescent=False`` for a test that leaves a
    stream open on purpose), and once the pool has exited it must be empty and
    no task running the library's code may be left.
    """

    @asynccontextmanager
    async def factory(*, check_quiescent: bool = True, **kwargs: Any) -> AsyncIterator[Any]:
        from trio_httpcore import AsyncConnectionPool

        tasks_before = library_tasks()
        async with AsyncConnectionPool(**kwargs) as pool:
            yield pool
            if check_quiescent:
                assert_quiescent(pool)
        assert_empty(pool)
        await trio.testing.wait_all_tasks_blocked()
        left = library_tasks() - tasks_before
        assert not left, f"tasks left behind by the pool: {left}"

    return factory
