"""Fault injection: servers that misbehave on purpose, and what the client makes of it.

:data:`FAULTS` is the fault table of ``docs/reliability.rst`` (a test below
checks that the page shows exactly this table; ``python -m
tests.reliability.test_faults`` prints it). For each fault the test checks:

* the request gets the fault's exception, one of the library's, with
  ``__cause__`` set and the origin (``127.0.0.1:<port>``) in the message
  (or it succeeds, where the fault is one the client must absorb);
* the pool is left with nothing connecting, active or waiting, and the broken
  connection is not kept idle;
* no socket is left open: the process holds the same socket fds as before;
* the pool is still usable: the next request, to a healthy server, succeeds.

Time is a :class:`trio.testing.MockClock` that the test moves forward only
when every task is blocked, so stalls and timeouts take no real time.
"""

from __future__ import annotations

import contextlib
import struct
import sys
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import trio
import trio.testing
from h2.errors import ErrorCodes

import trio_httpcore
from tests.support.h2server import H2ServerStream, serve_h2
from tests.support.leaks import socket_fds
from tests.support.pool import PoolFactory, assert_quiescent, read_all
from tests.support.raw import RawConn, serve_raw
from tests.support.servers import Server, pattern
from tests.support.tls import TLSMaterial
from trio_httpcore._http11._connection import MAX_RESPONSE_HEAD_SIZE as HEAD_LIMIT

ORIGIN_TIMEOUTS: dict[str, Any] = {"timeout": {"connect": 5, "read": 5, "write": 5, "pool": 5}}

RESET = (trio_httpcore.ReadError, trio_httpcore.RemoteProtocolError)
"""A reset reaches the client as a socket error (ReadError) or, when the RST is
processed after the FIN-like EOF, as an early end (RemoteProtocolError)."""


# -- HTTP/1.1 over a raw TCP server


