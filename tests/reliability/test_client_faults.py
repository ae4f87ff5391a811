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
