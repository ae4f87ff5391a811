"""HTTP/1.1: bytes after a complete response never become the next request's response."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import trio_httpcore
from tests.support.pool import read_all
from tests.support.raw import RawConn


async def _serve_then_real(conn: RawConn, first: bytes, served: list[bool]) -> None:
    """The first request of all gets ``first``; every other one, on any connection, "real"."""
    while await conn.read_request_head():
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal" if served else first
        served.append(True)
        await conn.send(answer)


@pytest.mark.parametrize(
    ("method", "first"),
    [
        # A body on a HEAD response (servers do send one): h11 takes the head, and the
        # body stays in its buffer.
        pytest.param(b"HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", id="head-body"),
        # 204 with a body, the same.
        pytest.param(b"GET", b"HTTP/1.1 204 No Content\r\n\r\nhello", id="204-body"),
        # A second, unsolicited response right behind the first.
        pytest.param(
            b"GET",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
            b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ninjected",
            id="unsolicited-response",
        ),
    ],
)
async def test_bytes_after_a_complete_response_are_not_the_next_response(
    start_raw_server: Callable[..., Any], method: bytes, first: bytes
) -> None:
    """Bytes that arrive with a response but after its end (a body on a HEAD or 204
    response, an unsolicited response) stay in h11's buffer, ``_response_complete``
    (``_http11.py``) calls ``start_next_cycle()`` and keeps the connection, and the
    next request on it reads them as its response: a RemoteProtocolError ("illegal
    status line: b'helloHTTP/1.1 ...'") for an innocent GET, or, worse, the injected
    response. curl closes such a connection ("Excess found"); the next request must
    get the server's real answer."""
    served: list[bool] = []
    server = await start_raw_server(lambda conn: _serve_then_real(conn, first, served))
    async with trio_httpcore.AsyncConnectionPool(max_connections=1) as pool:
        _, _, stream, _ = await pool.arequest(method, server.url4("/first"))
        await read_all(stream)
        status, _, stream, _ = await pool.arequest(b"GET", server.url4("/second"))
        assert (status, await read_all(stream)) == (200, b"real")
