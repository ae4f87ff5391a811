"""HTTP/2 header blocks (RFC 9113 sections 8.2, 8.3): the requests we send, the responses we take.

A request block is built to meet every rule h2's outbound checks enforce, so
those are off (:func:`request_headers`). A received block is checked here
instead of by h2's per-byte pipeline: it refuses what h2 refuses, with h2's
``ProtocolError``, but drops connection-specific fields h2 would refuse
(:func:`check_response_fields`; a property test holds it to h2's rules).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import h2.exceptions
from hpack import NeverIndexedHeaderTuple

from .._exceptions import LocalProtocolError, RemoteProtocolError
from .._http import authority, header_value, multiplexed_fields
from .._types import URL4, RawHeaders
from ._hpack import remember

if TYPE_CHECKING:
    from hpack.struct import Header

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

# Connection-specific fields (RFC 9113 section 8.2.2) in a received block:
# dropped, not refused (``host`` means nothing in a response; it stays).
_CONNECTION_SPECIFIC = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)

Fields = Sequence[tuple[bytes, bytes]]


def _dropped(name: bytes, value: bytes) -> bool:
    """Whether a received field is connection-specific: ``TE`` other than ``trailers`` too."""
    return name in _CONNECTION_SPECIFIC or (name == b"te" and value.lower() != b"trailers")


def check_response_fields(fields: Fields, *, trailers: bool) -> list[tuple[bytes, bytes]] | None:
    """Check a received response block; ``None`` if it stands as it is, else what is kept.

    A response head (interim or final) carries one pseudo-header field,
    ``:status``, exactly once and before every regular field; trailers carry
    none (RFC 9113 section 8.3). Names and values follow section 8.2.1, else
    ``h2.exceptions.ProtocolError`` (the block is malformed). Connection-specific
    fields and a ``te`` other than ``trailers`` (section 8.2.2) are dropped,
    as browsers and curl drop them (a gateway may pass on an HTTP/1.1 ``Upgrade``):
    the rest of the block is returned without them, and is checked as if they
    were not there.
    """
    status_allowed = not trailers  # until :status or a regular field is seen
    status_missing = not trailers
    dropping = False
    for name, value in fields:
        if name[:1] == b":":
            if name != b":status" or not status_allowed:
                raise h2.exceptions.ProtocolError(
                    f"Received pseudo-header field {name!r} where it is not allowed"
                )
            status_allowed = status_missing = False
        else:
            if _FIELD_NAME.fullmatch(name) is None:
                raise h2.exceptions.ProtocolError(f"Received malformed header name {name!r}")
            if _dropped(name, value):
                dropping = True
                continue
            status_allowed = False
        if _BAD_FIELD_VALUE.search(value) is not None:
            raise h2.exceptions.ProtocolError(f"Received malformed header value {value!r}")
    if status_missing:
        raise h2.exceptions.ProtocolError("Header block missing mandatory b':status' header")
    if not dropping:
        return None
    return [
        (name, value) for name, value in fields if name[:1] == b":" or not _dropped(name, value)
    ]


class ResponseFieldsChecker:
    """:func:`check_response_fields` for one connection, remembering the blocks it passed.

    The check depends on nothing but the fields and the kind of block, so a
    block equal to one that passed passes, with the same fields kept: one
    look-up instead of a pass over its fields. Failures are not remembered.
    """

    def __init__(self) -> None:
        self._accepted: dict[tuple[bool, Fields], list[tuple[bytes, bytes]] | None] = {}

    def check(self, fields: Fields, *, trailers: bool) -> list[tuple[bytes, bytes]] | None:
        """``None`` if ``fields`` is well formed as it is, else the fields kept; or raise."""
        key = (trailers, tuple(fields))
        try:
            return self._accepted[key]
        except KeyError:
            kept = check_response_fields(fields, trailers=trailers)
            remember(self._accepted, key, kept)
            return kept


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
    for name, value in multiplexed_fields(headers):
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
