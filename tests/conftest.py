"""Shared fixtures: real servers in the test's nursery, TLS material, leak checks, pools.

Servers (see ``tests/_servers.py``) run inside the test's trio run and stop when
the test ends. Every test is checked for leaked sockets: the socket file
descriptors of the process are counted before and after it (after
``gc.collect()``), so a test that leaves a socket open fails.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import hypothesis
import pytest
import trio
import trio.testing

from ._servers import (
    H11Handler,
    RawHandler,
    Server,
    TestApp,
    TLSMaterial,
    default_h11_handler,
    make_tls_material,
    serve_http,
    serve_hypercorn,
    serve_raw,
)

# Hypothesis's per-example deadline (200 ms) measures the machine, not the code:
# on a loaded CI machine a slow example fails a correct test. No test of ours
# asserts on time, Hypothesis included.
hypothesis.settings.register_profile("trio_httpcore", deadline=None)
hypothesis.settings.load_profile("trio_httpcore")

# ---------------------------------------------------------------------------
# Leak checks


def socket_fds() -> dict[int, str]:
    """The open socket file descriptors of this process: ``{fd: "socket:[inode]"}``."""
    found = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # closed while we looked (the listdir fd itself)
            continue
        if target.startswith("socket:"):
            found[int(name)] = target
    return found


@pytest.fixture(autouse=True)
def no_socket_leak(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if it leaves a socket open (servers included: they stop with it).

    A socket that only garbage still holds counts as closed: ``gc.collect()`` runs
    before the verdict.

    This is a sync fixture, so it is set up before the test's trio run starts and
    torn down after it ended; trio's own wakeup sockets are gone by then.
    """
    if request.node.get_closest_marker("allow_socket_leak"):  # pragma: no cover
        yield
        return
    before = socket_fds()  # garbage collected later can only shrink "after"
    yield

    def leaked_now() -> dict[int, str]:
        after = socket_fds()
        return {fd: target for fd, target in after.items() if before.get(fd) != target}

    leaked = leaked_now()
    if leaked:  # only garbage holding them? (gc.collect() is slow: only when needed)
        gc.collect()
        leaked = leaked_now()
    assert not leaked, f"socket(s) left open by the test: {leaked}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_socket_leak: skip the socket-leak check for this test"
    )


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


def assert_quiescent(pool: Any) -> None:
    """No connection connecting or in use, and nobody waiting (idle ones are fine)."""
    stats = pool.statistics()
    assert (stats.connecting, stats.active, stats.waiting) == (0, 0, 0), stats


def assert_empty(pool: Any) -> None:
    """No connection at all, nobody waiting and no HTTP/2 stream."""
    stats = pool.statistics()
    counts = (stats.connecting, stats.active, stats.idle, stats.waiting, stats.http2_streams)
    assert counts == (0, 0, 0, 0, 0), stats


PoolFactory = Callable[..., AbstractAsyncContextManager[Any]]


def library_tasks() -> set[trio.lowlevel.Task]:
    """Every live task of this trio run whose coroutine is trio_httpcore's own code."""
    found: set[trio.lowlevel.Task] = set()
    stack = [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        if task is None:
            continue
        code = getattr(task.coro, "cr_code", None)
        if code is not None and f"{os.sep}trio_httpcore{os.sep}" in code.co_filename:
            found.add(task)
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return found


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
