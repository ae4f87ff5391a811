"""HTTP/2 header blocks (RFC 9113 sections 8.2, 8.3): the requests we send, the responses we take.

A request block is built to meet every rule h2's outbound checks enforce, so
those are off (:func:`request_headers`). A received block is checked here
instead of by h2's per-byte pipeline, refusing exactly what h2 refuses, with
h2's ``ProtocolError`` (:func:`check_response_fields`, a property test holds
it to that); :class:`ResponseFieldsChecker` remembers the blocks it passed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import h2.exceptions
from hpack import NeverIndexedHeaderTuple

from .._exceptions import LocalProtocolError, RemoteProtocolError
from .._http import authority, header_value
from .._types import URL4, RawHeaders
from ._hpack import remember

if TYPE_CHECKING:
    from hpack.struct import Header

# Request fields that would make a stream malformed (RFC 9113 section 8.2.2).
CONNECTION_SPECIFIC_HEADERS = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade", b"host"}
)

# Fields kept out of the HPACK dynamic table (RFC 7541 section 7.1.3), as
# h2's outbound normalisation marks them: credentials always, cookies below
# this length (short enough to guess from the compressed size).
NEVER_INDEXED_HEADERS = frozenset({b"authorization", b"proxy-authorization"})
NEVER_INDEXED_COOKIE_BELOW = 20

# A regular field name: not empty, and no byte in 0x00-0x20, 0x41-0x5A (upper
# case), 0x7F-0xFF, nor a colon (RFC 9113 section 8.2.1).
_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x40\x5b-\x7e]+")

# What makes a field value malformed: NUL, CR or LF anywhere, SP or HTAB at
# either end (RFC 9113 section 8.2.1). An empty value is allowed.
_BAD_FIELD_VALUE = re.compile(rb"[\x00\n\r]|\A[ \t]|[ \t]\Z")

# Connection-specific fields (RFC 9113 section 8.2.2), as h2 refuses them in
# a received block: ``host`` is allowed (it means nothing in a response).
_CONNECTION_SPECIFIC = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)


def check_response_fields(fields: Iterable[tuple[bytes, bytes]], *, trailers: bool) -> None:
    """Raise ``h2.exceptions.ProtocolError`` unless ``fields`` is a well-formed response block.

    A response head (interim or final) carries one pseudo-header field,
    ``:status``, exactly once and before every regular field; trailers carry
    none (RFC 9113 section 8.3). Names and values follow section 8.2.1, no
    connection-specific field appears, and ``te`` may only say ``trailers``
    (section 8.2.2).
    """
    status_allowed = not trailers  # until :status or a regular field is seen
    status_missing = not trailers
    for name, value in fields:
        if name[:1] == b":":
            if name != b":status" or not status_allowed:
                raise h2.exceptions.ProtocolError(
                    f"Received pseudo-header field {name!r} where it is not allowed"
                )
            status_allowed = status_missing = False
        else:
            status_allowed = False
            if _FIELD_NAME.fullmatch(name) is None:
                raise h2.exceptions.ProtocolError(f"Received malformed header name {name!r}")
            if name in _CONNECTION_SPECIFIC:
                raise h2.exceptions.ProtocolError(
                    f"Connection-specific header field present: {name!r}"
                )
            if name == b"te" and value.lower() != b"trailers":
                raise h2.exceptions.ProtocolError(f"Invalid value for TE header: {value!r}")
        if _BAD_FIELD_VALUE.search(value) is not None:
            raise h2.exceptions.ProtocolError(f"Received malformed header value {value!r}")
    if status_missing:
        raise h2.exceptions.ProtocolError("Header block missing mandatory b':status' header")


class ResponseFieldsChecker:
    """:func:`check_response_fields` for one connection, remembering the blocks it passed.

    The check depends on nothing but the fields and the kind of block, so a
    block equal to one that passed passes: one look-up instead of a pass
    over its fields. Failures are not remembered (the connection ends).
    """

    def __init__(self) -> None:
        self._accepted: dict[tuple[bool, tuple[tuple[bytes, bytes], ...]], None] = {}

    def check(self, fields: Sequence[tuple[bytes, bytes]], *, trailers: bool) -> None:
        """Raise ``h2.exceptions.ProtocolError`` unless ``fields`` is well formed."""
        key = (trailers, tuple(fields))
        if key in self._accepted:
            return
        check_response_fields(fields, trailers=trailers)
        remember(self._accepted, key, None)


def request_headers(method: bytes, url: URL4, headers: RawHeaders) -> list[Header]:
    """The header block of a request (RFC 9113 section 8.3.1), for h2 to send as it is.

    The request passed ``check_request``: method and names are tokens, values
    field values without whitespace at either end, the target is not empty.
    Pseudo-header fields come first, each once; ``:authority`` is the
    caller's ``Host`` if given, else the URL's authority. Names are lower
    case, and connection-specific fields are dropped (section 8.2.2): HTTP/2
    has its own framing and connection management. ``TE`` may only say
    ``trailers``. Credentials and short cookies are never indexed (RFC 7541
    section 7.1.3). That is the block h2's outbound normalisation and
    validation would give, and pass, which are therefore turned off.

    CONNECT is refused (:class:`LocalProtocolError`): over HTTP/2 it carries
    no ``:scheme`` nor ``:path`` (section 8.5), and tunnels are not offered.
    """
    if method == b"CONNECT":
        raise LocalProtocolError("CONNECT is not supported over HTTP/2")
    scheme, _, _, target = url
    block: list[Header] = [
        (b":method", method),
        (b":authority", header_value(headers, b"host") or authority(url)),
        (b":scheme", scheme),
        (b":path", target),
    ]
    for name, value in headers:
        name = name.lower()
        if name in CONNECTION_SPECIFIC_HEADERS:
            continue
        if name == b"te" and value.lower() != b"trailers":
            continue
        if name in NEVER_INDEXED_HEADERS or (
            name == b"cookie" and len(value) < NEVER_INDEXED_COOKIE_BELOW
        ):
            block.append(NeverIndexedHeaderTuple(name, value))
        else:
            block.append((name, value))
    return block


def response_head(headers: list[tuple[bytes, bytes]]) -> tuple[int, RawHeaders]:
    """``(status, headers)`` from a response header block, pseudo-header fields removed.

    The status code is three digits (RFC 9110 section 15, RFC 9113 section
    8.3.2), as HTTP/1.1 responses must have it; anything else (which h2 lets
    through, and ``int`` would read as ``-1`` or ``2_00``, or fail with a
    ``ValueError``) is :class:`RemoteProtocolError`.
    """
    # The block was checked: exactly one :status, first.
    status = next(value for name, value in headers if name == b":status")
    if len(status) != 3 or not status.isdigit():
        raise RemoteProtocolError(f"malformed :status {status!r} in an HTTP/2 response")
    return int(status), [(name, value) for name, value in headers if not name.startswith(b":")]
