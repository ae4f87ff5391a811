"""The fast body path gives the bytes, and leaves the connection, exactly as h11 alone did.

Each framing h11 chooses (Content-Length, chunked, until the close, and the
bodiless HEAD, 204 and 304) is served by a scripted trio server in pieces cut
at chosen points, each piece sent only once the client has read all before it
(so every cut is a read boundary). Three readers must agree byte for byte: the
body read past h11 into reused buffers with ``recv_into``, the same through
``receive_some``, and the old path (everything through h11). After the
response the same connection must carry a second request exactly when the old
path's would.
"""

from __future__ import annotations

import itertools
import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

import trio_httpcore
from tests.support.leaks import socket_fds
from tests.support.pool import assert_empty, assert_quiescent, read_all
from tests.support.raw import RawConn, serve_raw
from tests.support.tls import TLSMaterial
from trio_httpcore._http11 import _body, _connection, _h11compat

SECOND = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond"
TIMEOUTS = {"timeout": {"connect": 30, "read": 30, "write": 30, "pool": 30}}


@dataclass(frozen=True)
class Framed:
    """One response as it goes on the wire, and what the client should make of it."""

    method: bytes
    wire: bytes
    body: bytes
    closes: bool  # the server closes after it (close-delimited)


def body_bytes(size: int, seed: int) -> bytes:
    """Bytes with no period, so a piece out of place cannot go unnoticed."""
    return random.Random(seed).randbytes(size)


def content_length(body: bytes) -> Framed:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
    return Framed(b"GET", head + body, body, False)


def chunked(body: bytes, sizes: list[int], trailer: bool) -> Framed:
    wire = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"]
    rest = body
    for size in itertools.cycle(sizes or [len(body) or 1]):
        if not rest:
            break
        chunk, rest = rest[:size], rest[size:]
        wire.append(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    wire.append(b"0\r\nX-Trailer: yes\r\n\r\n" if trailer else b"0\r\n\r\n")
    return Framed(b"GET", b"".join(wire), body, False)


def close_delimited(body: bytes) -> Framed:
    return Framed(b"GET", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body, body, True)


BODILESS = [
    Framed(b"HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", b"", False),
    Framed(b"GET", b"HTTP/1.1 204 No Content\r\n\r\n", b"", False),
    Framed(b"GET", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", b"", False),
]


@contextmanager
def reader(kind: str) -> Iterator[None]:
    """Read bodies the ``kind`` way: "recv_into", "receive_some" or "h11" (the old path)."""
    with pytest.MonkeyPatch.context() as patch:
        if kind == "receive_some":
            patch.setattr(_connection, "receive_into", _no_receive_into)
        elif kind == "h11":
            patch.setattr(_h11compat, "H11_BODY_BYPASS", False)
            patch.setattr(_body, "take_held_body", _h11compat._no_held_body)
        yield


def _no_receive_into(stream: object) -> None:
    """What ``receive_into`` says of a stream it can't read into: use ``receive_some``."""
    return None


READERS = ["recv_into", "receive_some", "h11"]


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


async def exchange(
    framed: Framed, pieces: list[bytes], tls: TLSMaterial | None = None
) -> tuple[Any, ...]:
    """Serve ``pieces`` as one response, then SECOND on the same connection if it is reused.

    Over TLS with ``tls`` (each piece then goes in its own records). Returns
    the status, the body, and the number of connections the two requests took.
    """

    async def handler(conn: RawConn) -> None:
        conn.stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            stream = trio.SSLStream(conn.stream, tls.server_context(), server_side=True)
            conn = RawConn(stream, conn.counted)  # type: ignore[arg-type]
        await conn.read_request_head()
        if conn.index > 0:  # the second request, on a new connection
            await conn.send(SECOND)
            await conn.wait_closed_by_peer()
            return
        for piece in pieces:
            await conn.send(piece)
            # Loopback delivers within the send: once every task is blocked,
            # the client has read this piece and waits for the next.
            await trio.testing.wait_all_tasks_blocked()
        if framed.closes:
            return
        if await conn.read_request_head():
            await conn.send(SECOND)
            await conn.wait_closed_by_peer()

    async with trio.open_nursery() as nursery:
        server = await serve_raw(nursery, handler)
        url = (b"https", b"127.0.0.1", server.port, b"/") if tls else server.url4("/")
        context = None if tls is None else tls.client_context()
        async with trio_httpcore.AsyncConnectionPool(ssl_context=context) as pool:
            status, _, stream, _ = await pool.arequest(framed.method, url, ext=TIMEOUTS)
            body = await read_all(stream)
            _, _, stream, _ = await pool.arequest(b"GET", url, ext=TIMEOUTS)
            assert await read_all(stream) == b"second"
            connections = len(server.connections)
            await trio.testing.wait_all_tasks_blocked()
            assert_quiescent(pool)
        assert_empty(pool)
        server.stop.set()
    return status, body, connections


async def all_readers(framed: Framed, pieces: list[bytes]) -> None:
    """Every reader gives the expected body, and they agree on all the rest."""
    outcomes = []
    for kind in READERS:
        with reader(kind):
            outcomes.append(await exchange(framed, pieces))
    assert outcomes[0][1] == framed.body
    assert outcomes[0] == outcomes[1] == outcomes[2], [o[::2] for o in outcomes]
    assert outcomes[0][2] == (2 if framed.closes else 1)


def test_the_bypass_is_in_use() -> None:
    """The h11 in use has the readers the bypass expects (else every test here is moot)."""
    assert _h11compat.H11_BODY_BYPASS
    assert _h11compat.H11_HELD_BODY


SMALL = body_bytes(12, 1)
EVERY_CUT_CASES = [
    content_length(SMALL),
    chunked(SMALL, [5, 1, 6], trailer=True),
    close_delimited(SMALL),
    *BODILESS,
]


@pytest.mark.parametrize(
    "framed", EVERY_CUT_CASES, ids=["length", "chunked", "close", "head", "204", "304"]
)
async def test_every_single_cut(framed: Framed) -> None:
    """A response cut in two at each byte boundary in turn."""
    for at in range(1, len(framed.wire)):
        await all_readers(framed, [framed.wire[:at], framed.wire[at:]])


def framings() -> st.SearchStrategy[Framed]:
    sizes = st.one_of(
        st.integers(0, 2000), st.sampled_from([65535, 65536, 262143, 262144, 262145, 600_000])
    )
    bodies = st.builds(body_bytes, sizes, st.integers(0, 2**32))
    return st.one_of(
        st.builds(content_length, bodies),
        st.builds(
            chunked,
            bodies,
            st.lists(st.integers(1, 300_000), min_size=1, max_size=4),
            st.booleans(),
        ),
        st.builds(close_delimited, bodies),
        st.sampled_from(BODILESS),
    )


@settings(max_examples=60, deadline=None, database=None)
@given(framings(), st.lists(st.integers(0, 2**31), max_size=12))
def test_any_cuts(framed: Framed, cuts: list[int]) -> None:
    """Bodies of every framing and size (around the buffer's), cut at chosen points."""
    before = set(socket_fds())
    trio.run(all_readers, framed, cut(framed.wire, cuts))
    assert set(socket_fds()) <= before


async def test_excess_after_the_body_closes_the_connection_on_every_path() -> None:
    """Bytes past a Content-Length body, in the read that ends it, are not the next response."""
    body = body_bytes(300_000, 7)
    framed = content_length(body)
    for kind in READERS:
        with reader(kind):
            _, got, connections = await exchange(framed, [framed.wire + b"HTTP/1.1 200 OK"])
        assert (got, connections) == (body, 2)
