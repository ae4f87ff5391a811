"""The default TLS context: verifying, certifi's CA bundle, TLS 1.2 or newer."""

from __future__ import annotations

import ssl

import certifi


def default_ssl_context() -> ssl.SSLContext:
    """A client context that verifies the server against certifi's CA bundle.

    Hostname checking is on and TLS versions below 1.2 are refused. ALPN is
    left unset here: the pool sets it from its ``http1``/``http2`` flags.
    """
    context = ssl.create_default_context(cafile=certifi.where())
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def alpn_protocols(http1: bool, http2: bool) -> list[str]:
    """The ALPN list to offer, most preferred first (RFC 7301 section 3.1)."""
    protocols = []
    if http2:
        protocols.append("h2")
    if http1:
        protocols.append("http/1.1")
    return protocols
