"""HTTP/1.1: a response the server sends before the end of the request body is returned."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import trio_httpcore
from tests.support.pool import read_all
from tests.support.raw import RawConn

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
