"""Types shared by every layer, and small helpers over them.

A request's URL is a ``URL4`` of bytes ``(scheme, host, port, target)`` and its headers a list of
byte pairs: the transport never parses a URL string. Timeouts travel in the request's ``ext`` as
seconds per phase, ``None`` meaning no limit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Literal

import trio

URL4 = tuple[bytes, bytes, "int | None", bytes]
"""``(scheme, host, port, target)``; ``port=None`` is the scheme's default."""

RawHeaders = list[tuple[bytes, bytes]]
"""Header fields as ``(name, value)`` byte pairs, in order."""

Extensions = dict[str, Any]
"""The ``ext`` dictionaries of requests and responses."""

TimeoutPhase = Literal["connect", "read", "write", "pool", "head"]

DEFAULT_PORTS = {b"http": 80, b"https": 443}

Origin = tuple[bytes, bytes, int]
"""``(scheme, host, port)`` with the port filled in: the key connections are pooled by."""


def url_origin(url: URL4) -> Origin:
    """The pooling key of ``url``: scheme, lower-cased host, explicit port."""
    scheme, host, port, _ = url
    if port is None:
        port = DEFAULT_PORTS[scheme]
    return scheme, host.lower(), port


def origin_text(origin: Origin) -> str:
    """``scheme://host:port``, for error messages."""
    scheme, host, port = origin
    shown = f"[{host.decode('ascii')}]" if b":" in host else host.decode("ascii")
    return f"{scheme.decode('ascii')}://{shown}:{port}"


def get_timeout(ext: Mapping[str, Any] | None, phase: TimeoutPhase) -> float | None:
    """The timeout in seconds for ``phase`` from ``ext["timeout"]``, ``None`` for no limit."""
    if not ext:
        return None
    timeouts = ext.get("timeout")
    if not timeouts:
        return None
    value = timeouts.get(phase)
    return None if value is None else float(value)


def a_label_error(host: str) -> str | None:
    """Why an ASCII host name holds an invalid A-label, or ``None`` when it holds none.

    A label starting ``xn--`` is an A-label: the Punycode (RFC 3492) of a
    label with non-ASCII characters (RFC 5890 section 2.3.2.1). One that is
    empty, does not decode, decodes to ASCII only or to a control character,
    or is not the encoding of what it decodes to, is invalid. Beyond that no
    IDNA 2008 rule is applied: names it refuses (emoji) exist and resolve.
    """
    for label in host.split("."):
        if label[:4].lower() != "xn--":
            continue
        encoded = label[4:].lower()
        try:
            decoded = encoded.encode("ascii").decode("punycode")
        except UnicodeError:
            return f"the A-label {label!r} is not Punycode"
        if (
            decoded.isascii()
            or not decoded.isprintable()
            or decoded.encode("punycode").decode("ascii") != encoded
        ):
            return f"the A-label {label!r} does not encode a Unicode label"
    return None


def fail_after(seconds: float | None) -> AbstractContextManager[Any]:
    """``trio.fail_after(seconds)``, or nothing at all when there is no limit."""
    if seconds is None:
        return contextlib.nullcontext()
    return trio.fail_after(seconds)
