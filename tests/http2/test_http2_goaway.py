"""HTTP/2 regressions the reliability suite found (fixed in 180578c and 51d2a41).

* A graceful GOAWAY: the streams at or below its last-stream-id may finish
  (RFC 9113 section 6.8), and did not; under nginx and Hypercorn, which send
  one every 1,000 requests, in-flight requests failed.
* GOAWAY and HEADERS in one read: h2 raised on the HEADERS, the GOAWAY was never
  acted on, and the streams above the last-stream-id failed instead of being
  replayed.
* A connection whose server never sent SETTINGS stayed in the pool after a read
  timeout, and every later request to the origin waited on it.
"""

from __future__ import annotations

import struct

import pytest
import trio
import trio.testing
from h2.errors import ErrorCodes

import trio_httpcore
from tests.support.h2server import H2ServerStream, serve_h2
from tests.support.pool import read_all
from tests.support.raw import RawConn, serve_raw


def _goaway_frame(last_stream_id: int, code: int = 0) -> bytes:
    payload = struct.pack(">II", last_stream_id, code)
    return struct.pack(">I", len(payload))[1:] + bytes([0x7, 0]) + struct.pack(">I", 0) + payload


async def test_graceful_goaway_lets_streams_below_last_stream_id_finish(
    nursery: trio.Nursery,
) -> None:
    """RFC 9113 section 6.8: after GOAWAY(NO_ERROR, last stream N) the server may (and
    nginx and Hypercorn do) still answer the streams up to N. Both requests succeed.
    (They used to fail: h2's state machine is CLOSED once it received a GOAWAY and raised
    on the HEADERS that followed, and the client failed every open stream.)"""
    both = trio.Event()
    streams: list[H2ServerStream] = []

    async def handler(stream: H2ServerStream) -> None:
        await stream.read_body()
        streams.append(stream)
        if len(streams) == 2:
            both.set()
            await stream.conn.send_raw(_goaway_frame(max(s.stream_id for s in streams)))
        await both.wait()
        await stream.respond(200, b"hello")

    server = await serve_h2(nursery, handler)
    results: list[object] = []
    async with trio_httpcore.AsyncConnectionPool(http1=False, http2=True) as pool:

        async def one() -> None:
            try:
                _, _, stream, _ = await pool.arequest(b"GET", server.url4("/"))
                results.append(await read_all(stream))
            except trio_httpcore.HTTPError as exc:
                results.append(exc)

        async with trio.open_nursery() as inner:
            inner.start_soon(one)
            inner.start_soon(one)
    assert results == [b"hello", b"hello"]


# -- A connection whose server never sent SETTINGS


