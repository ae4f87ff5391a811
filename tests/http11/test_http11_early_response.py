"""HTTP/1.1: a response the server sends before the end of the request body is returned."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trio

import trio_httpcore
from tests.support.pool import read_all
from tests.support.raw import RawConn
from tests.support.servers import pattern

EARLY = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig"


@pytest.mark.parametrize("how", ["close", "reset"])
async def test_early_response_during_upload_is_returned_not_a_write_error(
    start_raw_server: Callable[..., Any], how: str
) -> None:
    """The server reads the head of a 20 MB upload, answers 413 with ``Connection:
    close`` and closes (or resets) the connection. The response is in the client's
    receive buffer when its next write fails (ECONNRESET / EPIPE). RFC 9112 section 9.5
    (a client SHOULD monitor for an error response while sending the body) and httpcore
    (``except WriteError: pass`` and read the response) give the caller the 413."""

    async def handler(conn: RawConn) -> None:
        await conn.read_request_head()
        await conn.send(EARLY)
        if how == "reset":
            conn.reset()

    server = await start_raw_server(handler)
    async with trio_httpcore.AsyncConnectionPool() as pool:
        status, _, stream, _ = await pool.arequest(
            b"POST",
            server.url4("/upload"),
            headers=[(b"Content-Length", b"20000000")],
            stream=trio_httpcore.PlainByteStream(b"x" * 20_000_000),
            ext={"timeout": {"connect": 5, "read": 5, "write": 5, "pool": 5}},
        )
        assert (status, await read_all(stream)) == (413, b"big")


ECHO_SIZE = 8 * 1024 * 1024


async def _echo_as_it_reads(conn: RawConn) -> None:
    """Answer at once, then echo the body back piece by piece as it is read (node's
    ``req.pipe(res)``): the server reads more only once its echo of the last piece is sent."""
    head = await conn.read_request_head()
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % length)
    echoed = 0
    while echoed < length:
        data = await conn.receive_some()
        if not data:
            return
        await conn.send(data)
        echoed += len(data)


@pytest.mark.parametrize("body", ["bytes", "chunks"])
async def test_server_echoing_while_it_reads_does_not_deadlock_the_upload(
    start_raw_server: Callable[..., Any], body: str
) -> None:
    """An 8 MiB upload to a server that streams its answer while still reading the body
    (issue 19): the client keeps reading while it sends, so the server's sends never block
    and neither side's buffers fill. Without that both sides block in send once the
    kernel's buffers are full, until the write timeout. The write timeout bounds the test
    (a deadlock fails it); the echo itself takes milliseconds."""
    server = await start_raw_server(_echo_as_it_reads)
    payload = pattern(ECHO_SIZE)
    stream: trio_httpcore.AsyncByteStream = (
        trio_httpcore.PlainByteStream(payload)
        if body == "bytes"
        else trio_httpcore.AsyncIteratorByteStream(
            payload[i : i + 65536] async for i in _offsets(ECHO_SIZE, 65536)
        )
    )
    async with trio_httpcore.AsyncConnectionPool() as pool:
        status, _, response, _ = await pool.arequest(
            b"POST",
            server.url4("/echo"),
            headers=[(b"Content-Length", b"%d" % ECHO_SIZE)],
            stream=stream,
            ext={"timeout": {"connect": 5, "read": 5, "write": 5, "pool": 5}},
        )
        assert status == 200
        assert await read_all(response) == payload
        # Both messages were complete: the connection is kept.
        assert pool.statistics().idle == 1


async def _offsets(total: int, step: int) -> AsyncIterator[int]:
    for offset in range(0, total, step):
        await trio.lowlevel.checkpoint()
        yield offset
