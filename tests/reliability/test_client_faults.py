"""Server faults the client layer sees: bad encodings, redirects, cookies, auth challenges.

Each case is a raw server's answer to every request, and what ``AsyncClient.get``
does with it: one of the library's exceptions, or a response (the client
ignores what it cannot use, such as a malformed Set-Cookie or an unknown
charset). Nothing else escapes, and the client's pool ends quiescent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing

import trio_httpcore
from tests.support.raw import RawConn

CL0 = b"Content-Length: 0\r\n\r\n"
CASES: list[tuple[str, bytes, type[Exception] | int]] = [
    (
        "gzip-garbage",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd",
        trio_httpcore.DecodingError,
    ),
    (
        "deflate-garbage",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: 4\r\n\r\nabcd",
        trio_httpcore.DecodingError,
    ),
    (
        "stacked-garbage",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip\r\nContent-Length: 4\r\n\r\nabcd",
        trio_httpcore.DecodingError,
    ),
    (
        "redirect-loop",
        b"HTTP/1.1 302 Found\r\nLocation: /\r\n" + CL0,
        trio_httpcore.TooManyRedirects,
    ),
    (
        "redirect-empty-location",
        b"HTTP/1.1 302 Found\r\nLocation: \r\n" + CL0,
        trio_httpcore.TooManyRedirects,
    ),
    (
        "redirect-bad-port",
        b"HTTP/1.1 302 Found\r\nLocation: http://example.com:99999/\r\n" + CL0,
        trio_httpcore.RemoteProtocolError,
    ),
    (
        "redirect-control-character",
        b"HTTP/1.1 302 Found\r\nLocation: http://a\x01b/\r\n" + CL0,
        trio_httpcore.RemoteProtocolError,
    ),
    (
        "redirect-other-scheme",
        b"HTTP/1.1 302 Found\r\nLocation: ftp://example.com/\r\n" + CL0,
        trio_httpcore.UnsupportedProtocol,
    ),
    ("redirect-no-location", b"HTTP/1.1 302 Found\r\n" + CL0, 302),
    (
        "malformed-set-cookie",
        b"HTTP/1.1 200 OK\r\nSet-Cookie: =;;; Expires=x; Max-Age=abc; Domain=..\r\n" + CL0,
        200,
    ),
    (
        "unknown-charset",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=nonsense\r\nContent-Length: 2"
        b"\r\n\r\nok",
        200,
    ),
    ("latin-1-header-value", b"HTTP/1.1 200 OK\r\nX-A: \xff\xfe\r\n" + CL0, 200),
    (
        "digest-challenge-garbage",
        b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm="a", nonce="b", '
        b'algorithm=FOO, qop="xyz"\r\n' + CL0,
        401,
    ),
    (
        "digest-challenge-truncated",
        b"HTTP/1.1 401 No\r\nWWW-Authenticate: Digest realm\r\n" + CL0,
        401,
    ),
    ("status-999", b"HTTP/1.1 999 Weird\r\n" + CL0, 999),
]


@pytest.mark.parametrize(("name", "response", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_client_fault(
    start_raw_server: Callable[..., Any], name: str, response: bytes, expected: Any
) -> None:
    async def handler(conn: RawConn) -> None:
        while await conn.read_request_head():
            await conn.send(response)

    server = await start_raw_server(handler)
    auth = trio_httpcore.DigestAuth("user", "pass") if name.startswith("digest") else None
    async with trio_httpcore.AsyncClient(timeout=5, max_redirects=3, auth=auth) as client:
        if isinstance(expected, int):
            got = await client.get(server.url + "/")
            assert got.status_code == expected
            assert isinstance(got.text, str)  # decodes, whatever the charset says
            dict(got.headers)
        else:
            with pytest.raises(expected) as info:
                await client.get(server.url + "/")
            assert isinstance(info.value, trio_httpcore.HTTPError)
        # The client still works, and its pool was left clean.
        await trio.testing.wait_all_tasks_blocked()
        pool: Any = client._transport  # the client's own AsyncConnectionPool
        stats = pool.statistics()
        assert (stats.connecting, stats.active, stats.waiting) == (0, 0, 0), stats


async def test_a_head_dripped_byte_by_byte_is_cut_off_by_the_head_timeout(
    start_raw_server: Callable[..., Any], autojump_clock: trio.testing.MockClock
) -> None:
    """A server sends its head one byte every 50 ms (issue 19). Each byte comes well
    within the 5 s read timeout, so only ``Timeout(head=...)`` ends the wait: at 1 s of
    (virtual) time, with ReadTimeout. Off by default: without it the same head arrives."""
    head = b"HTTP/1.1 200 OK\r\nX-Drip: " + b"x" * 100 + b"\r\nContent-Length: 2\r\n\r\nok"

    async def drip(conn: RawConn) -> None:
        await conn.read_request()
        for i in range(len(head)):
            with trio.move_on_after(0.05) as waited:
                await conn.wait_closed_by_peer()
            if not waited.cancelled_caught:
                return
            await conn.send(head[i : i + 1])
        await conn.wait_closed_by_peer()

    server = await start_raw_server(drip)
    async with trio_httpcore.AsyncClient(timeout=trio_httpcore.Timeout(5.0, head=1.0)) as client:
        started = trio.current_time()
        with pytest.raises(trio_httpcore.ReadTimeout, match="head timeout") as info:
            await client.get(server.url + "/")
        assert trio.current_time() - started == pytest.approx(1.0, abs=0.1)
        assert isinstance(info.value.__cause__, trio.TooSlowError)
    async with trio_httpcore.AsyncClient(timeout=5.0) as client:
        response = await client.get(server.url + "/")
        assert response.text == "ok"
        assert trio.current_time() - started > 6  # the whole head took its 7 s
