"""Which proxy a request goes through: ``proxies=`` patterns and the environment.

Keys are URL patterns, as in httpx: ``"all://"``, ``"http://"``,
``"https://"``, ``"all://example.org"``, ``"all://*.example.org"``,
``"https://example.org:8443"``; a value of ``None`` means "no proxy". The
most specific pattern that matches a URL wins.
"""

from __future__ import annotations

import contextlib
import ipaddress
import urllib.request
from collections.abc import Mapping

from .._exceptions import InvalidURL
from ._urls import URL

ProxyNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class URLPattern:
    """A pattern that URLs match by scheme, host (exact, ``*.suffix``, IP network) and port."""

    def __init__(self, pattern: str) -> None:
        if "://" not in pattern:
            raise InvalidURL(
                f"proxy key {pattern!r} is not a URL pattern: write e.g. 'all://' or 'https://'"
            )
        self.pattern = pattern
        scheme, _, rest = pattern.partition("://")
        self.scheme = "" if scheme == "all" else scheme.lower()
        host, port = rest, None
        if rest.startswith("["):  # an IPv6 literal, maybe with a port
            host, _, after = rest[1:].partition("]")
            port = int(after[1:]) if after.startswith(":") else None
        elif rest.count(":") == 1:
            host, _, port_text = rest.partition(":")
            port = int(port_text)
        self.port = port
        host = host.lower()
        self.network: ProxyNetwork | None = None
        # "*.suffix" matches subdomains only; "*suffix" the domain and its subdomains.
        self.host = host.lstrip("*").lstrip(".")
        self.exact = not host.startswith("*.")
        self.subdomains = host.startswith("*")
        if not self.subdomains and host:
            with contextlib.suppress(ValueError):
                self.network = ipaddress.ip_network(host, strict=False)

    def matches(self, url: URL) -> bool:
        if self.scheme and url.scheme != self.scheme:
            return False
        if self.port is not None and url.port != self.port:
            return False
        host = url.host.lower()
        if self.network is not None:
            try:
                return ipaddress.ip_address(host) in self.network
            except ValueError:
                return False
        if not self.host:
            return True
        if host == self.host:
            return self.exact
        return self.subdomains and host.endswith("." + self.host)

    @property
    def priority(self) -> tuple[int, int, int]:
        """Sort key, most specific first: a port, then a host (longer first), then a scheme."""
        host_length = len(self.host) if self.host else (1 if self.network else 0)
        return (-int(self.port is not None), -host_length, -len(self.scheme))

    def __repr__(self) -> str:
        return f"URLPattern({self.pattern!r})"


def _no_proxy_pattern(entry: str) -> str | None:
    """The ``all://`` pattern for one ``NO_PROXY`` entry (curl's rules), or ``None``."""
    entry = entry.strip()
    if not entry:
        return None
    if entry == "*":
        return "all://"
    if entry.startswith("."):
        return f"all://*{entry}"
    address = entry.strip("[]")
    try:
        network = ipaddress.ip_network(address, strict=False)
    except ValueError:
        # A domain name matches itself and its subdomains.
        return f"all://*{entry}" if "*" not in entry else f"all://{entry}"
    return (
        f"all://[{address}]" if network.version == 6 and "/" not in address else f"all://{address}"
    )


def environment_proxies() -> dict[str, str | None]:
    """Proxy patterns from ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY``.

    Names are looked up in either case (``urllib.request.getproxies``); a
    proxy URL without a scheme is taken as ``http://``. ``NO_PROXY`` entries
    are domains (matching subdomains too), ``.domain``, ``*``, IP addresses
    and CIDR networks.
    """
    found = urllib.request.getproxies()
    proxies: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        url = found.get(scheme)
        if url:
            proxies[f"{scheme}://"] = url if "://" in url else f"http://{url}"
    for entry in (found.get("no") or "").split(","):
        pattern = _no_proxy_pattern(entry)
        if pattern is not None:
            proxies[pattern] = None
    return proxies


def sorted_patterns(proxies: Mapping[str, object]) -> list[URLPattern]:
    """The patterns of a ``proxies=`` mapping, most specific first."""
    return sorted((URLPattern(key) for key in proxies), key=lambda pattern: pattern.priority)
