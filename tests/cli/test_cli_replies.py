"""Replies that break off or break HTTP/1.1's framing: the same exit status and words as curl,
each against a scripted raw server, and error lines that name no Python type."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio

from tests.support.raw import RawConn, serve_raw
from tests.support.servers import Server
from trio_httpcore import RemoteProtocolError
from trio_httpcore._cli._exits import exit_status
from trio_httpcore._cli._timings import Transfer

from .helpers import both, curl_words, our_words


async def _replying(nursery: trio.Nursery, reply: bytes) -> Server:
    """A server that reads the request head, sends ``reply`` and closes."""

    async def answer(conn: RawConn) -> None:
        await conn.read_request_head()
        await conn.send(reply)

    return await serve_raw(nursery, answer)


@pytest.mark.parametrize(
    ("reply", "status", "words"),
    [
        (b"", 52, "Empty reply from server"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            18,
            "transfer closed with 7 bytes remaining to read",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            18,
            "transfer closed with outstanding read data remaining",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
            56,
            "Illegal or missing hexadecimal sequence in chunked-encoding",
        ),
    ],
    ids=["empty", "short-content-length", "short-chunk", "bad-chunk-size"],
)
async def test_broken_off_reply_as_curl(
    nursery: trio.Nursery, tmp_path: Path, reply: bytes, status: int, words: str
) -> None:
    server = await _replying(nursery, reply)
    ours, theirs = await both(tmp_path, "-sS", f"{server.url}/")
    assert (ours.status, our_words(ours)) == (status, words)
    if theirs is not None:
        assert curl_words(theirs) == words


async def test_short_body_after_a_redirect(nursery: trio.Nursery, tmp_path: Path) -> None:
    # The count is the final response's, not the redirect's.
    async def answer(conn: RawConn) -> None:
        # Both requests may come on one connection: the redirect's is kept alive.
        while head := await conn.read_request_head():
            if not head.startswith(b"GET /start "):
                await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nab")
                return
            await conn.send(
                b"HTTP/1.1 302 Found\r\nLocation: /end\r\nContent-Length: 4\r\n\r\nmove"
            )

    server = await serve_raw(nursery, answer)
    ours, theirs = await both(tmp_path, "-sSL", f"{server.url}/start")
    assert (ours.status, our_words(ours)) == (18, "transfer closed with 4 bytes remaining to read")
    if theirs is not None:
        assert curl_words(theirs) == our_words(ours)


# A Python type name, as the library's messages embed its dependencies' exceptions.
_TYPE_NAME = re.compile(r"\b[A-Za-z]*(Error|Exception)\b|bytearray\(|\bb'")


@pytest.mark.parametrize(
    ("reply", "shown"),
    [
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "illegal header line: 'no colon here'"),
    ],
)
async def test_error_line_names_no_python_type(
    nursery: trio.Nursery, tmp_path: Path, reply: bytes, shown: str
) -> None:
    server = await _replying(nursery, reply)
    ours, _ = await both(tmp_path, "-sS", f"{server.url}/")
    words = our_words(ours)
    assert ours.status == 8
    assert _TYPE_NAME.search(words) is None, words
    assert words == f"Weird server reply: reading the response from {server.url}: {shown}"


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        (
            "reading from X: RemoteProtocolError: bad: bytearray(b'a\\r\\n')",
            "reading from X: bad: 'a'",
        ),
        (
            "connecting to X: gaierror: [Errno -2] Name unknown",
            "connecting to X: [Errno -2] Name unknown",
        ),
        ("reading from X: trio.BrokenResourceError", "reading from X"),
        ("TLS error: bad record", "TLS error: bad record"),
    ],
)
def test_detail_drops_type_names_and_shows_bytes_as_text(message: str, shown: str) -> None:
    status, line = exit_status(RemoteProtocolError(message), Transfer())
    assert (status, line) == (8, f"Weird server reply: {shown}")