async def test_http2_connection_without_server_preface_is_not_reused(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """The server reads the client's preface and never answers (no SETTINGS, RFC 9113
    section 3.4). Each request times out, and the connection is closed: the next
    request opens a fresh one. (It used to stay in the pool as idle, so every later
    request to the origin waited on it for SETTINGS and timed out.)"""

    async def silent(conn: RawConn) -> None:
        await conn.receive_some()
        await conn.wait_closed_by_peer()

    server = await serve_raw(nursery, silent)
    async with trio_httpcore.AsyncConnectionPool(http1=False, http2=True) as pool:
        for _ in range(2):
            with pytest.raises(trio_httpcore.ReadTimeout):
                await pool.arequest(b"GET", server.url4("/"), ext={"timeout": {"read": 1}})
        assert server.counter.total == 2


async def test_goaway_then_headers_in_one_read_replays_the_streams_above_last_stream_id(
    nursery: trio.Nursery,
) -> None:
    """The server answers stream 1 right after GOAWAY(NO_ERROR, last stream 1), both in
    one write, while 10 more requests are in flight on the connection. Stream 1
    finishes, and the 10 streams above the last-stream-id, which the server did not
    process, are replayed on a new connection (FIELD-LESSONS row 11). (h2 used to raise
    on the HEADERS after the GOAWAY, the GOAWAY was never acted on, and the 10 failed
    with RemoteProtocolError; under nginx load, requests starting in that window also
    failed with LocalProtocolError "Invalid input SEND_HEADERS in state CLOSED".)"""
    held = trio.Event()
    all_in = trio.Event()  # the 10 other streams reached the first connection
    first_connection: list[H2ServerStream] = []

    async def handler(stream: H2ServerStream) -> None:
        await stream.read_body()
        conn = stream.conn
        if stream.path == "/hold":
            held.set()
            await all_in.wait()
            conn.h2.send_headers(stream.stream_id, [(b":status", b"200")], end_stream=True)
            frames = conn.h2.data_to_send()
            await conn.send_raw(_goaway_frame(stream.stream_id) + frames)
            await conn.closed.wait()
        elif conn.index == 0:
            # Not processed: GOAWAY(last stream 1) will say so.
            first_connection.append(stream)
            if len(first_connection) == 10:
                all_in.set()
            await conn.closed.wait()
        else:
            await stream.respond(200, b"hello")

    server = await serve_h2(nursery, handler)
    errors: list[str] = []
    held_result: list[object] = []
    async with trio_httpcore.AsyncConnectionPool(http1=False, http2=True) as pool:

        async def hold() -> None:
            try:
                status, _, stream, _ = await pool.arequest(b"GET", server.url4("/hold"))
                held_result.append((status, await read_all(stream)))
            except trio_httpcore.HTTPError as exc:
                held_result.append(exc)

        async def hammer() -> None:
            await held.wait()
            for _ in range(5):
                try:
                    _, _, stream, _ = await pool.arequest(b"GET", server.url4("/"))
                    assert await read_all(stream) == b"hello"
                except trio_httpcore.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")

        with trio.fail_after(10):
            async with trio.open_nursery() as inner:
                inner.start_soon(hold)
                for _ in range(10):
                    inner.start_soon(hammer)
    assert len(server.connections) == 2
    assert held_result == [(200, b"")]
    kinds = sorted({e.split(":")[0] for e in errors})
    assert errors == [], (len(errors), kinds, sorted(set(errors))[:3])


async def test_goaway_after_every_10_streams_with_50_requests_in_flight(
    nursery: trio.Nursery,
) -> None:
    """A server that sends GOAWAY after every 10 streams (node's ``session.goaway``), with
    50 requests in flight: each connection answers 10 and refuses the streams above, which
    are replayed on the next. All 50 succeed. (The last 10, refused 4 times, used to fail
    with "refused the request 4 times": a refusal counted against the replay budget even
    when the connection it came from answered other requests, that is, made progress.)"""

    async def handler(stream: H2ServerStream) -> None:
        await stream.read_body()
        conn = stream.conn
        position = conn.stream_ids.index(stream.stream_id)
        if position >= 10:
            return  # above the GOAWAY's last stream: not processed
        if position == 9:
            await conn.goaway(stream.stream_id)
        await stream.respond(200, b"hello")

    server = await serve_h2(nursery, handler)
    results: list[object] = []
    async with trio_httpcore.AsyncConnectionPool(http1=False, http2=True) as pool:

        async def one() -> None:
            try:
                _, _, stream, _ = await pool.arequest(b"GET", server.url4("/"))
                results.append(await read_all(stream))
            except trio_httpcore.HTTPError as exc:
                results.append(exc)

        async with trio.open_nursery() as inner:
            for _ in range(50):
                inner.start_soon(one)
    assert results == [b"hello"] * 50
    assert len(server.connections) >= 5  # each answered at most 10


async def test_refused_stream_is_bounded_even_on_a_connection_that_answers_others(
    nursery: trio.Nursery,
) -> None:
    """A server that refuses one request every time (REFUSED_STREAM) while answering
    the others on the same connection: the refused request is sent 4 times, then fails.
    Progress by others does not exempt it (only a GOAWAY ending a connection that
    answered requests does), so the replays end."""

    async def handler(stream: H2ServerStream) -> None:
        await stream.read_body()
        if stream.path == "/refused":
            await stream.reset(ErrorCodes.REFUSED_STREAM)
        else:
            await stream.respond(200, b"hello")

    server = await serve_h2(nursery, handler)
    async with trio_httpcore.AsyncConnectionPool(http1=False, http2=True) as pool:
        _, _, stream, _ = await pool.arequest(b"GET", server.url4("/"))
        assert await read_all(stream) == b"hello"
        with pytest.raises(trio_httpcore.RemoteProtocolError, match="refused the request 4 times"):
            await pool.arequest(b"GET", server.url4("/refused"))
    assert [s.path for s in server.requests] == ["/", *["/refused"] * 4]
    assert len(server.connections) == 1
