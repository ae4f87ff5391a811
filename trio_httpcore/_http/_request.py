"""Checks and headers every request gets, whichever protocol carries it.

Every request a pool sends passes :func:`check_request` and :func:`check_body` first: a request
that would break HTTP, or smuggle a second one onto the wire, is refused before any byte leaves.
The helpers here read raw headers and never change them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sized

from .._exceptions import LocalProtocolError, UnsupportedProtocol
from .._types import DEFAULT_PORTS, URL4, RawHeaders, a_label_error

# RFC 9110 section 5.6.2: token = 1*tchar.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 section 5.5: a field value is field-content, visible characters
# (and obs-text) with single spaces or tabs between them: no leading or
# trailing whitespace, no CR, LF, NUL, VT or FF anywhere. Exactly what h11's
# Request checks, so the HTTP/1.1 connection can build its request event
# without checking again (and HTTP/2 gets the rule RFC 9113 section 8.2.1 sets).
_FIELD_VALUE = re.compile(rb"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?")
# RFC 9112 section 3.2: the request target is visible ASCII, no spaces or controls.
_FORBIDDEN_IN_TARGET = re.compile(rb"[\x00-\x20\x7f]")
# RFC 1123 section 2.1 host names, already IDNA-encoded (the transport takes
# bytes on the wire): labels of 1 to 63 letters, digits, hyphens (and the
# underscores real names carry), an optional final dot. Or an IP literal.
_HOST_NAME = re.compile(rb"(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?")
_IP_LITERAL = re.compile(rb"\[?[0-9A-Fa-f:.]+(?:%[0-9A-Za-z._~-]+)?\]?")


def check_request(method: bytes, url: URL4, headers: RawHeaders) -> None:
    """Refuse a request that would break HTTP, before any byte of it is sent.

    The scheme must be ``http`` or ``https`` (else :class:`UnsupportedProtocol`);
    the host a DNS name in ASCII (IDNA-encoded) or an IP literal, the port
    within 1-65535; the method and every header name must be tokens, and every header value
    a field value (no CR, LF or NUL, no whitespace at either end; else
    :class:`LocalProtocolError`), so a caller's input can never smuggle a
    second header or request onto the wire. ``Content-Length`` and
    ``Transfer-Encoding`` together, the shape of request smuggling, are
    refused too: a sender must not send both (RFC 9112 section 6.2).
    """
    scheme, host, port, target = url
    if scheme not in DEFAULT_PORTS:
        raise UnsupportedProtocol(
            f"unsupported URL scheme {scheme.decode('ascii', 'replace')!r}: "
            "only 'http' and 'https' are supported"
        )
    if len(host) > 255 or not (_HOST_NAME.fullmatch(host) or _IP_LITERAL.fullmatch(host)):
        raise LocalProtocolError(
            f"invalid host {host!r} in the request URL: expected an IDNA-encoded name or an IP"
        )
    if b"-" in host and (error := a_label_error(host.decode("ascii"))) is not None:
        raise LocalProtocolError(f"invalid host {host!r} in the request URL: {error}")
    if port is not None and not 0 < port < 65536:
        raise LocalProtocolError(f"invalid port {port} in the request URL: not in 1-65535")
    if not target or _FORBIDDEN_IN_TARGET.search(target):
        raise LocalProtocolError(f"invalid request target {target!r}")
    if _TOKEN.fullmatch(method) is None:
        raise LocalProtocolError(f"invalid request method {method!r}: not an HTTP token")
    for name, value in headers:
        if _TOKEN.fullmatch(name) is None:
            raise LocalProtocolError(f"invalid header name {name!r}")
        if _FIELD_VALUE.fullmatch(value) is None:
            raise LocalProtocolError(
                f"invalid value for header {name!r}: CR, LF, NUL, or whitespace at either end"
            )
    if has_header(headers, b"content-length") and has_header(headers, b"transfer-encoding"):
        raise LocalProtocolError(
            "the request has both Content-Length and Transfer-Encoding, which a sender "
            "must not send together (RFC 9112 section 6.2)"
        )


def check_body(headers: RawHeaders, stream: object | None) -> None:
    """Refuse a ``Content-Length`` that disagrees with a body whose length is known.

    The length is known before sending for bytes in memory (a sized
    ``stream``) and for no body (``None``: 0 bytes). A streamed body's length
    shows only as it is sent, where the protocol refuses it. A value that is
    not one number is left to the protocol's own check.
    """
    lengths = {
        value.strip()
        for name, values in headers
        if name.lower() == b"content-length"
        for value in values.split(b",")
    }
    if len(lengths) != 1 or not (declared := next(iter(lengths))).isdigit():
        return
    size = 0 if stream is None else len(stream) if isinstance(stream, Sized) else None
    if size is not None and size != int(declared):
        raise LocalProtocolError(
            f"the request says Content-Length: {int(declared)} but its body is {size} bytes"
        )


def authority(url: URL4) -> bytes:
    """``host[:port]`` as the ``Host`` header or ``:authority`` carries it.

    The port is left out when it is the scheme's default (RFC 9110 section 7.2);
    an IPv6 literal is put in brackets (RFC 3986 section 3.2.2).
    """
    scheme, host, port, _ = url
    if b":" in host and not host.startswith(b"["):
        host = b"[" + host + b"]"
    if port is None or port == DEFAULT_PORTS.get(scheme):
        return host
    return b"%s:%d" % (host, port)


def has_header(headers: RawHeaders, name: bytes) -> bool:
    """Whether ``headers`` holds a field called ``name`` (given in lower case)."""
    return any(key.lower() == name for key, _ in headers)


def header_value(headers: RawHeaders, name: bytes) -> bytes | None:
    """The first value of field ``name`` (given in lower case), or ``None``."""
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


# Request fields a multiplexed protocol does not carry: HTTP/2 and HTTP/3 have
# their own framing and connection management, and a stream with these is
# malformed (RFC 9113 section 8.2.2, RFC 9114 section 4.2). ``Host`` becomes
# ``:authority``.
CONNECTION_SPECIFIC_FIELDS = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade", b"host"}
)


def multiplexed_fields(headers: RawHeaders) -> Iterator[tuple[bytes, bytes]]:
    """A request's fields as HTTP/2 and HTTP/3 carry them, after its pseudo-fields.

    Names in lower case; :data:`CONNECTION_SPECIFIC_FIELDS` dropped; ``TE``
    kept only when it says ``trailers`` (RFC 9113 section 8.2.2, RFC 9114
    section 4.2).
    """
    for name, value in headers:
        name = name.lower()
        if name in CONNECTION_SPECIFIC_FIELDS:
            continue
        if name == b"te" and value.lower() != b"trailers":
            continue
        yield name, value
