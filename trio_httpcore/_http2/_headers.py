"""The rules a received HTTP/2 header block must meet (RFC 9113 sections 8.2 and 8.3).

h2 checks them (``validate_inbound_headers``) with a pipeline of generators
and a Python loop over every byte of every name and value: more CPU time
than the rest of a small response. :func:`check_response_fields` checks the
same rules with a regular expression per field and set look-ups, and
refuses exactly the blocks h2 refuses (a property test in tests/http2 holds
it to that), with h2's ``ProtocolError``: the connection then ends as h2
ends it for a malformed block. :class:`ResponseFieldsChecker` remembers the
blocks it passed, as servers repeat them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import h2.exceptions

from ._hpack import remember

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
