"""The request head: built without h11's second check, identical to what h11's public path writes.

``HTTP11Connection`` builds each request event with h11's private
``_parsed=True`` (``request_event``), relying on ``check_request`` having
refused what h11's own field checks refuse. Whenever ``check_request``
accepts a request, the bytes and the state h11 ends in must be exactly those
of ``h11.Request(...)`` built the public way, and an error must be an error
both ways.
"""

from __future__ import annotations

from typing import Any

import h11
import pytest
import trio
import trio.testing
from hypothesis import example, given, settings
from hypothesis import strategies as st

import trio_httpcore
from tests.support.pool import TIMEOUTS, PoolFactory, get_body
from tests.support.servers import Server
from trio_httpcore._http._request import check_request
from trio_httpcore._http11._connection import HTTP11Connection
from trio_httpcore._http11._h11compat import H11_PARSED_REQUESTS, request_event
from trio_httpcore._types import RawHeaders

URL = (b"http", b"example.org", 8080, b"/")


def _send_both_ways(
    method: bytes, target: bytes, headers: RawHeaders
) -> tuple[tuple[bytes, dict[Any, Any], bool] | str, ...]:
    """What h11 writes and its states after, for the public and the fast event (or the error)."""
    outcomes: list[tuple[bytes, dict[Any, Any], bool] | str] = []
    for build in (h11.Request, request_event):
        connection = h11.Connection(h11.CLIENT)
        try:
            if build is h11.Request:
                event = h11.Request(method=method, target=target, headers=headers)
            else:
                event = request_event(method, target, headers)
            data = connection.send(event)
        except h11.LocalProtocolError:
            outcomes.append("LocalProtocolError")
            continue
        outcomes.append(
            (
                data,
                dict[Any, Any](connection.states),
                connection.client_is_waiting_for_100_continue,
            )
        )
    return tuple(outcomes)


def test_h11_takes_parsed_requests() -> None:
    # The fast path is in use with the h11 we depend on (else this file tests nothing new).
    assert H11_PARSED_REQUESTS


