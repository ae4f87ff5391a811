"""The header sections of HTTP/3 requests and responses (RFC 9114 section 4.3)."""

from __future__ import annotations

from .._exceptions import LocalProtocolError, RemoteProtocolError
from .._http import authority, header_value, multiplexed_fields
from .._types import URL4, RawHeaders


def request_headers(method: bytes, url: URL4, headers: RawHeaders) -> list[tuple[bytes, bytes]]:
    """The header section of a request (RFC 9114 section 4.3.1): pseudo-fields first.

    ``:authority`` is the caller's ``Host`` if given, else the URL's authority;
    names are lower case; connection-specific fields are dropped (section
    4.2), and ``TE`` may only say ``trailers``. CONNECT is refused: tunnels
    are not offered.
    """
    if method == b"CONNECT":
        raise LocalProtocolError("CONNECT is not supported over HTTP/3")
    scheme, _, _, target = url
    return [
        (b":method", method),
        (b":scheme", scheme),
        (b":authority", header_value(headers, b"host") or authority(url)),
        (b":path", target),
        *multiplexed_fields(headers),
    ]


def response_head(headers: list[tuple[bytes, bytes]]) -> tuple[int, RawHeaders]:
    """``(status, headers)`` from a response header section (RFC 9114 section 4.3.2).

    aioquic checked the section (one ``:status``, first); the status must be
    three digits, as every HTTP version has it.
    """
    status = next((value for name, value in headers if name == b":status"), b"")
    if len(status) != 3 or not status.isdigit():
        raise RemoteProtocolError(f"malformed :status {status!r} in an HTTP/3 response")
    return int(status), [(name, value) for name, value in headers if not name.startswith(b":")]