async def _reset_mid_headers(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Le")
    conn.reset()


async def _reset_mid_body(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + pattern(5000))
    conn.reset()


async def _close_after_headers(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")


async def _stall_forever(conn: RawConn) -> None:
    await conn.read_request()
    await conn.wait_closed_by_peer()


async def _stall_mid_body(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
    await conn.wait_closed_by_peer()


DRIP = b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n" + b"0123456789" * 2


async def _slow_drip(conn: RawConn) -> None:
    await conn.read_request()
    for i in range(len(DRIP)):
        await trio.sleep(0.1)
        await conn.send(DRIP[i : i + 1])
    await conn.wait_closed_by_peer()


async def _oversized_headers(conn: RawConn) -> None:
    await conn.read_request()
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await conn.send(b"HTTP/1.1 200 OK\r\n")
        for i in range(10_000):  # 10 MB of header lines, unless the client gives up first
            await conn.send(b"X-Filler-%06d: %s\r\n" % (i, b"x" * 1000))


async def _length_longer_than_body(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")


async def _close_delimited(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\n\r\nhello")  # no length: the body ends with the FIN


async def _chunked_garbage(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nXYZ\r\n")
    await conn.wait_closed_by_peer()


async def _chunked_bad_terminator(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n")
    await conn.wait_closed_by_peer()


async def _endless_status_line(conn: RawConn) -> None:
    await conn.read_request()
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await conn.send(b"HTTP/1.1 200 ")
        for _ in range(10_000):  # 10 MB, unless the client gives up first
            await conn.send(b"x" * 1000)


async def _chunked_truncated(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nshort")


async def _binary_noise(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(bytes(range(256)) * 4)


async def _interim_then_close(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")


async def _no_content_then_close(conn: RawConn) -> None:
    await conn.read_request()
    await conn.send(b"HTTP/1.1 204 No Content\r\n\r\n")


async def _head_drip(conn: RawConn) -> None:
    """One byte of the response head every 50 ms: each read comes well within the read
    timeout, the whole head (20 s) never within a head timeout."""
    await conn.read_request()
    head = b"HTTP/1.1 200 OK\r\n" + b"X-Drip: %s\r\n" % (b"x" * 360) + b"Content-Length: 5\r\n\r\n"
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        for i in range(len(head)):
            with trio.move_on_after(0.05) as waited:
                await conn.wait_closed_by_peer()
            if not waited.cancelled_caught:
                return  # the client gave up: close at once, as a server would
            await conn.send(head[i : i + 1])
        await conn.send(b"hello")
        await conn.wait_closed_by_peer()


ECHO_UPLOAD = 8 * 1024 * 1024


async def _echo_while_reading(conn: RawConn) -> None:
    """Answer at once, then echo the request body piece by piece as it is read."""
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


# -- TLS


async def _plain_text_on_tls_port(conn: RawConn) -> None:
    await conn.receive_some()  # the ClientHello
    await conn.send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    await conn.wait_closed_by_peer()


def _tls_handshake(material: TLSMaterial) -> Callable[[RawConn], Awaitable[None]]:
    async def serve(conn: RawConn) -> None:
        tls = trio.SSLStream(conn.stream, material.server_context(), server_side=True)
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await tls.do_handshake()
            await conn.wait_closed_by_peer()

    return serve


# -- HTTP/2 (the scripted h2 server of tests/http2, h2c with prior knowledge)


def _frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes([kind, flags])
        + struct.pack(">I", stream_id)
        + payload
    )


def _goaway_frame(last_stream_id: int, code: int = 0) -> bytes:
    return _frame(0x7, 0, 0, struct.pack(">II", last_stream_id, code))


def _window_update_frame(stream_id: int, increment: int) -> bytes:
    return _frame(0x8, 0, stream_id, struct.pack(">I", increment))


async def _h2_goaway_storm(stream: H2ServerStream) -> None:
    """Every connection: 50 GOAWAY(last stream 0) frames, then close."""
    await stream.conn.send_raw(_goaway_frame(0) * 50)
    await stream.conn.close()


async def _h2_goaway_once_then_serve(stream: H2ServerStream) -> None:
    """The first connection refuses with GOAWAY(last stream 0) and closes; later ones serve."""
    if stream.conn.index == 0:
        await stream.conn.send_raw(_goaway_frame(0))
        await stream.conn.close()
    else:
        await stream.respond(200, b"hello")


async def _h2_goaway_mid_body(stream: H2ServerStream) -> None:
    await stream.send_headers(200, [(b"content-length", b"100")])
    await stream.send_data(b"x" * 10)
    await stream.conn.goaway(stream.stream_id, ErrorCodes.INTERNAL_ERROR)
    await stream.conn.close()


async def _h2_connection_window_overflow(stream: H2ServerStream) -> None:
    await stream.send_headers(200, [(b"content-length", b"5")])
    await stream.conn.send_raw(_window_update_frame(0, 2**31 - 1) * 2)
    await stream.conn.closed.wait()


async def _h2_stream_window_overflow(stream: H2ServerStream) -> None:
    await stream.send_headers(200, [(b"content-length", b"5")])
    await stream.conn.send_raw(_window_update_frame(stream.stream_id, 2**31 - 1) * 2)
    await stream.conn.closed.wait()


H2_STREAM_WINDOW = 8 * 1024 * 1024  # the client's initial stream window (its SETTINGS)


async def _h2_data_beyond_window(stream: H2ServerStream, sent: trio.Event | None = None) -> None:
    """DATA frames past the client's stream window, ignoring it (nobody reads the body).

    ``sent`` is set once every frame is written (or the client broke the connection).
    """
    await stream.send_headers(200)
    frame = _frame(0x0, 0, stream.stream_id, b"z" * 16384)
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await stream.conn.send_raw(frame * (H2_STREAM_WINDOW // 16384 + 2))
    if sent is not None:
        sent.set()
    await stream.conn.closed.wait()


async def _h2_not_h2(conn: RawConn) -> None:
    await conn.receive_some()  # the client's preface
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    await conn.wait_closed_by_peer()


async def _h2_not_h2_then_close(conn: RawConn) -> None:
    await conn.receive_some()  # the client's preface
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")


async def _tls_silent(conn: RawConn) -> None:
    await conn.wait_closed_by_peer()  # never answers the ClientHello


async def _tls_reset(conn: RawConn) -> None:
    await conn.receive_some()  # the ClientHello
    conn.reset()


async def _tls_close(conn: RawConn) -> None:
    await conn.receive_some()  # the ClientHello; returning closes the connection (FIN)


async def _h2_refused_stream_storm(stream: H2ServerStream) -> None:
    await stream.reset(ErrorCodes.REFUSED_STREAM)


async def _h2_rst_mid_body(stream: H2ServerStream) -> None:
    await stream.read_body()
    await stream.send_headers(200, [(b"content-length", b"100")])
    await stream.send_data(b"x" * 10)
    await stream.reset(ErrorCodes.INTERNAL_ERROR)


async def _h2_tcp_reset_mid_body(stream: H2ServerStream) -> None:
    await stream.read_body()
    await stream.send_headers(200, [(b"content-length", b"100")])
    await stream.send_data(b"x" * 10)
    stream.conn.raw.reset()


async def _h2_eof_mid_body(stream: H2ServerStream) -> None:
    await stream.read_body()
    await stream.send_headers(200, [(b"content-length", b"100")])
    await stream.send_data(b"x" * 10)
    await stream.conn.close()


async def _h2_stall_forever(stream: H2ServerStream) -> None:
    await stream.read_body()
    await stream.reset_received.wait()


async def _h2_bad_response_header(stream: H2ServerStream) -> None:
    await stream.read_body()
    # An upper-case field name is malformed in HTTP/2 (RFC 9113 section 8.2.1). h2 would
    # lower-case it, so the block is encoded here, without touching HPACK's dynamic table.
    from hpack import Encoder, NeverIndexedHeaderTuple

    block = Encoder().encode(
        [NeverIndexedHeaderTuple(k, v) for k, v in [(b":status", b"200"), (b"X-Upper", b"1")]]
    )
    await stream.conn.send_raw(_frame(0x1, 0x4 | 0x1, stream.stream_id, block))


# -- The table


@dataclass(frozen=True)
class Fault:
    id: str
    protocol: str  # "HTTP/1.1", "TLS" or "HTTP/2"
    fault: str  # what the server does, for the table
    expected: tuple[type[Exception], ...]  # () means the request succeeds
    outcome: str  # the exception, as the table states it
    script: Any  # a RawConn handler, or an H2ServerStream handler for "HTTP/2"
    raw_h2: bool = False  # HTTP/2 client against a raw (non-h2) server
    wrong_ca: bool = False  # the client trusts another CA
    read_timeout: float = 5.0
    hold_body: bool = False  # let the server run to a standstill before reading the body
    # The error wraps one from a dependency (h11, h2, ssl, OSError, trio) as __cause__;
    # False where the library itself detects the fault (a GOAWAY frame is no exception).
    has_cause: bool = True
    # HTTP/2: a fault confined to one stream leaves the connection open for others.
    keeps_connection: bool = False
    # Where the request succeeds: the status and body it gets.
    succeeds_with: tuple[int, bytes] = (200, b"hello")
    head_timeout: float | None = None  # the "head" key of the timeout extension
    upload: int = 0  # bytes of request body (POST) instead of a GET


FAULTS: list[Fault] = [
    Fault(
        "reset-mid-headers", "HTTP/1.1", "TCP reset in the middle of the response head",
        RESET, "ReadError (or RemoteProtocolError)", _reset_mid_headers,
    ),
    Fault(
        "reset-mid-body", "HTTP/1.1", "TCP reset after 5 kB of a 100 kB body",
        RESET, "ReadError (or RemoteProtocolError)", _reset_mid_body,
    ),
    Fault(
        "close-after-headers", "HTTP/1.1", "FIN right after the head; body missing",
        (trio_httpcore.RemoteProtocolError,), "RemoteProtocolError", _close_after_headers,
    ),
    Fault(
        "stall-forever", "HTTP/1.1", "request read, no answer ever (read timeout 5 s)",
        (trio_httpcore.ReadTimeout,), "ReadTimeout", _stall_forever,
    ),
    Fault(
        "stall-mid-body", "HTTP/1.1", "half the body, then silence (read timeout 5 s)",
        (trio_httpcore.ReadTimeout,), "ReadTimeout", _stall_mid_body,
    ),
    Fault(
        "slow-drip", "HTTP/1.1", "one byte every 100 ms, read timeout 1 s",
        (), "none: succeeds (the read timeout is per read)", _slow_drip, read_timeout=1.0,
        succeeds_with=(200, b"0123456789" * 2),
    ),
    Fault(
        "oversized-headers", "HTTP/1.1", "10 MB of header lines",
        (trio_httpcore.RemoteProtocolError,),
        f"RemoteProtocolError at the head limit ({HEAD_LIMIT // 1024} KiB)",
        _oversized_headers,
    ),
    Fault(
        "length-longer-than-body", "HTTP/1.1", "Content-Length 100, 9 bytes, FIN",
        (trio_httpcore.RemoteProtocolError,), "RemoteProtocolError", _length_longer_than_body,
    ),
    Fault(
        "close-delimited", "HTTP/1.1", "no Content-Length: the body ends with FIN",
        (), "none: succeeds (the connection is not reused)", _close_delimited,
    ),
    Fault(
        "chunked-garbage", "HTTP/1.1", "a chunk size that is not hex",
        (trio_httpcore.RemoteProtocolError,), "RemoteProtocolError", _chunked_garbage,
    ),
    Fault(
        "chunked-bad-terminator", "HTTP/1.1", "a chunk not followed by CRLF",
        (trio_httpcore.RemoteProtocolError,), "RemoteProtocolError", _chunked_bad_terminator,
    ),
    Fault(
        "chunked-truncated", "HTTP/1.1", "a chunk cut short by FIN",
        (trio_httpcore.RemoteProtocolError,), "RemoteProtocolError", _chunked_truncated,
    ),
    Fault(
        "endless-status-line", "HTTP/1.1", "a status line that never ends (10 MB)",
        (trio_httpcore.RemoteProtocolError,), "RemoteProtocolError", _endless_status_line,
    ),
    Fault(
        "binary-noise", "HTTP/1.1", "1 kB of binary noise instead of a response",
        (trio_httpcore.RemoteProtocolError,), "RemoteProtocolError", _binary_noise,
    ),
    Fault(
        "interim-then-close", "HTTP/1.1", "a 103 Early Hints, then FIN",
        (trio_httpcore.RemoteProtocolError,), "RemoteProtocolError", _interim_then_close,
    ),
    Fault(
        "no-content-then-close", "HTTP/1.1", "204 No Content, then FIN",
        (), "none: succeeds (204, empty body)", _no_content_then_close,
        succeeds_with=(204, b""),
    ),
    Fault(
        "head-drip", "HTTP/1.1",
        "the response head one byte every 50 ms, read timeout 1 s, head timeout 2 s",
        (trio_httpcore.ReadTimeout,), "ReadTimeout (the head timeout)", _head_drip,
        read_timeout=1.0, head_timeout=2.0,
    ),
    Fault(
        "echo-while-reading", "HTTP/1.1",
        "an 8 MiB upload echoed back as it is read (write timeout 5 s)",
        (), "none: succeeds (the client reads while it sends)", _echo_while_reading,
        upload=ECHO_UPLOAD, succeeds_with=(200, pattern(ECHO_UPLOAD)),
    ),
    Fault(
        "tls-wrong-ca", "TLS", "certificate from a CA the client does not trust",
        (trio_httpcore.ConnectError,), "ConnectError (certificate verify failed)",
        "tls-handshake", wrong_ca=True,
    ),
    Fault(
        "tls-plain-text", "TLS", "plain HTTP in answer to the ClientHello",
        (trio_httpcore.ConnectError,), "ConnectError", _plain_text_on_tls_port,
    ),
    Fault(
        "tls-silent", "TLS", "ClientHello never answered (connect timeout 5 s)",
        (trio_httpcore.ConnectTimeout,), "ConnectTimeout", _tls_silent,
    ),
    Fault(
        "tls-reset", "TLS", "TCP reset in answer to the ClientHello",
        (trio_httpcore.ConnectError,), "ConnectError", _tls_reset,
    ),
    Fault(
        "tls-close", "TLS", "FIN in answer to the ClientHello",
        (trio_httpcore.ConnectError,), "ConnectError", _tls_close,
    ),
    Fault(
        "h2-goaway-storm", "HTTP/2", "every connection: 50 GOAWAY (last stream 0), then FIN",
        (trio_httpcore.RemoteProtocolError,),
        "RemoteProtocolError after 3 retries on new connections", _h2_goaway_storm,
    ),
    Fault(
        "h2-goaway-then-eof", "HTTP/2", "GOAWAY (last stream 0) then FIN, once",
        (), "none: replayed on a new connection", _h2_goaway_once_then_serve,
    ),
    Fault(
        "h2-goaway-mid-body", "HTTP/2", "GOAWAY (INTERNAL_ERROR, this stream) mid-body",
        (trio_httpcore.RemoteProtocolError,), "RemoteProtocolError (not replayed)",
        _h2_goaway_mid_body, has_cause=False,
    ),
    Fault(
        "h2-connection-window-overflow", "HTTP/2", "WINDOW_UPDATE past 2^31-1 on the connection",
        (trio_httpcore.RemoteProtocolError,), "RemoteProtocolError",
        _h2_connection_window_overflow,
    ),
    Fault(
        "h2-stream-window-overflow", "HTTP/2", "WINDOW_UPDATE past 2^31-1 on the stream",
        (trio_httpcore.RemoteProtocolError,),
        "RemoteProtocolError (RST_STREAM FLOW_CONTROL_ERROR; the connection stays)",
        _h2_stream_window_overflow, has_cause=False, keeps_connection=True,
    ),
    Fault(
        "h2-data-beyond-window", "HTTP/2", "DATA past the client's 8 MiB stream window",
        (trio_httpcore.RemoteProtocolError,), "RemoteProtocolError", _h2_data_beyond_window,
        hold_body=True,
    ),
    Fault(
        "h2-refused-stream-storm", "HTTP/2", "every stream: RST_STREAM (REFUSED_STREAM)",
        (trio_httpcore.RemoteProtocolError,),
        "RemoteProtocolError after 3 retries", _h2_refused_stream_storm, keeps_connection=True,
    ),
    Fault(
        "h2-rst-mid-body", "HTTP/2", "RST_STREAM (INTERNAL_ERROR) mid-body",
        (trio_httpcore.RemoteProtocolError,), "RemoteProtocolError (the connection stays)",
        _h2_rst_mid_body, has_cause=False, keeps_connection=True,
    ),
    Fault(
        "h2-tcp-reset-mid-body", "HTTP/2", "TCP reset mid-body",
        (*RESET, trio_httpcore.WriteError),
        "ReadError (or RemoteProtocolError; WriteError if the reset meets a WINDOW_UPDATE)",
        _h2_tcp_reset_mid_body, has_cause=False,
    ),
    Fault(
        "h2-eof-mid-body", "HTTP/2", "FIN mid-body",
        (trio_httpcore.RemoteProtocolError, trio_httpcore.ReadError),
        "RemoteProtocolError (ReadError when the close becomes a reset: a WINDOW_UPDATE of "
        "ours was still unread)",
        _h2_eof_mid_body, has_cause=False,
    ),
    Fault(
        "h2-stall-forever", "HTTP/2", "request read, no answer ever (read timeout 5 s)",
        (trio_httpcore.ReadTimeout,), "ReadTimeout (the stream is reset; the connection stays)",
        _h2_stall_forever, keeps_connection=True,
    ),
    Fault(
        "h2-bad-response-header", "HTTP/2", "an upper-case field name in the response head",
        (trio_httpcore.RemoteProtocolError,), "RemoteProtocolError", _h2_bad_response_header,
        has_cause=False, keeps_connection=True,
    ),
    Fault(
        "h2-not-h2-then-close", "HTTP/2", "an HTTP/1.1 response to the HTTP/2 preface, then FIN",
        (trio_httpcore.RemoteProtocolError,), "RemoteProtocolError", _h2_not_h2_then_close,
        raw_h2=True, has_cause=False,
    ),
    Fault(
        "h2-not-h2", "HTTP/2",
        "an HTTP/1.1 response to the HTTP/2 preface, connection kept open (read timeout 5 s)",
        (trio_httpcore.ReadTimeout,),
        "ReadTimeout (h2 reads ``HTTP`` as the length of a frame under the 16 MiB limit "
        "and waits for the rest); the connection, which never sent SETTINGS, is closed",
        _h2_not_h2, raw_h2=True,
    ),
]  # fmt: skip


def render_table() -> str:
    """The fault table as docs/reliability.rst shows it (an RST list-table)."""
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 12 40 28 20",
        "",
        "   * - protocol",
        "     - fault",
        "     - the request gets",
        "     - test id",
    ]
    for fault in FAULTS:
        lines += [
            f"   * - {fault.protocol}",
            f"     - {fault.fault}",
            f"     - {fault.outcome}",
            f"     - ``{fault.id}``",
        ]
    return "\n".join(lines) + "\n"


def test_table_names_each_expected_exception() -> None:
    for fault in FAULTS:
        for cls in fault.expected:
            assert issubclass(cls, trio_httpcore.HTTPError)
        if fault.expected:
            assert fault.expected[0].__name__ in fault.outcome, fault.id
        else:
            assert fault.outcome.startswith("none"), fault.id


# -- Running one fault


async def _start_server(nursery: trio.Nursery, fault: Fault, tls: TLSMaterial) -> Any:
    if fault.protocol == "HTTP/2" and not fault.raw_h2:
        return await serve_h2(nursery, fault.script)
    script = _tls_handshake(tls) if fault.script == "tls-handshake" else fault.script
    return await serve_raw(nursery, script)


def _url(fault: Fault, server: Any) -> tuple[bytes, bytes, int, bytes]:
    tcp: Server = server.tcp if hasattr(server, "tcp") else server
    scheme = b"https" if fault.protocol == "TLS" else b"http"
    return (scheme, b"127.0.0.1", tcp.port, b"/")


def _pool_options(fault: Fault, tls: TLSMaterial, other_tls: TLSMaterial) -> dict[str, Any]:
    options: dict[str, Any] = {
        "ssl_context": (other_tls if fault.wrong_ca else tls).client_context(),
        "max_connections": 1,
    }
    if fault.protocol == "HTTP/2":
        options.update(http1=False, http2=True)
    return options


async def _run_on_mock_clock(
    clock: trio.testing.MockClock, fn: Callable[[], Awaitable[Any]]
) -> Any:
    """``await fn()``, moving the clock 0.1 s whenever every task is blocked.

    Returns the result, or the exception ``fn`` raised (as a value).
    """
    outcome: list[Any] = []

    async def run() -> None:
        try:
            outcome.append(await fn())
        except Exception as exc:
            outcome.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        while not outcome:
            await trio.testing.wait_all_tasks_blocked()
            if not outcome:
                clock.jump(0.1)
    return outcome[0]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
async def test_fault(
    make_pool: PoolFactory,
    nursery: trio.Nursery,
    http_server: Server,
    tls: TLSMaterial,
    other_tls: TLSMaterial,
    mock_clock: trio.testing.MockClock,
    fault: Fault,
) -> None:
    server = await _start_server(nursery, fault, tls)
    tcp: Server = server.tcp if hasattr(server, "tcp") else server
    url = _url(fault, server)
    ext = {"timeout": {**ORIGIN_TIMEOUTS["timeout"], "read": fault.read_timeout}}
    if fault.head_timeout is not None:
        ext["timeout"]["head"] = fault.head_timeout
    method, headers, body = b"GET", [], None
    if fault.upload:
        method, headers = b"POST", [(b"Content-Length", b"%d" % fault.upload)]
        body = trio_httpcore.PlainByteStream(pattern(fault.upload))
    async with make_pool(**_pool_options(fault, tls, other_tls)) as pool:
        before = socket_fds()

        async def one_request() -> tuple[int, bytes]:
            status, _, stream, _ = await pool.arequest(method, url, headers, body, ext)
            if fault.hold_body:
                await trio.testing.wait_all_tasks_blocked()
            return status, await read_all(stream)

        got = await _run_on_mock_clock(mock_clock, one_request)
        if fault.expected:
            assert isinstance(got, fault.expected), repr(got)
            assert isinstance(got, trio_httpcore.HTTPError)
            if fault.has_cause:
                assert got.__cause__ is not None, repr(got)
            assert f"127.0.0.1:{tcp.port}" in str(got), str(got)
        else:
            assert got == fault.succeeds_with, repr(got)

        # The pool: nothing connecting, active or waiting; a broken connection not kept.
        await trio.testing.wait_all_tasks_blocked()
        assert_quiescent(pool)
        if (fault.expected and not fault.keeps_connection) or fault.id == "close-delimited":
            assert pool.statistics().idle == 0
        # No socket left: every connection the fault server saw is closed, and the
        # process holds the sockets it held before the request.
        if fault.expected and not fault.keeps_connection:
            with trio.fail_after(5):  # virtual time: moves only when the test jumps it
                await tcp.counter.wait_for(lambda: tcp.counter.open_now == 0)
            assert socket_fds() == before
        # Still usable: max_connections=1, so the slot really came back.
        _, _, stream, _ = (
            await pool.arequest(b"GET", http_server.url4("/"), ext=ORIGIN_TIMEOUTS)
            if fault.protocol != "HTTP/2"
            else await _healthy_h2(nursery, pool)
        )
        assert await read_all(stream) == b"hello"
    if fault.id == "h2-goaway-storm":
        assert len(server.connections) == 4  # the request, then 3 retries


async def _healthy_h2(nursery: trio.Nursery, pool: Any) -> Any:
    healthy = await serve_h2(nursery, _h2_hello)
    return await pool.arequest(b"GET", healthy.url4("/"), ext=ORIGIN_TIMEOUTS)


async def _h2_hello(stream: H2ServerStream) -> None:
    await stream.respond(200, b"hello")


def test_slow_drip_needs_many_virtual_seconds() -> None:
    """The drip takes 20 x 0.1 s = 2 s in all, more than the 1 s read timeout: a
    timeout on the whole response would fire; the per-read timeout does not."""
    (drip,) = [f for f in FAULTS if f.id == "slow-drip"]
    assert len(DRIP) * 0.1 > drip.read_timeout


async def test_oversized_headers_stop_at_h11s_limit_without_memory_growth(
    make_pool: PoolFactory, start_raw_server: Any
) -> None:
    """10 MB of header lines: the client gives up at its head limit (plus one read),
    and never holds more than a few hundred kB of it."""
    sent = [0]

    async def endless_head(conn: RawConn) -> None:
        await conn.read_request()
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await conn.send(b"HTTP/1.1 200 OK\r\n")
            for i in range(10_000):
                line = b"X-Filler-%06d: %s\r\n" % (i, b"x" * 1000)
                await conn.send(line)
                sent[0] += len(line)

    server = await start_raw_server(endless_head)
    async with make_pool() as pool:
        tracemalloc.start()
        try:
            with pytest.raises(trio_httpcore.RemoteProtocolError) as info:
                await pool.arequest(b"GET", server.url4("/"), ext=ORIGIN_TIMEOUTS)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 1024 * 1024, peak
    assert sent[0] < 10_000 * 1000  # the server did not get to send it all
    assert "too long" in str(info.value.__cause__).lower() or "431" in repr(
        info.value.__cause__.__dict__
    )


# -- The table in the docs


DOCS = __import__("pathlib").Path(__file__).resolve().parents[2] / "docs" / "reliability.rst"
TABLE_START = ".. fault-table-start"
TABLE_END = ".. fault-table-end"


def test_docs_show_this_table() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert TABLE_START in text and TABLE_END in text, "docs/reliability.rst lacks the markers"
    shown = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip("\n")
    assert shown == render_table().strip("\n"), (
        "docs/reliability.rst's fault table differs from FAULTS: regenerate it with "
        "`python -m tests.reliability.test_faults`"
    )


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render_table())