HOST = (b"Host", b"example.org:8080")


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        (b"GET", [HOST]),
        (b"GET", [(b"host", b"example.org")]),
        (b"GET", [(b"Accept", b"*/*"), HOST, (b"X-Late-Host-Is-Moved-First", b"1")]),
        (b"GET", [HOST, (b"Accept-Encoding", b"gzip, deflate"), (b"User-Agent", b"t/1")]),
        (b"GET", [HOST, (b"X-Empty", b""), (b"X-Tab", b"a\tb"), (b"X-Obs", b"caf\xe9")]),
        (b"GET", [HOST, (b"Connection", b"close")]),
        (b"GET", [HOST, (b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")]),
        (b"HEAD", [HOST]),
        (b"CONNECT", [HOST]),
        (b"POST", [HOST, (b"Content-Length", b"5")]),
        (b"POST", [HOST, (b"Content-Length", b"5"), (b"content-length", b"5")]),
        (b"POST", [HOST, (b"Content-Length", b"5, 5")]),
        (b"POST", [HOST, (b"Transfer-Encoding", b"chunked")]),
        (b"POST", [HOST, (b"Transfer-Encoding", b"Chunked")]),
        (b"POST", [HOST, (b"Content-Length", b"3"), (b"Expect", b"100-continue")]),
        # Errors both ways: h11 cannot frame these, or no single Host.
        (b"POST", [HOST, (b"Content-Length", b"5"), (b"Content-Length", b"6")]),
        (b"POST", [HOST, (b"Content-Length", b"x")]),
        (b"POST", [HOST, (b"Content-Length", b"1" * 21)]),
        (b"POST", [HOST, (b"Transfer-Encoding", b"gzip")]),
        (b"POST", [HOST, (b"Transfer-Encoding", b"chunked"), (b"Transfer-Encoding", b"chunked")]),
        (b"GET", []),
        (b"GET", [HOST, HOST]),
    ],
)
def test_request_head_is_what_h11_writes(method: bytes, headers: RawHeaders) -> None:
    check_request(method, URL, headers)
    public, fast = _send_both_ways(method, b"/a?b=c", headers)
    assert fast == public


TCHAR = b"!#$%&'*+-.^_`|~09AZaz"
NAMES = [b"Host", b"host", b"Content-Length", b"Transfer-Encoding", b"Connection", b"Expect"]
NAME = st.sampled_from([*NAMES, b"Upgrade", b"X-A", b"accept"]) | st.binary(
    min_size=1, max_size=6
).map(lambda b: bytes(TCHAR[x % len(TCHAR)] for x in b))
# Value bytes: visible, obs-text, controls h11 lets through, and whitespace.
VCHAR = b'aZ09,;="\x01\x7f\x80\xff \t'
VALUE = st.sampled_from(
    [b"", b"5", b"05", b"5, 5", b"chunked", b"close", b"keep-alive", b"100-continue", b"a b"]
) | st.binary(max_size=8).map(lambda b: bytes(VCHAR[x % len(VCHAR)] for x in b))
FIELDS = st.lists(st.tuples(NAME, VALUE), max_size=4)
# Mostly with one Host somewhere (h11 refuses a request without), sometimes not.
HEADERS = st.builds(lambda before, after: [*before, HOST, *after], FIELDS, FIELDS) | FIELDS
METHOD = st.sampled_from([b"GET", b"HEAD", b"POST", b"CONNECT", b"PUT", b"G\xc9T", b""])
TARGET = st.sampled_from([b"/", b"*", b"/a?b", b"http://x/y", b"/caf\xc3\xa9", b"/a b"])


@settings(max_examples=400, deadline=None)
@given(method=METHOD, target=TARGET, headers=HEADERS)
@example(method=b"GET", target=b"/", headers=[(b"Host", b"h"), (b"X", b"a\x01b")])
@example(method=b"GET", target=b"/", headers=[(b"Host", b"h"), (b"X", b"\x80\xff")])
def test_any_request_check_request_accepts_is_written_as_h11_writes_it(
    method: bytes, target: bytes, headers: RawHeaders
) -> None:
    try:
        check_request(method, (b"http", b"example.org", None, target), headers)
    except trio_httpcore.LocalProtocolError:
        return
    public, fast = _send_both_ways(method, target, headers)
    assert fast == public


@pytest.mark.parametrize("value", [b"trailing ", b" leading", b"\ttab", b"a\x0bb", b"a\x0cb"])
def test_check_request_refuses_what_h11_refuses(value: bytes) -> None:
    with pytest.raises(h11.LocalProtocolError):
        h11.Request(method=b"GET", target=b"/", headers=[HOST, (b"X", value)])
    with pytest.raises(trio_httpcore.LocalProtocolError):
        check_request(b"GET", URL, [(b"X", value)])


@pytest.mark.parametrize(
    "headers",
    [
        [(b"Content-Length", b"x")],
        [(b"Content-Length", b"1"), (b"Content-Length", b"2")],
        [(b"Transfer-Encoding", b"gzip")],
        [HOST, (b"host", b"example.org")],
    ],
)
async def test_request_h11_cannot_frame_is_a_local_protocol_error(
    make_pool: PoolFactory, http_server: Server, headers: RawHeaders
) -> None:
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.LocalProtocolError) as info:
            await pool.arequest(b"POST", http_server.url4("/"), headers=headers, ext=TIMEOUTS)
        assert isinstance(info.value.__cause__, h11.LocalProtocolError)
        await trio.testing.wait_all_tasks_blocked()
        assert pool.statistics().idle == 0  # that connection is not kept
        assert await get_body(pool, http_server) == b"hello"


class _Listener:
    def released(self) -> None:
        pass

    def closed(self) -> None:
        pass


@pytest.mark.parametrize("checked", [False, True])
async def test_unchecked_requests_get_h11s_own_field_check(checked: bool) -> None:
    # A connection not told its requests passed check_request (a proxy's
    # CONNECT exchange) keeps h11's check: nothing smuggled reaches the wire.
    client, server = trio.testing.memory_stream_pair()
    connection = HTTP11Connection(
        client, "http://proxy:8080", _Listener(), checked_requests=checked
    )
    headers = [(b"Host", b"example.org:443"), (b"Proxy-Authorization", b"a\r\nX-Injected: 1")]
    if checked:
        # (Never so in a pool: check_request would have refused the value.)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                connection.handle_request,
                b"CONNECT",
                (b"http", b"a", 443, b"a:443"),
                headers,
                None,
                {},
            )
            assert b"X-Injected: 1\r\n" in await server.receive_some()
            nursery.cancel_scope.cancel()
        return
    with pytest.raises(trio_httpcore.LocalProtocolError) as info:
        await connection.handle_request(
            b"CONNECT", (b"http", b"a", 443, b"a:443"), headers, None, {}
        )
    assert isinstance(info.value.__cause__, h11.LocalProtocolError)
    with trio.fail_after(5):  # only against a hang
        assert await server.receive_some() == b""  # closed, nothing sent
