"""``-w/--write-out``: curl's format language, filled in from the transfer's record.

``%{name}`` is a variable, ``%header{name}`` a response header, ``%%`` a
percent sign, and ``\\n``, ``\\r``, ``\\t`` the usual escapes; times are
seconds with six decimals, as curl writes them. An unknown variable writes
nothing and a warning, as curl does.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ._timings import Transfer


def _seconds(value: float) -> str:
    return f"{value:.6f}"


_VARIABLES: dict[str, Callable[[Transfer], str]] = {
    "http_code": lambda t: f"{t.http_code:03d}",
    "response_code": lambda t: f"{t.http_code:03d}",
    "http_version": lambda t: t.http_version.removeprefix("HTTP/") or "0",
    "size_download": lambda t: str(t.received),
    "content_type": lambda t: t.content_type,
    "url_effective": lambda t: t.url_effective,
    "num_redirects": lambda t: str(t.num_redirects),
    "remote_ip": lambda t: t.remote_ip,
    "time_namelookup": lambda t: _seconds(t.since_start(t.namelookup)),
    "time_connect": lambda t: _seconds(t.since_start(t.connect)),
    "time_appconnect": lambda t: _seconds(t.since_start(t.appconnect)),
    "time_pretransfer": lambda t: _seconds(t.since_start(t.ready)),
    "time_starttransfer": lambda t: _seconds(t.since_start(t.starttransfer)),
    "time_total": lambda t: _seconds(t.since_start(t.finished)),
}
"""Each ``%{name}`` this tool knows, and how it reads the record."""

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}
_TOKEN = re.compile(r"%%|%\{([^}]*)\}|%header\{([^}]*)\}|\\([nrt])")


def write_out(
    template: str, transfer: Transfer, extra: dict[str, str], warn: Callable[[str], None]
) -> str:
    """``template`` with every variable filled in; ``extra`` adds variables (``exitcode``)."""

    def fill(found: re.Match[str]) -> str:
        text = found[0]
        if text == "%%":
            return "%"
        if found[3] is not None:
            return _ESCAPES[found[3]]
        if found[2] is not None:
            return transfer.headers.get(found[2].lower(), "")
        name = found[1]
        if name in extra:
            return extra[name]
        if name in _VARIABLES:
            return _VARIABLES[name](transfer)
        warn(f"unknown --write-out variable: '{name}'")
        return ""

    return _TOKEN.sub(fill, template)
