"""Which origins a pool tries over HTTP/3, on which UDP port, and which failed lately.

An origin is tried over HTTP/3 when the pool was told to (prior knowledge)
or when a response from it advertised ``h3`` in ``Alt-Svc`` (RFC 7838),
remembered for its ``ma`` (max-age) as browsers do. A failed QUIC handshake
marks the origin broken for a while: it goes over TCP meanwhile. I/O-free;
the caller passes the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .._types import Origin, RawHeaders

HTTP3Mode = Literal["alt-svc", "prior", "only"]

# RFC 7838 section 3.1: an alternative without "ma" is fresh for 24 hours.
DEFAULT_MAX_AGE = 86400.0
# How long an origin whose QUIC handshake failed is not tried over QUIC again
# (Chromium starts at five minutes, too).
BROKEN_FOR = 300.0
# The ALPN ids of HTTP/3 (RFC 9114 section 3.1); drafts' "h3-29" are not spoken.
H3_PROTOCOL_IDS = frozenset({"h3"})


@dataclass(frozen=True)
class Alternative:
    """One entry of an ``Alt-Svc`` field: protocol id, host ("" for the same), port, max-age."""

    protocol: str
    host: str
    port: int
    max_age: float


def parse_alt_svc(value: str) -> list[Alternative] | None:
    """The alternatives of one ``Alt-Svc`` field value (RFC 7838 section 3); ``None`` for clear.

    Entries that do not parse are skipped, as the RFC asks of a client.
    """
    if value.strip() == "clear":
        return None
    alternatives = []
    for entry in _split_outside_quotes(value, ","):
        protocol, _, rest = entry.partition("=")
        parameters = _split_outside_quotes(rest, ";")
        if not parameters:
            continue
        authority = parameters[0].strip()
        if len(authority) < 2 or authority[0] != '"' or authority[-1] != '"':
            continue
        host, _, port_text = authority[1:-1].rpartition(":")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            continue
        max_age = DEFAULT_MAX_AGE
        for parameter in parameters[1:]:
            name, _, number = parameter.strip().partition("=")
            if name.strip().lower() == "ma" and number.strip().isdigit():
                max_age = float(number.strip())
        alternatives.append(Alternative(protocol.strip(), host, int(port_text), max_age))
    return alternatives


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


class HTTP3Policy:
    """A pool's memory of HTTP/3 per origin: advertised ports, broken origins.

    ``mode`` is ``"alt-svc"`` (only origins that advertised ``h3``),
    ``"prior"`` (every ``https`` origin, by prior knowledge, falling back to
    TCP) or ``"only"`` (every ``https`` origin, no fallback). Only
    alternatives on the origin's own host are used: the certificate is
    checked against the origin's name all the same (RFC 7838 section 2.1).
    """

    def __init__(self, mode: HTTP3Mode) -> None:
        self.mode: HTTP3Mode = mode
        self._advertised: dict[Origin, tuple[int, float]] = {}  # port, expiry
        self._broken_until: dict[Origin, float] = {}

    def target(self, origin: Origin, now: float) -> int | None:
        """The UDP port to try ``origin`` on over HTTP/3 now, or ``None`` for TCP."""
        scheme, _, port = origin
        if scheme != b"https":
            return None
        if self.mode == "only":
            return self._advertised_port(origin, now) or port
        if self._broken_until.get(origin, 0.0) > now:
            return None
        advertised = self._advertised_port(origin, now)
        if advertised is not None:
            return advertised
        return port if self.mode == "prior" else None

    def _advertised_port(self, origin: Origin, now: float) -> int | None:
        entry = self._advertised.get(origin)
        if entry is None:
            return None
        port, expires = entry
        if expires <= now:
            del self._advertised[origin]
            return None
        return port

    def observe(self, origin: Origin, headers: RawHeaders, now: float) -> bool:
        """Remember what a response from ``origin`` said in ``Alt-Svc``, if anything.

        ``True`` if it newly made the origin one to try over HTTP/3.
        """
        if origin[0] != b"https":
            return False
        before = self.target(origin, now)
        for name, value in headers:
            if name.lower() != b"alt-svc":
                continue
            alternatives = parse_alt_svc(value.decode("latin-1"))
            if alternatives is None:
                self._advertised.pop(origin, None)
                continue
            for alternative in alternatives:
                same_host = alternative.host in ("", origin[1].decode("ascii"))
                if alternative.protocol in H3_PROTOCOL_IDS and same_host:
                    self._advertised[origin] = (alternative.port, now + alternative.max_age)
                    break
        return before is None and self.target(origin, now) is not None

    def failed(self, origin: Origin, now: float) -> None:
        """The QUIC handshake with ``origin`` failed: use TCP for it for a while."""
        self._broken_until[origin] = now + BROKEN_FOR

    def succeeded(self, origin: Origin) -> None:
        self._broken_until.pop(origin, None)
