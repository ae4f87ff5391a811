"""Fault injection against the HTTP/1.1 client with a controllable raw server.

Each fault in :data:`FAULTS` is one row of the fault table: what the server does,
and the exception the request gets. After each: the pool is quiescent, the next
request to a healthy server succeeds, and (autouse fixture) no socket leaked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import trio
import trio.testing

import trio_httpcore
from tests._servers import RawConn, Server, TLSMaterial, pattern, read_all
from tests.conftest import PoolFactory, assert_quiescent
from tests.transport.helpers import get_body, start_background


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    script: Callable[[RawConn], Awaitable[None]]
    expected: type[Exception] | None  # None: the request succeeds
    tls: bool = False  # the client speaks https to this server


async def _reset_mid_headers(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Le")
    conn.reset()


async def _reset_mid_body(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + pattern(5000))
    conn.reset()


async def _close_after_headers(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")


async def _stall_forever(conn: RawConn) -> None:
    await conn.read_request()
    await conn.wait_closed_by_peer()


async def _stall_mid_body(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
    await conn.wait_closed_by_peer()


async def _oversized_headers(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\n")
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        for i in range(10_000):  # 10 MB of headers, unless the client gives up first
            await conn.send(b"X-Filler-%06d: %s\r\n" % (i, b"x" * 1000))


async def _endless_status_line(conn: RawConn) -> None:
    await conn.read_request()
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await conn.send(b"HTTP/1.1 200 ")
        for _ in range(10_000):
            await conn.send(b"x" * 1000)


async def _length_longer_than_body(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")


async def _chunked_garbage(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nXYZ\r\n")
    await conn.wait_closed_by_peer()


async def _chunked_truncated(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nshort")


async def _body_on_204_then_close(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 204 No Content\r\n\r\n")


async def _tls_garbage(conn: RawConn) -> None:
    await conn.receive_some()  # the ClientHello
    await conn.send(b"HTTP/1.1 400 Bad Request\r\n\r\nthis is not TLS")


async def _tls_close_in_handshake(conn: RawConn) -> None:
    await conn.receive_some()


async def _binary_noise(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(bytes(range(256)) * 4)


async def _interim_then_close(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")


FAULTS = [
    Fault("reset-mid-headers", "RST while sending the head", _reset_mid_headers, None),
    Fault("reset-mid-body", "RST after 5 kB of a 100 kB body", _reset_mid_body, None),
    Fault(
        "close-after-headers",
        "FIN after the head, body missing",
        _close_after_headers,
        trio_httpcore.RemoteProtocolError,
    ),
    Fault("stall-forever", "no response at all", _stall_forever, trio_httpcore.ReadTimeout),
    Fault(
        "stall-mid-body", "half a body, then silence", _stall_mid_body, trio_httpcore.ReadTimeout
    ),
    Fault(
        "oversized-headers",
        "10 MB of header lines",
        _oversized_headers,
        trio_httpcore.RemoteProtocolError,
    ),
    Fault(
        "endless-status-line",
        "a status line that never ends",
        _endless_status_line,
        trio_httpcore.RemoteProtocolError,
    ),
    Fault(
        "length-longer-than-body",
        "Content-Length 100, 9 bytes, FIN",
        _length_longer_than_body,
        trio_httpcore.RemoteProtocolError,
    ),
    Fault(
        "chunked-garbage",
        "a chunk size that is not hex",
        _chunked_garbage,
        trio_httpcore.RemoteProtocolError,
    ),
    Fault(
        "chunked-truncated",
        "a chunk cut short by FIN",
        _chunked_truncated,
        trio_httpcore.RemoteProtocolError,
    ),
    Fault("binary-noise", "1 kB of binary noise", _binary_noise, trio_httpcore.RemoteProtocolError),
    Fault(
        "interim-then-close",
        "a 103, then FIN",
        _interim_then_close,
        trio_httpcore.RemoteProtocolError,
    ),
    Fault("no-content-then-close", "204 and FIN", _body_on_204_then_close, None),
    Fault(
        "tls-garbage",
        "plain HTTP in answer to a ClientHello",
        _tls_garbage,
        trio_httpcore.ConnectError,
        tls=True,
    ),
    Fault(
        "tls-close-in-handshake",
        "FIN in answer to a ClientHello",
        _tls_close_in_handshake,
        trio_httpcore.ConnectError,
        tls=True,
    ),
]
# Reset: ReadError is the contract when the socket errors while reading, but a
# reset can also reach the client as an early EOF (RemoteProtocolError): both
# are the right family; the test checks for either.
RESET_EXPECTED = (trio_httpcore.ReadError, trio_httpcore.RemoteProtocolError)


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
async def test_fault(
    make_pool: PoolFactory,
    start_raw_server: Any,
    http_server: Server,
    tls: TLSMaterial,
    mock_clock: trio.testing.MockClock,
    fault: Fault,
) -> None:
    server = await start_raw_server(fault.script)
    scheme = b"https" if fault.tls else b"http"
    async with make_pool(ssl_context=tls.client_context(), max_connections=1) as pool:
        for _ in range(2):  # the same fault twice: the pool is not worn down by it

            async def run() -> Any:
                _, _, stream, _ = await pool.arequest(
                    b"GET",
                    (scheme, b"127.0.0.1", server.port, b"/"),
                    ext={"timeout": {"connect": 5, "read": 5, "write": 5, "pool": 5}},
                )
                return await read_all(stream)

            async with trio.open_nursery() as nursery:
                job = start_background(nursery, run)
                while not job.done.is_set():  # time passes only when all is blocked
                    await trio.testing.wait_all_tasks_blocked()
                    if not job.done.is_set():
                        mock_clock.jump(1)
            if fault.name.startswith("reset"):
                assert isinstance(job.error, RESET_EXPECTED), job.error
            elif fault.expected is None:
                assert job.error is None, job.error
            else:
                assert isinstance(job.error, fault.expected), job.error
            if job.error is not None:
                assert f"127.0.0.1:{server.port}" in str(job.error)
            await trio.testing.wait_all_tasks_blocked()
            assert_quiescent(pool)
            # max_connections=1: the slot is free again for a healthy server.
            assert await get_body(pool, http_server) == b"hello"


async def test_slow_drip_within_the_read_timeout_succeeds(
    make_pool: PoolFactory, start_raw_server: Any, mock_clock: trio.testing.MockClock
) -> None:
    """One byte per 100 ms: the read timeout is per read, so a slow drip is not a timeout."""
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n" + b"0123456789" * 2

    async def drip(conn: RawConn) -> None:
        await conn.read_request()
        for i in range(len(response)):
            await trio.sleep(0.1)
            await conn.send(response[i : i + 1])
        await conn.wait_closed_by_peer()

    server = await start_raw_server(drip)
    async with make_pool() as pool:
        async with trio.open_nursery() as nursery:
            job = start_background(
                nursery,
                lambda: pool.arequest(b"GET", server.url4("/"), ext={"timeout": {"read": 0.5}}),
            )
            while not job.done.is_set():
                await trio.testing.wait_all_tasks_blocked()
                mock_clock.jump(0.1)
        assert job.error is None
        status, _, stream, _ = job.result
        async with trio.open_nursery() as nursery:
            reader = start_background(nursery, lambda: read_all(stream))
            while not reader.done.is_set():
                await trio.testing.wait_all_tasks_blocked()
                mock_clock.jump(0.1)
        assert (status, reader.result) == (200, b"0123456789" * 2)
        assert trio.current_time() > 5  # it took (virtual) seconds in all
