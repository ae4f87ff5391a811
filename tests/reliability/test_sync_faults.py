"""The fault table through the sync facade: the same exception as the async pool gets.

The faults that need no clock (resets, early closes, garbage, TLS and HTTP/2
faults) run through :class:`SyncConnectionPool`, called from a worker thread
while the fault server runs in the test's trio run. Each gets the exception of
its row in :data:`tests.reliability.test_faults.FAULTS` (the one the async pool
gets), with ``__cause__`` and origin as there; the sync pool ends quiescent and
serves the next request; no socket is left open once it is closed.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import pytest
import trio
import trio.testing

import trio_httpcore
from tests.reliability.test_faults import (
    FAULTS,
    ORIGIN_TIMEOUTS,
    Fault,
    _h2_hello,
    _pool_options,
    _start_server,
    _url,
)
from tests.support.h2server import serve_h2
from tests.support.pool import assert_quiescent
from tests.support.servers import Server
from tests.support.tls import TLSMaterial

CLOCKLESS = [f for f in FAULTS if f.expected and "timeout" not in f.fault and f.id != "h2-not-h2"]


@pytest.mark.parametrize("fault", CLOCKLESS, ids=[f.id for f in CLOCKLESS])
async def test_sync_fault(
    nursery: trio.Nursery,
    http_server: Server,
    tls: TLSMaterial,
    other_tls: TLSMaterial,
    fault: Fault,
) -> None:
    sent = trio.Event()
    if fault.hold_body:
        # The server's overrun must be on the wire before the body is read: a
        # client that reads (and so credits its window) as the DATA arrives never
        # sees the window overrun (the async table holds the body the same way).
        fault = dataclasses.replace(fault, script=functools.partial(fault.script, sent=sent))
    server = await _start_server(nursery, fault, tls)
    url = _url(fault, server)
    healthy: Any = http_server.url4("/")
    if fault.protocol == "HTTP/2":
        healthy = (await serve_h2(nursery, _h2_hello)).url4("/")

    def in_thread() -> tuple[BaseException | None, bytes]:
        with trio_httpcore.SyncConnectionPool(**_pool_options(fault, tls, other_tls)) as pool:
            error: BaseException | None = None
            try:
                _, _, stream, _ = pool.request(b"GET", url, ext=ORIGIN_TIMEOUTS)
                if fault.hold_body:
                    trio.from_thread.run(sent.wait)
                b"".join(stream)
            except Exception as exc:
                error = exc
            pool._portal.run(trio.testing.wait_all_tasks_blocked)
            assert_quiescent(pool)
            _, _, stream, _ = pool.request(b"GET", healthy, ext=ORIGIN_TIMEOUTS)
            return error, b"".join(stream)

    error, body = await trio.to_thread.run_sync(in_thread)
    assert isinstance(error, fault.expected), repr(error)
    if fault.has_cause:
        assert error.__cause__ is not None, repr(error)
    tcp: Server = server.tcp if hasattr(server, "tcp") else server
    assert f"127.0.0.1:{tcp.port}" in str(error)
    assert body == b"hello"
