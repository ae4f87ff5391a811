"""A misbehaving HTTP proxy: CONNECT answered badly, or the tunnel dropped.

The proxy is a raw server answering the CONNECT of an https request with each
case's bytes. The request gets :class:`ProxyError` (carrying the status when
there is one) when the proxy's answer is not a usable 2xx, and
:class:`ConnectError` when the tunnel opens but the TLS handshake inside it
fails; the proxy pool keeps nothing and leaks nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing

import trio_httpcore
from tests.support.raw import RawConn

CASES: list[tuple[str, bytes, bool, type[Exception], int | None]] = [
    # name, answer, then close, expected, ProxyError.status_code
    (
        "407",
        b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
        False,
        trio_httpcore.ProxyError,
        407,
    ),
    (
        "502",
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\n\r\nbad",
        True,
        trio_httpcore.ProxyError,
        502,
    ),
    ("garbage", b"garbage\r\n\r\n", False, trio_httpcore.ProxyError, None),
    ("close", b"", True, trio_httpcore.ProxyError, None),
    ("partial-head", b"HTTP/1.1 200 Conn", True, trio_httpcore.ProxyError, None),
    ("101", b"HTTP/1.1 101 Switching Protocols\r\n\r\n", False, trio_httpcore.ProxyError, None),
    (
        "200-then-close",
        b"HTTP/1.1 200 Connection established\r\n\r\n",
        True,
        trio_httpcore.ConnectError,
        None,
    ),
    (
        "200-then-plain-text",
        b"HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
        False,
        trio_httpcore.ConnectError,
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "answer", "close", "expected", "status"), CASES, ids=[c[0] for c in CASES]
)
async def test_proxy_fault(
    start_raw_server: Callable[..., Any],
    name: str,
    answer: bytes,
    close: bool,
    expected: type[Exception],
    status: int | None,
) -> None:
    async def proxy(conn: RawConn) -> None:
        head = await conn.read_request_head()
        assert head.startswith(b"CONNECT example.com:443 HTTP/1.1\r\n"), head
        if answer:
            await conn.send(answer)
        if not close:
            await conn.wait_closed_by_peer()

    server = await start_raw_server(proxy)
    async with trio_httpcore.AsyncHTTPProxy(
        (b"http", b"127.0.0.1", server.port, b"/"), max_connections=1
    ) as pool:
        with pytest.raises(expected) as info:
            await pool.arequest(
                b"GET",
                (b"https", b"example.com", 443, b"/"),
                ext={"timeout": {"connect": 5, "read": 5, "write": 5, "pool": 5}},
            )
        if isinstance(info.value, trio_httpcore.ProxyError):
            assert info.value.status_code == status
            assert f"127.0.0.1:{server.port}" in str(info.value)
        await trio.testing.wait_all_tasks_blocked()
        stats = pool.statistics()
        assert (stats.connecting, stats.active, stats.idle, stats.waiting) == (0, 0, 0, 0), stats


# -- SOCKS5

PE = trio_httpcore.ProxyError
OK_METHOD = b"\x05\x00"  # version 5, no authentication
SOCKS_CASES: list[tuple[str, list[bytes], bool, type[Exception]]] = [
    # name, one answer per message received, keep the connection open, expected
    ("no-acceptable-method", [b"\x05\xff"], False, trio_httpcore.ProxyError),
    ("wrong-version", [b"\x04\x00"], False, trio_httpcore.ProxyError),
    ("not-socks", [b"HTTP/1.1 200 OK\r\n\r\n"], False, trio_httpcore.ProxyError),
    ("close-at-greeting", [], False, trio_httpcore.ProxyError),
    ("reply-refused", [OK_METHOD, b"\x05\x05\x00\x01" + bytes(6)], False, PE),
    ("reply-unknown-code", [OK_METHOD, b"\x05\x99\x00\x01" + bytes(6)], False, PE),
    ("reply-bad-address-type", [OK_METHOD, b"\x05\x00\x00\x09" + bytes(6)], False, PE),
    ("reply-cut-short", [OK_METHOD, b"\x05\x00\x00"], True, trio_httpcore.ConnectTimeout),
    ("login-refused", [b"\x05\x02", b"\x01\x01"], False, trio_httpcore.ProxyError),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "answers", "keep_open", "expected"), SOCKS_CASES, ids=[c[0] for c in SOCKS_CASES]
)
async def test_socks_fault(
    start_raw_server: Callable[..., Any],
    autojump_clock: trio.testing.MockClock,
    name: str,
    answers: list[bytes],
    keep_open: bool,
    expected: type[Exception],
) -> None:
    async def proxy(conn: RawConn) -> None:
        for answer in answers:
            await conn.receive_some()
            await conn.send(answer)
        if keep_open:
            await conn.wait_closed_by_peer()

    server = await start_raw_server(proxy)
    auth = (b"user", b"pass") if name == "login-refused" else None
    async with trio_httpcore.AsyncSOCKSProxy(
        (b"socks5", b"127.0.0.1", server.port, b"/"), proxy_auth=auth
    ) as pool:
        with pytest.raises(expected) as info:
            await pool.arequest(
                b"GET", (b"http", b"example.com", 80, b"/"), ext={"timeout": {"connect": 5}}
            )
        if isinstance(info.value, trio_httpcore.ProxyError):
            assert f"127.0.0.1:{server.port}" in str(info.value)
            assert info.value.status_code is None
        await trio.testing.wait_all_tasks_blocked()
        stats = pool.statistics()
        assert (stats.connecting, stats.active, stats.idle, stats.waiting) == (0, 0, 0, 0), stats
