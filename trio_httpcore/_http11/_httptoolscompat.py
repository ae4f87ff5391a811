"""The optional accelerator: response heads parsed by httptools (llhttp); the one module naming it.

It parses only heads that h11 would read the same way and accept as far as llhttp checks; for
any other head (or without httptools, or with ``TRIO_HTTPCORE_NO_HTTPTOOLS=1``) it answers
``None`` and h11 reads the head itself, so h11 stays the reference for every rule and error.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .._types import RawHeaders

# Bytes h11 refuses in a field value and that llhttp might not.
_REFUSED_BY_H11 = b"\x00\x0b\x0c"


def _left_to_h11(head: bytes | bytearray) -> bool:
    """Whether ``head`` has what h11 reads otherwise than llhttp, or where the two could disagree.

    A bare CR or LF (h11 ends lines at LF); NUL, VT or FF (h11 refuses them in
    a field value); white space before a line end (h11 strips it from a field
    value, keeps it in a reason phrase); obs-fold, a line starting with white
    space, which h11 joins to the line above (RFC 9112 section 5.2). A few
    scans of the bytes: a regular expression for the same was as slow as the
    parse it guards.
    """
    crlf = head.count(b"\r\n")
    return (
        head.count(b"\r") != crlf
        or head.count(b"\n") != crlf
        or len(head.translate(None, _REFUSED_BY_H11)) != len(head)
        or b" \r\n" in head
        or b"\t\r\n" in head
        or b"\r\n " in head
        or b"\r\n\t" in head
    )


class _Collector:
    """The callbacks httptools calls while it parses one head."""

    __slots__ = ("headers", "reason")

    def __init__(self) -> None:
        self.headers: RawHeaders = []
        self.reason = b""

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))


# A parsed head: (status code, reason phrase, HTTP version, header fields).
ParsedHead = tuple[int, bytes, bytes, RawHeaders]


def _parse_head(head: bytes | bytearray) -> ParsedHead | None:
    """The parts of a whole response head (up to and with its blank line), or ``None``.

    ``None``: leave the head to h11, which parses it (or refuses it) by its own rules.
    """
    if head[:1] in (b"\r", b"\n") or _left_to_h11(head):
        return None
    collector = _Collector()
    parser = HttpResponseParser(collector)
    try:
        parser.feed_data(head)
    except Exception:
        # Refused by llhttp (or a 101, which it reports as an error): h11
        # decides. Not caught by httptools' classes: where the errors module
        # is loaded twice (seen under pytest-cov), its parser raises classes
        # that are not the ones httptools exports. The callbacks only append.
        return None
    return (
        parser.get_status_code(),
        collector.reason,
        parser.get_http_version().encode("ascii"),
        collector.headers,
    )


ParseHead = Callable[[bytes | bytearray], "ParsedHead | None"]

# The head parser when httptools is installed and not turned off, else None.
parse_head: ParseHead | None
try:
    if os.environ.get("TRIO_HTTPCORE_NO_HTTPTOOLS"):
        raise ImportError("turned off by TRIO_HTTPCORE_NO_HTTPTOOLS")
    from httptools import HttpResponseParser
except ImportError:
    parse_head = None
else:
    parse_head = _parse_head
