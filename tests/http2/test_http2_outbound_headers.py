"""Request header blocks go to h2 without its outbound normalisation and validation.

The connection turns both off (``validate_outbound_headers=False,
normalize_outbound_headers=False``): every request passed ``check_request``
and ``request_headers`` builds the block h2 would have made of it. These
tests hold that to account for any request: one ``check_request`` and
``request_headers`` let through, h2 with both stages on accepts, and puts
the same bytes on the wire; a request h2 would refuse never gets that far.
"""

from __future__ import annotations

from typing import Any

import h2.config
import h2.connection
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.support.pool import request
from tests.support.servers import Server
from trio_httpcore import LocalProtocolError, UnsupportedProtocol
from trio_httpcore._http._request import check_request
from trio_httpcore._http2._headers import request_headers

H2C = {"http1": False, "http2": True}

# Bytes that decide the rules: token characters of both cases, separators,
# whitespace and the forbidden controls, a pseudo-header's colon, obs-text.
ALPHABET = [*b"aZ09-_!~.:;/ \t", 0x00, 0x0A, 0x0D, 0x0B, 0x7F, 0xFF]
NAMES = [
    b"Host",
    b"host",
    b"Connection",
    b"keep-alive",
    b"Proxy-Connection",
    b"Transfer-Encoding",
    b"upgrade",
    b"TE",
    b"Authorization",
    b"proxy-authorization",
    b"Cookie",
    b":path",
    b":status",
    b"X-Mixed-Case",
    b"",
]
VALUES = [b"", b"trailers", b"Trailers", b" trailers", b"gzip", b"a=b", b"c" * 19, b"c" * 20]


def _bytes(known: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.sampled_from(known),
        st.lists(st.sampled_from(ALPHABET), max_size=6).map(bytes),
    )


requests = st.tuples(
    _bytes([b"GET", b"POST", b"CONNECT", b"get", b"OPTIONS"]),
    st.tuples(
        st.sampled_from([b"http", b"https", b"ftp"]),
        _bytes([b"example.com", b"::1", b"127.0.0.1", b"xn--bcher-kva.example"]),
        st.sampled_from([None, 80, 443, 8080, 0, 70000]),
        _bytes([b"/", b"/path?q=1", b"*", b""]),
    ),
    st.lists(st.tuples(_bytes(NAMES), _bytes(VALUES)), max_size=5),
)


def _wire(block: list[Any], *, h2_normalises: bool) -> bytes:
    """The bytes a fresh client connection sends for ``block`` on two streams.

    Twice, so that what the first block put in the HPACK table (or kept out
    of it) shows in the second.
    """
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=h2_normalises,
            normalize_outbound_headers=h2_normalises,
        )
    )
    conn.initiate_connection()
    conn.clear_outbound_data_buffer()
    conn.send_headers(1, block, end_stream=True)
    conn.send_headers(3, block, end_stream=True)
    return conn.data_to_send()


@given(requests)
@example((b"GET", (b"http", b"example.com", None, b"/"), [(b"Cookie", b"c" * 19)]))
@example((b"GET", (b"http", b"example.com", None, b"/"), [(b"TE", b"Trailers")]))
@example((b"CONNECT", (b"http", b"example.com", None, b"/"), []))
def test_what_we_let_through_h2_accepts_and_sends_unchanged(request_: Any) -> None:
    method, url, headers = request_
    try:
        check_request(method, url, headers)
        block = request_headers(method, url, headers)
    except (LocalProtocolError, UnsupportedProtocol):
        return
    # What the connection sent before: plain tuples, normalised and validated by h2.
    plain = [(name, value) for name, value in block]
    assert _wire(block, h2_normalises=False) == _wire(plain, h2_normalises=True)


async def test_connect_is_refused_before_h2_hears_of_it(make_pool: Any, h2c_server: Server) -> None:
    """CONNECT (RFC 9113 section 8.5) fails alone; the connection serves the next request.

    It fails before h2 opens a stream for it: the stream limit still counts
    only the streams really sent.
    """
    async with make_pool(**H2C) as pool:
        status, *_ = await request(pool, h2c_server)
        assert status == 200
        with pytest.raises(LocalProtocolError, match="CONNECT"):
            await request(pool, h2c_server, method=b"CONNECT")
        (connection,) = pool._connections
        assert connection.protocol.state.h2_open_streams() == 0
        status, *_ = await request(pool, h2c_server)
        assert status == 200
