"""Received header blocks are checked by ``check_response_fields``, not by h2.

The connection turns h2's inbound validation off (``validate_inbound_headers=False``)
and checks each response head and trailer block itself. These tests hold the
check to h2's: over any header list, a block is refused exactly when h2's
validation (after its inbound normalisation, as h2 runs them) refuses it once
its connection-specific fields are dropped, as the check drops them.
"""

from __future__ import annotations

from typing import Any

import h2.exceptions
import h2.utilities
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.support.h2server import H2Server, H2ServerStream, raw_headers_frame
from tests.support.pool import request
from trio_httpcore import RemoteProtocolError
from trio_httpcore._http2._headers import ResponseFieldsChecker, check_response_fields
from trio_httpcore._http2._hpack import HEADER_BLOCK_CACHE_SIZE

# Bytes that decide the rules: both cases, separators, whitespace, the
# forbidden controls, a pseudo-header's colon, the edges of the allowed ranges.
ALPHABET = [*b"azAZ09-_!~.:;/@[` \t", 0x00, 0x0A, 0x0D, 0x0B, 0x20, 0x21, 0x7E, 0x7F, 0x80, 0xFF]
NAMES = [
    b":status",
    b":method",
    b":path",
    b":authority",
    b":scheme",
    b":protocol",
    b":custom",
    b":",
    b"",
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"transfer-encoding",
    b"upgrade",
    b"host",
    b"te",
    b"TE",
    b"cookie",
    b"content-length",
    b"x-a:b",
    b"Server",
    b"server",
]
VALUES = [b"", b"200", b"100", b"trailers", b"TRAILERS", b" trailers", b"a b", b"a\tb", b"gzip"]


def _bytes(known: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.sampled_from(known),
        st.lists(st.sampled_from(ALPHABET), max_size=6).map(bytes),
    )


fields = st.lists(st.tuples(_bytes(NAMES), _bytes(VALUES)), max_size=6)
# A response head usually starts with :status, which the rules are mostly about.
blocks = st.one_of(fields, fields.map(lambda rest: [(b":status", b"200"), *rest]))


def _flags(trailers: bool) -> h2.utilities.HeaderValidationFlags:
    """h2's flags for a block a client receives: a response head or trailers."""
    return h2.utilities.HeaderValidationFlags(
        is_client=True, is_trailer=trailers, is_response_header=not trailers, is_push_promise=False
    )


def _h2_accepts(block: list[tuple[bytes, bytes]], trailers: bool) -> bool:
    """Whether h2's inbound pipeline takes ``block`` (``H2Stream._process_received_headers``)."""
    flags = _flags(trailers)
    normalized = h2.utilities.normalize_inbound_headers(block, flags)
    try:
        list(h2.utilities.validate_headers(normalized, flags))
    except h2.exceptions.ProtocolError:
        return False
    return True


