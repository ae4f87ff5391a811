"""Misbehaving HTTP/2 servers: what fails a stream, what fails the connection, what stands.

A malformed response fails its own stream with RST_STREAM(PROTOCOL_ERROR)
(RFC 9113 section 8.1.1); connection-specific fields are dropped, not
refused (section 8.2.2); a frame that breaks the connection (section 5.4.1)
ends it with GOAWAY(PROTOCOL_ERROR) and a RemoteProtocolError naming the
violation, while responses already complete stand.
"""

from __future__ import annotations

import logging
import struct
from typing import Any

import pytest
import trio
from h2.errors import ErrorCodes

from tests.support.h2server import H2Server, H2ServerStream, raw_frame, raw_headers_frame
from tests.support.pool import TIMEOUTS, request
from trio_httpcore import RemoteProtocolError
from trio_httpcore._http2 import _h2compat

H2C = {"http1": False, "http2": True}


async def test_connection_specific_response_fields_are_dropped_and_logged(
    make_pool: Any, start_h2_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """nginx passing on an Apache CGI's ``Upgrade: h2,h2c`` over HTTP/2: curl and httpx
    fetch the page; the fields are dropped (logged at DEBUG), the response stands."""
    dropped = [
        (b"upgrade", b"h2,h2c"),
        (b"connection", b"Upgrade, Keep-Alive"),
        (b"keep-alive", b"timeout=5"),
        (b"proxy-connection", b"keep-alive"),
        (b"transfer-encoding", b"chunked"),
        (b"te", b"gzip"),
    ]

    async def handler(stream: H2ServerStream) -> None:
        await stream.read_body()
        fields = [(b":status", b"200"), (b"x-kept", b"1"), *dropped, (b"te", b"trailers")]
        await stream.conn.send_raw(raw_headers_frame(stream.stream_id, fields))

    server: H2Server = await start_h2_server(handler)
    caplog.set_level(logging.DEBUG, logger="trio_httpcore.http2")
    async with make_pool(**H2C) as pool:
        for _ in range(2):  # the second block comes from the checker's memory
            status, headers, body, _ = await request(pool, server.tcp)
            assert (status, headers, body) == (200, [(b"x-kept", b"1"), (b"te", b"trailers")], b"")
    records = [r for r in caplog.records if r.name == "trio_httpcore.http2"]
    assert len(records) == 2 and all(r.levelno == logging.DEBUG for r in records)
    names = "upgrade, connection, keep-alive, proxy-connection, transfer-encoding, te"
    assert f"({names})" in records[0].getMessage()
    assert not server.resets and len(server.connections) == 1


MALFORMED = {
    "103 with an upper-case field name (lighttpd)": [
        (b":status", b"103"),
        (b"Link", b"</style.css>; rel=preload"),
    ],
    "invalid content-length": [(b":status", b"200"), (b"content-length", b"12a")],
    "conflicting content-length": [
        (b":status", b"200"),
        (b"content-length", b"1"),
        (b"content-length", b"2"),
    ],
    "a pseudo-header after a regular field": [(b"server", b"s"), (b":status", b"200")],
}


@pytest.mark.parametrize("fields", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_response_fails_only_its_own_stream(
    make_pool: Any, start_h2_server: Any, fields: list[tuple[bytes, bytes]]
) -> None:
    """RFC 9113 section 8.1.1: a malformed response is a stream error: RST_STREAM
    (PROTOCOL_ERROR) for it, and the other requests on the connection go on."""
    if b"content-length" in dict(fields) and not _h2compat.FRAME_HOOKS:
        pytest.skip("stock h2 fails the connection for a bad content-length")
    bad_stream_reset = trio.Event()

    async def handler(stream: H2ServerStream) -> None:
        await stream.read_body()
        if stream.path == "/bad":
            await stream.conn.send_raw(raw_headers_frame(stream.stream_id, fields, end=False))
            await stream.reset_received.wait()
            bad_stream_reset.set()
        else:
            await bad_stream_reset.wait()
            await stream.respond(200, b"fine")

    server: H2Server = await start_h2_server(handler)
    async with make_pool(**H2C) as pool:
        results: dict[str, Any] = {}

        async def fetch(path: str) -> None:
            try:
                results[path] = (await request(pool, server.tcp, path))[2]
            except RemoteProtocolError as exc:
                results[path] = exc

        async with trio.open_nursery() as nursery:
            nursery.start_soon(fetch, "/good")
            nursery.start_soon(fetch, "/bad")
    assert results["/good"] == b"fine"
    assert isinstance(results["/bad"], RemoteProtocolError)
    assert "malformed" in str(results["/bad"]) and results["/bad"].__cause__ is not None
    bad = next(s for s in server.requests if s.path == "/bad")
    assert server.resets == [(0, bad.stream_id, ErrorCodes.PROTOCOL_ERROR)]
    assert len(server.connections) == 1 and not server.errors


def _ping(stream_id: int) -> bytes:
    return raw_frame(0x6, 0, stream_id, b"12345678")


VIOLATIONS = {
    "DATA on stream 0": (lambda: raw_frame(0x0, 0x1, 0, b"x"), "must be non-zero"),
    "HEADERS on stream 0": (lambda: raw_headers_frame(0, [(b":status", b"200")]), "non-zero"),
    "PING on a stream": (lambda: _ping(1), "must be zero for PingFrame"),
    "GOAWAY on a stream": (
        lambda: raw_frame(0x7, 0, 1, struct.pack(">II", 0, 0)),
        "must be zero for GoAwayFrame",
    ),
    "HEADERS on an even stream": (
        lambda: raw_headers_frame(2, [(b":status", b"200")]),
        "HEADERS on stream 2",
    ),
    "RST_STREAM on an idle stream": (
        lambda: raw_frame(0x3, 0, 99, struct.pack(">I", 8)),
        "RST_STREAM on idle stream 99",
    ),
}


@pytest.mark.parametrize(("frame", "named"), VIOLATIONS.values(), ids=VIOLATIONS.keys())
async def test_a_connection_error_fails_open_streams_and_a_complete_response_stands(
    make_pool: Any, start_h2_server: Any, frame: Any, named: str
) -> None:
    """RFC 9113 section 5.4.1: GOAWAY(PROTOCOL_ERROR), and each open request fails with a
    RemoteProtocolError naming the violation, its cause chained. A response complete in
    the same read, before the bad frame, stands (it used to fail with the connection)."""
    if "RST_STREAM" in named and not _h2compat.FRAME_HOOKS:
        pytest.skip("stock h2 ignores RST_STREAM on an idle stream")
    waiting = trio.Event()

    async def handler(stream: H2ServerStream) -> None:
        await stream.read_body()
        if stream.path == "/waits":
            waiting.set()
            return
        await waiting.wait()
        # One write: the complete response, then the violation.
        complete = raw_headers_frame(stream.stream_id, [(b":status", b"204")])
        await stream.conn.send_raw(complete + frame())

    server: H2Server = await start_h2_server(handler)
    async with make_pool(**H2C) as pool:
        results: dict[str, Any] = {}

        async def fetch(path: str) -> None:
            try:
                _, _, body, _ = await pool.arequest(b"GET", server.url4(path), ext=TIMEOUTS)
                results[path] = body
            except RemoteProtocolError as exc:
                results[path] = exc

        async with trio.open_nursery() as nursery:
            nursery.start_soon(fetch, "/waits")
            await server.wait_for(lambda: len(server.requests) == 1)
            nursery.start_soon(fetch, "/complete")
        await server.wait_for(lambda: server.connections[0].goaway_received is not None)
    failed = results["/waits"]
    assert isinstance(failed, RemoteProtocolError), failed
    assert named in str(failed) and failed.__cause__ is not None
    assert server.connections[0].goaway_received == ErrorCodes.PROTOCOL_ERROR
    if _h2compat.FRAME_HOOKS:  # stock h2 loses the events of the read that raised
        assert not isinstance(results["/complete"], Exception)
