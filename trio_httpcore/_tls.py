"""The default TLS context (verifying, certifi's CA bundle, TLS 1.2 or newer), the ALPN offer,
and the one place TLS connections are made, so that one of them can offer other ALPN protocols
than its context does."""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Iterator

import certifi
import trio


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


# Held while a TLS connection object is made: see making_tls.
_MAKING_TLS = threading.Lock()


@contextlib.contextmanager
def making_tls(context: ssl.SSLContext, alpn: tuple[list[str], list[str]] | None) -> Iterator[None]:
    """Hold while a TLS connection object is made from ``context`` (no await inside).

    ``alpn=(offer, usual)``: this connection offers ``offer`` by ALPN (RFC 7301)
    where ``context``, shared with other connections, offers ``usual`` (a TLS
    proxy is offered only ``http/1.1`` from the context that offers origins
    ``h2`` too). Python's ``ssl`` sets ALPN on a context only, and OpenSSL
    copies a context's offer into a connection when the connection is made,
    so the context offers ``offer`` for that instant alone and ``usual`` again
    after: the context is left as it was. Every TLS connection the library
    makes is made under one lock, so no other one (in any task or thread)
    sees the passing offer.
    """
    with _MAKING_TLS:
        if alpn is None:
            yield
            return
        offer, usual = alpn
        context.set_alpn_protocols(offer)
        try:
            yield
        finally:
            context.set_alpn_protocols(usual)


def client_tls_stream(
    stream: trio.abc.Stream,
    context: ssl.SSLContext,
    server_hostname: str,
    alpn: tuple[list[str], list[str]] | None = None,
) -> trio.SSLStream[trio.abc.Stream]:
    """A client TLS stream over ``stream`` for ``server_hostname``, before its handshake.

    ``alpn``: as :func:`making_tls`. ``https_compatible``: servers often close
    without a TLS close_notify, and HTTP framing already tells where a message
    ends (RFC 9112 section 9.8).
    """
    with making_tls(context, alpn):
        return trio.SSLStream(
            stream, context, server_hostname=server_hostname, https_compatible=True
        )
