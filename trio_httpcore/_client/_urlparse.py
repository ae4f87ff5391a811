"""The components of a URL, each parsed and normalised on its own (RFC 3986).

Each function takes one component's text and returns it normalised, or
raises :class:`~trio_httpcore.InvalidURL`: a component can hold only what
that component may hold (anything else is percent-encoded, or refused for a
host, a port or a scheme), so no component can rewrite another.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable
from urllib.parse import unquote

import idna

from .._exceptions import InvalidURL

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# RFC 3986 appendix B: the regular expression that splits any URI reference.
URI_REFERENCE = re.compile(
    r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.S
)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")
_PERCENT_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")

# RFC 3986 section 2.2 and 2.3.
UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
SUB_DELIMS = frozenset("!$&'()*+,;=")
# What each component may hold unescaped (section 3.2.1, 3.3, 3.4, 3.5), besides "%XX".
USERINFO_SAFE = UNRESERVED | SUB_DELIMS | {":"}
PATH_SAFE = UNRESERVED | SUB_DELIMS | {":", "@", "/"}
QUERY_SAFE = PATH_SAFE | {"?"}
# A reg-name (section 3.2.2) may hold unreserved, sub-delims and escapes; we
# decode escapes before IDNA, so only these remain legal in the encoded host.
HOST_SAFE = UNRESERVED | SUB_DELIMS


def _fix_escape(match: re.Match[str]) -> str:
    """One ``%XX``: decoded when it stands for an unreserved character, else upper-cased."""
    char = chr(int(match.group(1), 16))
    return char if char in UNRESERVED else match.group(0).upper()


@functools.cache
def _only(safe: frozenset[str]) -> Callable[[str], re.Match[str] | None]:
    """``fullmatch`` of a text made of ``safe`` characters only (no ``%`` in any set)."""
    return re.compile("[" + "".join(re.escape(char) for char in sorted(safe)) + "]*").fullmatch


def quote(text: str, safe: frozenset[str]) -> str:
    """Percent-encode (UTF-8) each character of ``text`` that is not in ``safe``.

    Valid ``%XX`` escapes are kept and normalised (RFC 3986 section 6.2.2.1
    and 6.2.2.2); a ``%`` that starts no escape is encoded as ``%25``.
    """
    # Most components need nothing done: one regular-expression match tells, where
    # the character loop of quote_chars() costs a step per character.
    if _only(safe)(text):
        return text
    return quote_chars(text, safe)


def quote_chars(text: str, safe: frozenset[str]) -> str:
    """:func:`quote`, one character at a time."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        escape = _PERCENT_ESCAPE.match(text, i) if char == "%" else None
        if escape is not None:
            out.append(_fix_escape(escape))
            i += 3
            continue
        if char in safe:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(out)


def remove_dot_segments(path: str) -> str:
    """Resolve ``.`` and ``..`` segments of ``path`` (RFC 3986 section 5.2.4, step by step)."""
    if "." not in path:
        return path
    output: list[str] = []
    while path:
        if path.startswith("../"):
            path = path[3:]
        elif path.startswith(("./", "/./")):
            path = path[2:]
        elif path == "/.":
            path = "/"
        elif path.startswith("/../") or path == "/..":
            path = "/" + path[4:]
            if output:
                output.pop()
        elif path in (".", ".."):
            path = ""
        else:
            end = path.find("/", 1)
            end = len(path) if end < 0 else end
            output.append(path[:end])
            path = path[end:]
    return "".join(output)


def _ipv6_text(address: ipaddress.IPv6Address) -> str:
    """RFC 5952 section 4 text: lower-case hex groups, the longest run of zero groups as "::".

    Written out here because Python 3.13 began to print IPv4-mapped addresses
    with a dotted tail (``::ffff:1.2.3.4``): a URL must not change with the
    interpreter.
    """
    value = int(address)
    groups = [f"{(value >> shift) & 0xFFFF:x}" for shift in range(112, -1, -16)]
    best_start, best_length = -1, 1  # a single zero group is not shortened
    start = 0
    while start < len(groups):
        end = start
        while end < len(groups) and groups[end] == "0":
            end += 1
        if end - start > best_length:
            best_start, best_length = start, end - start
        start = max(end, start + 1)
    text = ":".join(groups)
    if best_start >= 0:
        head = ":".join(groups[:best_start])
        tail = ":".join(groups[best_start + best_length :])
        text = f"{head}::{tail}"
    return text if address.scope_id is None else f"{text}%{address.scope_id}"


