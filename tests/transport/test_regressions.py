"""Regressions found by these tests: dead idle connections, large heads, bad hosts and ports."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
from typing import Any

import pytest
import trio
import trio.testing

import trio_httpcore
from tests.support.pool import PoolFactory, read_all
from tests.support.raw import RawConn


async def test_httpx_2983_connection_closed_right_after_its_response_is_not_reused(
    make_pool: PoolFactory,
) -> None:
    """The server closes each connection as soon as its response is sent (no
    ``Connection: close``), and its FIN is already in our socket when the next
    request comes, but the idle watcher task has not run (no checkpoint since the
    response ended). The pool must not hand out that connection: one non-blocking
    look at the one socket it is about to reuse is enough (row 22 forbids polling
    *every* idle socket, not this).

    The server is a thread with blocking sockets, so its close happens whatever
    trio's scheduler does; the test waits for it synchronously (no checkpoint).
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    closed: queue.Queue[int] = queue.Queue()
    rounds = 20

    def serve() -> None:
        for i in range(rounds):
            try:
                conn, _ = listener.accept()
            except OSError:  # shut down by the test
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            closed.put(i)  # our end is closed: the FIN is on its way (loopback: there)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    failures: list[Exception] = []
    try:
        async with make_pool() as pool:
            for _ in range(rounds):
                try:
                    _, _, stream, _ = await pool.arequest(
                        b"GET", (b"http", b"127.0.0.1", port, b"/"), ext={"timeout": {"read": 5}}
                    )
                    assert await read_all(stream) == b"hello"
                except trio_httpcore.TransportError as exc:
                    failures.append(exc)  # (that connection was already gone)
                    continue
                closed.get(timeout=5)  # blocking on purpose: no trio checkpoint
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept()
        listener.close()
        thread.join(timeout=5)
    assert failures == []


async def test_large_response_head_within_100_kib_is_accepted(
    make_pool: PoolFactory, start_raw_server: Any
) -> None:
    """httpcore accepts response heads up to 100 KiB (``MAX_INCOMPLETE_EVENT_SIZE``);
    h11's own default is 16 KiB. Big Set-Cookie/CSP heads of 20-60 KiB are real, and
    arrive in pieces: the client holds 40 kB of an incomplete head at one point."""
    cookies = b"".join(b"Set-Cookie: c%d=%s\r\n" % (i, b"v" * 1000) for i in range(60))

    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        head = b"HTTP/1.1 200 OK\r\n" + cookies + b"Content-Length: 2\r\n\r\nok"
        await conn.send(head[:40_000])
        await trio.testing.wait_all_tasks_blocked()  # the client holds an incomplete head
        await conn.send(head[40_000:])
        await conn.wait_closed_by_peer()

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        status, headers, stream, _ = await pool.arequest(b"GET", server.url4("/"))
        assert (status, await read_all(stream)) == (200, b"ok")
    assert len(headers) == 61


@pytest.mark.parametrize(
    "host",
    [
        b"a" * 64 + b".invalid",  # a label over 63 octets: idna refuses it
        b"a..b.invalid",  # an empty label
        b"exa\xffmple.invalid",  # not ASCII
        "b\u00fccher.invalid".encode(),  # UTF-8, not IDNA-encoded
    ],
)
async def test_bad_host_is_local_protocol_error(make_pool: PoolFactory, host: bytes) -> None:
    """Hostile input (issue 11): refused with LocalProtocolError before anything is
    looked up or sent; today UnicodeError / UnicodeDecodeError escape the hierarchy."""
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.LocalProtocolError):
            await pool.arequest(b"GET", (b"http", host, 80, b"/"))


@pytest.mark.parametrize("port", [-1, 0, 65536, 10**10])
async def test_bad_port_is_local_protocol_error(make_pool: PoolFactory, port: int) -> None:
    """Hostile input (issue 11): a port outside 1-65535 is refused before any connect
    (today: ConnectError after a connect attempt)."""
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.LocalProtocolError):
            await pool.arequest(b"GET", (b"http", b"127.0.0.1", port, b"/"))
