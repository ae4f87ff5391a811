"""HTTP/3: aioquic's QUIC and HTTP/3 state machines driven by trio, and when to use them.

The policy (:class:`HTTP3Policy`) needs nothing but the standard library; the
connection needs aioquic (the ``http3`` extra), imported only when one opens.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from .._http import ConnectionListener
from ._altsvc import HTTP3Mode, HTTP3Policy, parse_alt_svc

if TYPE_CHECKING:
    from ._connection import HTTP3Connection


def http3_available() -> bool:
    """Whether aioquic (the ``http3`` extra) can be imported."""
    try:
        import aioquic.h3.connection  # noqa: F401
    except ImportError:
        return False
    return True


async def connect_http3(
    host: str,
    port: int,
    *,
    origin: str,
    ssl_context: ssl.SSLContext,
    server_name: str,
    listener: ConnectionListener,
    local_address: str | None = None,
    keepalive_expiry: float | None = None,
    timeout: float | None = None,
) -> HTTP3Connection:
    """A connection to ``host``:``port`` over QUIC, its handshake done, or ``ConnectError``.

    aioquic is imported here, not before: the rest of the library works without it.
    """
    from ._connect import connect_http3 as connect

    return await connect(
        host,
        port,
        origin=origin,
        ssl_context=ssl_context,
        server_name=server_name,
        listener=listener,
        local_address=local_address,
        keepalive_expiry=keepalive_expiry,
        timeout=timeout,
    )


__all__ = ["HTTP3Mode", "HTTP3Policy", "connect_http3", "http3_available", "parse_alt_svc"]