def encode_host(host: str) -> str:
    """The normalised ASCII form of a host: an IP literal, or an IDNA-encoded name."""
    if host.startswith("["):
        if not host.endswith("]"):
            raise InvalidURL(f"Invalid IPv6 address: {host!r} lacks its closing bracket.")
        literal = host[1:-1]
        try:
            return _ipv6_text(ipaddress.IPv6Address(literal))
        except ValueError as exc:
            raise InvalidURL(f"Invalid IPv6 address {literal!r}: {exc}") from exc
    if "%" in host:
        try:
            host = unquote(host, errors="strict")
        except UnicodeDecodeError as exc:
            raise InvalidURL(f"Invalid host {host!r}: its escapes are not UTF-8.") from exc
    if host.isascii():
        host = host.lower()
        if not all(char in HOST_SAFE for char in host):
            raise InvalidURL(f"Invalid host {host!r}: it holds a character a host may not have.")
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidURL(f"Invalid IDNA host name {host!r}: {exc}") from exc


def split_authority(authority: str) -> tuple[str, str, int | None]:
    """``userinfo``, ``host`` and ``port`` of an authority (RFC 3986 section 3.2)."""
    userinfo, _, hostport = authority.rpartition("@")
    if hostport.startswith("["):
        end = hostport.find("]")
        host, rest = (hostport, "") if end < 0 else (hostport[: end + 1], hostport[end + 1 :])
        if rest and not rest.startswith(":"):
            raise InvalidURL(f"Invalid authority {authority!r}: junk after the IPv6 address.")
        port_text = rest[1:]
    else:
        host, _, port_text = hostport.partition(":")
    port: int | None = None
    if port_text:
        if not port_text.isdigit() or not port_text.isascii() or int(port_text) > 65535:
            raise InvalidURL(f"Invalid port {port_text!r}: it must be a number 0-65535.")
        port = int(port_text)
    return userinfo, host, port


def scheme_component(scheme: str) -> str:
    """A scheme given alone (RFC 3986 section 3.1), lower-cased; ``""`` for none."""
    if scheme and not SCHEME.match(scheme):
        raise InvalidURL(f"Invalid scheme {scheme!r}: a letter, then letters, digits, + - or .")
    return scheme.lower()


def port_component(port: int | None) -> int | None:
    """A port given alone: ``None`` or an integer 0-65535."""
    if port is not None and (type(port) is not int or not 0 <= port <= 65535):
        raise InvalidURL(f"Invalid port {port!r}: it must be a number 0-65535.")
    return port


def host_component(host: str) -> str:
    """A host given alone, encoded as in a URL: an IPv6 address may come without brackets."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return encode_host(host)


def authority_component(authority: str) -> tuple[str, str, int | None]:
    """``(userinfo, host, port)`` of an authority given alone, each normalised."""
    if any(char in authority for char in "/?#\\"):
        raise InvalidURL(f"Invalid authority {authority!r}: it holds a '/', '?', '#' or '\\'.")
    userinfo, host, port = split_authority(authority)
    return quote(userinfo, USERINFO_SAFE), encode_host(host), port


def text_component(value: str | bytes, what: str) -> str:
    """A component given as ``str``, or as ASCII ``bytes`` (httpx's raw forms)."""
    if isinstance(value, bytes):
        try:
            return value.decode("ascii")
        except UnicodeDecodeError as exc:
            raise InvalidURL(f"The {what} given as bytes must be ASCII: {value!r}") from exc
    if not isinstance(value, str):
        raise TypeError(f"The {what} of a URL is str or bytes, not {type(value).__name__}.")
    return value
