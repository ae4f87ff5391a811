"""Hypothesis over the models a caller feeds in (URL, Headers) and the bytes a server sends.

* URL parsing: any string either parses or raises :class:`InvalidURL`; a parsed
  URL's properties all work, it prints to a string that parses back to the
  same URL, and joining any reference to it parses or raises InvalidURL.
* Headers: any pairs of names and values (str or bytes) build a Headers whose
  operations agree with a plain list model; nothing but library errors escape.
* The HTTP/1.1 client against a server sending random bytes, or a valid
  response mutated (bytes flipped, inserted, deleted) and cut at random chunk
  boundaries, as the answer to the first or the second request on a
  keep-alive connection: only library exceptions escape, the pool ends with
  nothing connecting, active or waiting, and no socket is left open.
"""

from __future__ import annotations

import itertools
import socket
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import trio_httpcore
from tests.support.leaks import socket_fds
from tests.support.pool import assert_quiescent, read_all
from tests.support.raw import RawConn, serve_raw

FAST = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SLOW = settings(FAST, max_examples=40)

# -- URLs

URL_ALPHABET = st.characters(codec="utf-8") | st.sampled_from(
    [*":/?#[]@!$&'()*+,;=%-._~\\ \t\r\n\x00\x7f", "xn--", "%00", "%2F", "%zz", "::", "[::1]"]
)
URL_TEXT = st.lists(URL_ALPHABET, max_size=40).map("".join)
SCHEMES = st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "", "http:", "//"])
AUTHORITY = st.one_of(
    URL_TEXT,
    st.builds(
        "{}{}{}".format,
        st.sampled_from(["", "user@", "u:p@", "a@b@", "x\\@"]),
        st.sampled_from(["example.org", "127.0.0.1", "[::1]", "B\u00fccher.example", "xn--a"])
        | URL_TEXT,
        st.sampled_from(["", ":80", ":443", ":0", ":65535", ":65536", ":", ":x"]),
    ),
)
URLS = st.builds("{}{}{}".format, SCHEMES, AUTHORITY, URL_TEXT) | URL_TEXT


def _exercise(url: trio_httpcore.URL) -> None:
    for name in (
        "scheme",
        "userinfo",
        "username",
        "password",
        "host",
        "raw_host",
        "port",
        "authority",
        "path",
        "query",
        "fragment",
        "full_path",
        "is_ssl",
        "is_absolute_url",
        "is_relative_url",
    ):
        getattr(url, name)
    str(url)
    repr(url)
    hash(url)


@FAST
@given(text=URLS)
@example("http://a@b@c/")
@example("http://[::1/")
@example("http://example.org:65536/")
@example("http://xn--/")
def test_url_parses_or_raises_invalid_url(text: str) -> None:
    try:
        url = trio_httpcore.URL(text)
    except trio_httpcore.InvalidURL:
        return
    _exercise(url)
    again = trio_httpcore.URL(str(url))  # what it prints parses back, to the same URL
    assert again == url, (text, str(url), str(again))
    assert str(again) == str(url)
    if url.is_absolute_url and url.scheme in ("http", "https"):
        raw = url.raw
        assert raw[0] in (b"http", b"https")
        assert raw[3].startswith(b"/") or raw[3] == b"*"
        trio_httpcore.Origin(url)


@FAST
@given(base=URLS, reference=URL_TEXT)
def test_url_join_parses_or_raises_invalid_url(base: str, reference: str) -> None:
    try:
        url = trio_httpcore.URL(base)
    except trio_httpcore.InvalidURL:
        return
    if not url.is_absolute_url:
        return
    try:
        joined = url.join(reference)
    except trio_httpcore.InvalidURL:
        return
    _exercise(joined)


# -- Headers

FIELD = st.text(max_size=12) | st.binary(max_size=12)


@FAST
@given(pairs=st.lists(st.tuples(FIELD, FIELD), max_size=8), probe=FIELD)
def test_headers_agree_with_a_list_model(pairs: list[tuple[Any, Any]], probe: Any) -> None:
    def b(value: Any) -> bytes:
        return value.encode("utf-8") if isinstance(value, str) else value

    try:
        headers = trio_httpcore.Headers(pairs)
    except trio_httpcore.HTTPError:
        return
    model = [(b(k), b(v)) for k, v in pairs]
    assert headers.raw == model
    assert len(list(headers.multi_items())) == len(model)
    key = b(probe).lower()
    wanted = [v for k, v in model if k.lower() == key]
    try:
        got = headers.get_list(probe)
    except trio_httpcore.HTTPError:
        return
    assert len(got) == len(wanted)
    assert (probe in headers) == bool(wanted)
    copy = trio_httpcore.Headers(headers)
    assert copy == headers
    repr(headers)
    headers["x-fuzz"] = "1"
    assert headers.get_list("X-Fuzz")[-1] == "1"
    del headers["x-fuzz"]
    assert "x-fuzz" not in headers


# -- What a server sends to the HTTP/1.1 client

VALID = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.0 200 OK\r\n\r\nclose-delimited",
    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from([b"\r\n", b"\n", b" ", b":", b"\x00", b"0", b"-1"]))
        elif data:
            del data[at]
    return bytes(data)


RESPONSES = mutated() | st.binary(max_size=200)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


async def _exchange(first: bytes | None, pieces: list[bytes]) -> None:
    """One connection: ``first`` (a valid response) to request 1, if given, then
    ``pieces`` to the next request; the server closes after that."""

    async def handler(conn: RawConn) -> None:
        conn.stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if first is not None:
            await conn.read_request()
            await conn.send(first)
        await conn.read_request()
        for piece in pieces:
            await conn.send(piece)
            await trio.lowlevel.checkpoint()

    ext = {"timeout": {"connect": 5, "read": 5, "write": 5, "pool": 5}}
    async with trio.open_nursery() as nursery:
        server = await serve_raw(nursery, handler)
        async with trio_httpcore.AsyncConnectionPool(max_connections=1) as pool:
            for _ in range(1 if first is None else 2):
                try:
                    _, _, stream, resp_ext = await pool.arequest(b"GET", server.url4("/"), ext=ext)
                    if "network_stream" in resp_ext:  # a mutated status became 101
                        await resp_ext["network_stream"].aclose()
                    await read_all(stream)
                except trio_httpcore.HTTPError:
                    pass
                await trio.testing.wait_all_tasks_blocked()
                assert_quiescent(pool)
        server.stop.set()


def _run(first: bytes | None, pieces: list[bytes]) -> None:
    before = set(socket_fds())
    trio.run(_exchange, first, pieces)  # anything but an HTTPError escapes and fails
    assert set(socket_fds()) <= before


@pytest.mark.timeout(180)  # a long test: see pyproject's timeout
@SLOW
@given(data=RESPONSES, cuts=st.lists(st.integers(0, 400), max_size=6), second=st.booleans())
def test_server_bytes_raise_only_library_errors(data: bytes, cuts: list[int], second: bool) -> None:
    first = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" if second else None
    _run(first, _split(data, cuts))
