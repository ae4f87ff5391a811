"""Response heads parsed by the accelerator (httptools): exactly what h11 makes of them.

With httptools installed, ``HTTP11Connection``'s h11 connection has its
response heads parsed by httptools where that gives h11's result, and by h11
otherwise. Whatever the bytes and however they are split, the events, the
errors (type, message, status hint) and the states after must be those of a
plain ``h11.Connection``: h11 is the reference.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_httpcore._http11 import _h11compat
from trio_httpcore._http11._h11compat import _read_head, _send_accelerated, send_request
from trio_httpcore._http11._httptoolscompat import parse_head

needs_accelerator = pytest.mark.skipif(
    parse_head is None, reason="httptools is not installed, or turned off"
)

OK = b"HTTP/1.1 200 OK\r\n"
NGINX = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Fri, 04 Dec 2026 22:00:00 GMT\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello"
)

# Valid heads, odd ones, and hostile ones; each followed by whatever the server sends next.
CORPUS = [
    NGINX,
    NGINX + b"HTTP/1.1 200 OK\r\n",  # bytes past the response
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
    b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\nclose-delimited",
    b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200  Spaced  Reason\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 R\xe9ason\t\x80\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 599 Odd\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 000 Zero\r\n\r\n",
    b"HTTP/1.1 20 Short\r\n\r\n",
    b"HTTP/1.1 2000 Long\r\n\r\n",
    b"HTTP/1.1 2x0 Letters\r\n\r\n",
    b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/0.9 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/3.7 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"http/1.1 200 OK\r\n\r\n",
    b"HTTP/11 200 OK\r\n\r\n",
    b"HTTP/1.1  200 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nCoNtEnT-LeNgTh: 3\r\nX-UPPER: V\r\nx-lower: v\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nA: 1\r\nA: 2\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nEmpty:\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nEmpty: \r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nLead:   \t v\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTrail: v \t\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nInner: a  b\tc\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nFold: a\r\n b\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nFold: a\r\n\tb\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n Fold-first: a\r\n\r\n",
    b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: b\n\nC: d\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: b\x00c\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: b\x01c\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: b\x0bc\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: b\x0cc\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: b\x1fc\x7f\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: \xff\xfe obs-text\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA : b\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA\t: b\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n: no name\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nBad{name}: v\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nN\xe9: v\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3x\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxyz",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\nexcess",
    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
    b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" + NGINX,
    b"HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nws",
    b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n",
    b"\r\nHTTP/1.1 200 OK\r\n\r\n",
    b"\nHTTP/1.1 200 OK\r\n\r\n",
    b"\r\n\r\n",
    b"hello\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: " + b"v" * 300 + b"\r\n\r\n",  # past the small size limit below
    b"HTTP/1.1 200 OK\r\n" + b"A: b\r\n" * 40,  # never ends, and too long
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n",  # cut off by the close
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS record, not HTTP
    b"",
]


def _describe(event: Any) -> object:
    if isinstance(event, (h11.Response, h11.InformationalResponse)):
        return (
            type(event).__name__,
            event.status_code,
            event.reason,
            type(event.reason),
            event.http_version,
            [(type(n), n, type(v), v) for n, v in event.headers.raw_items()],
        )
    if isinstance(event, h11.Data):
        return ("Data", bytes(event.data))
    if isinstance(event, h11.EndOfMessage):
        return ("EndOfMessage", event.headers.raw_items())
    return repr(event)


def _run(accelerated: bool, method: bytes, chunks: list[bytes]) -> list[object]:
    """Everything h11 makes of the response ``chunks`` (then the close) to a ``method``."""
    connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=200)
    request = h11.Request(method=method, target=b"/", headers=[(b"Host", b"h")])
    if accelerated:
        _send_accelerated(connection, request)
    else:
        connection.send(request)
    connection.send(h11.EndOfMessage())
    seen: list[object] = []
    for chunk in [*chunks, b""]:
        connection.receive_data(chunk)
        while True:
            try:
                event = connection.next_event()
            except h11.RemoteProtocolError as exc:
                seen.append(("error", str(exc), exc.error_status_hint))
                break
            if event is h11.NEED_DATA or event is h11.PAUSED:
                seen.append(_describe(event))
                break
            seen.append(_describe(event))
            if isinstance(event, h11.ConnectionClosed):
                break
        if connection.their_state is h11.ERROR:
            break
    excess, closed = connection.trailing_data
    seen.append(
        (
            connection.our_state,
            connection.their_state,
            connection.their_http_version,
            bytes(excess),
            closed,
            connection.client_is_waiting_for_100_continue,
        )
    )
    return seen


def _assert_same(method: bytes, chunks: list[bytes]) -> None:
    assert _run(True, method, chunks) == _run(False, method, chunks)


@needs_accelerator
def test_the_accelerator_is_used() -> None:
    # Else every comparison below compares h11 with itself.
    assert _h11compat.ACCELERATED_HEADS
    assert send_request is _send_accelerated
    connection = h11.Connection(h11.CLIENT)
    send_request(connection, h11.Request(method=b"GET", target=b"/", headers=[(b"Host", b"h")]))
    assert connection._reader is _read_head
    assert parse_head is not None
    assert parse_head(NGINX[: NGINX.index(b"\r\n\r\n") + 4]) is not None


@needs_accelerator
@pytest.mark.parametrize("response", CORPUS)
@pytest.mark.parametrize("method", [b"GET", b"HEAD", b"CONNECT"])
def test_same_as_h11_at_every_split(method: bytes, response: bytes) -> None:
    _assert_same(method, [response])
    for cut in range(1, len(response)):
        _assert_same(method, [response[:cut], response[cut:]])
    _assert_same(method, [response[i : i + 1] for i in range(len(response))])


FRAGMENTS = [
    b"HTTP/1.1 ",
    b"HTTP/1.0 ",
    b"200",
    b"103",
    b" OK",
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b"\r",
    b"A: b",
    b"Content-Length: 3",
    b"Transfer-Encoding: chunked",
    b"Connection: close",
    b" ",
    b"\t",
    b":",
    b"\x00",
    b"\x01",
    b"\x7f",
    b"\xff",
    b"abc",
    b"3\r\nabc\r\n0\r\n\r\n",
]


@needs_accelerator
@settings(max_examples=500, deadline=None)
@given(
    body=st.lists(st.sampled_from(FRAGMENTS), max_size=14),
    method=st.sampled_from([b"GET", b"HEAD"]),
    cut=st.integers(min_value=0, max_value=200),
)
def test_same_as_h11_on_generated_heads(body: list[bytes], method: bytes, cut: int) -> None:
    response = OK + b"".join(body)
    _assert_same(method, [response[:cut], response[cut:]])


def test_turned_off_by_the_environment() -> None:
    # TRIO_HTTPCORE_NO_HTTPTOOLS=1 gives h11's own reader, as without httptools.
    code = (
        "from trio_httpcore._http11 import _h11compat as c, _httptoolscompat as t\n"
        "import h11\n"
        "assert t.parse_head is None and not c.ACCELERATED_HEADS\n"
        "assert c.send_request is h11.Connection.send\n"
    )
    env = {**os.environ, "TRIO_HTTPCORE_NO_HTTPTOOLS": "1"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