CONNECTION_SPECIFIC = {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding"}


def _connection_specific(name: bytes, value: bytes) -> bool:
    return name in {*CONNECTION_SPECIFIC, b"upgrade"} or (
        name == b"te" and value.lower() != b"trailers"
    )


def _we_accept(block: list[tuple[bytes, bytes]], trailers: bool) -> bool:
    """Whether the check takes ``block``; what it keeps is the block without connection fields."""
    flags = _flags(trailers)
    # The connection checks the fields of h2's event, which h2 normalised.
    normalized = list(h2.utilities.normalize_inbound_headers(block, flags))
    try:
        kept = check_response_fields(normalized, trailers=trailers)
    except h2.exceptions.ProtocolError:
        return False
    expected = [f for f in normalized if not _connection_specific(*f)]
    assert (normalized if kept is None else kept) == expected
    return True


@given(block=blocks, trailers=st.booleans())
@example(block=[(b":status", b"200"), (b"cookie", b"a "), (b"cookie", b"b")], trailers=False)
@example(block=[(b":status", b"200"), (b"cookie", b" a")], trailers=False)
@example(block=[(b"x", b"1"), (b":status", b"200")], trailers=False)
@example(block=[(b":status", b"200"), (b":status", b"200")], trailers=False)
@example(block=[(b":status", b"")], trailers=False)
@example(block=[(b"host", b"example.com")], trailers=True)
def test_check_refuses_exactly_what_h2_refuses(
    block: list[tuple[bytes, bytes]], trailers: bool
) -> None:
    without = [f for f in block if not _connection_specific(*f)]
    assert _we_accept(block, trailers) == _h2_accepts(without, trailers)


@pytest.mark.parametrize(
    ("block", "trailers"),
    [
        ([(b":status", b"200"), (b"content-type", b"text/plain"), (b"te", b"Trailers")], False),
        ([(b":status", b"103"), (b"link", b"</a>; rel=preload")], False),
        ([(b"x-checksum", b"abc"), (b"host", b"h")], True),
        ([], True),
    ],
)
def test_well_formed_blocks_pass(block: list[tuple[bytes, bytes]], trailers: bool) -> None:
    assert _h2_accepts(block, trailers)
    check_response_fields(block, trailers=trailers)


@pytest.mark.parametrize(
    ("block", "trailers"),
    [
        ([], False),  # no :status
        ([(b":status", b"200"), (b"X-Upper", b"1")], False),
        ([(b":status", b"200"), (b"x", b"a\r\nb")], False),
        ([(b":status", b"200"), (b":path", b"/")], False),
        ([(b":status", b"200")], True),  # a pseudo-header in trailers
    ],
)
def test_malformed_blocks_fail(block: list[tuple[bytes, bytes]], trailers: bool) -> None:
    assert not _h2_accepts(block, trailers)
    with pytest.raises(h2.exceptions.ProtocolError):
        check_response_fields(block, trailers=trailers)


def test_checker_remembers_only_what_passed_and_for_its_kind() -> None:
    checker = ResponseFieldsChecker()
    head = [(b":status", b"200"), (b"server", b"s")]
    checker.check(head, trailers=False)
    checker.check(head, trailers=False)
    with pytest.raises(h2.exceptions.ProtocolError):
        checker.check(head, trailers=True)  # passed as a head, not as trailers
    bad = [(b":status", b"200"), (b"Server", b"s")]
    for _ in range(2):  # a failure is not remembered
        with pytest.raises(h2.exceptions.ProtocolError):
            checker.check(bad, trailers=False)
    for i in range(2 * HEADER_BLOCK_CACHE_SIZE):  # the memory stays bounded
        checker.check([(b":status", b"200"), (b"x", str(i).encode())], trailers=False)
    assert len(checker._accepted) <= HEADER_BLOCK_CACHE_SIZE


@pytest.mark.parametrize(
    ("head", "trailers"),
    [
        ([(b":status", b"200"), (b"X-Upper", b"1")], None),
        ([(b":status", b"200"), (b"x", b" padded")], None),
        ([(b"x", b"1")], None),
        (None, [(b":status", b"200")]),
        (None, [(b"x", b"1"), (b"Connection", b"close")]),
    ],
)
async def test_malformed_response_blocks_fail_the_request(
    make_pool: Any,
    start_h2_server: Any,
    head: list[tuple[bytes, bytes]] | None,
    trailers: list[tuple[bytes, bytes]] | None,
) -> None:
    async def handler(stream: H2ServerStream) -> None:
        await stream.read_body()
        if head is not None:
            await stream.conn.send_raw(raw_headers_frame(stream.stream_id, head))
            return
        assert trailers is not None
        await stream.send_headers(200)
        await stream.send_data(b"body")
        await stream.conn.send_raw(raw_headers_frame(stream.stream_id, trailers))

    server: H2Server = await start_h2_server(handler)
    async with make_pool(http1=False, http2=True) as pool:
        with pytest.raises(RemoteProtocolError):
            await request(pool, server.tcp)


@pytest.mark.parametrize(
    "status", [b"abc", b"", b"2_00", b"-1", b"99", b"+20", b"\xd9\xa2\xd9\xa0\xd9\xa0"]
)
async def test_a_status_that_is_not_three_digits_fails_the_request(
    make_pool: Any, start_h2_server: Any, status: bytes
) -> None:
    async def handler(stream: H2ServerStream) -> None:
        await stream.read_body()
        if stream.path == "/bad":
            frame = raw_headers_frame(stream.stream_id, [(b":status", status)])
            await stream.conn.send_raw(frame)
        else:
            await stream.respond(body=b"ok")

    server: H2Server = await start_h2_server(handler)
    async with make_pool(http1=False, http2=True) as pool:
        with pytest.raises(RemoteProtocolError, match="malformed :status"):
            await request(pool, server.tcp, "/bad")
        # Only that stream failed: the connection goes on.
        assert (await request(pool, server.tcp))[2] == b"ok"
    assert len(server.connections) == 1
