"""The blocking proxies: :class:`AsyncHTTPProxy` and :class:`AsyncSOCKSProxy` on a portal thread.

Like their async forms are connection pools, these are
:class:`SyncConnectionPool` subclasses (``statistics()`` included); each hands
the facade its async proxy instead of the plain pool ``SyncConnectionPool``
builds.
"""

from __future__ import annotations

import ssl

from .._proxy import AsyncHTTPProxy, AsyncSOCKSProxy
from .._transport import check_backend
from .._types import URL4, RawHeaders
from ._pool import SyncConnectionPool, _SyncTransportFacade


class SyncHTTPProxy(SyncConnectionPool):
    """The blocking :class:`AsyncHTTPProxy`: same parameters, ``backend="sync"``.

    Forwarding, CONNECT tunnels, https proxies and HTTP/2 inside a tunnel
    work as in the async form, run on a background thread with its own
    ``trio.run`` (see :class:`SyncConnectionPool` for threads, ``with`` and
    ``close()``).
    """

    def __init__(
        self,
        proxy_url: URL4,
        proxy_headers: RawHeaders | None = None,
        proxy_mode: str = "DEFAULT",
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int | None = None,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = None,
        http2: bool = False,
        backend: str = "sync",
        max_keepalive: int | None = None,
    ) -> None:
        check_backend(type(self).__name__, backend, "sync")
        _SyncTransportFacade.__init__(
            self,
            AsyncHTTPProxy(
                proxy_url,
                proxy_headers=proxy_headers,
                proxy_mode=proxy_mode,
                ssl_context=ssl_context,
                max_connections=max_connections,
                max_keepalive_connections=max_keepalive_connections,
                keepalive_expiry=keepalive_expiry,
                http2=http2,
                max_keepalive=max_keepalive,
            ),
        )


class SyncSOCKSProxy(SyncConnectionPool):
    """The blocking :class:`AsyncSOCKSProxy`: same parameters, ``backend="sync"``.

    Needs the ``socks`` extra, like the async form. See
    :class:`SyncConnectionPool` for threads, ``with`` and ``close()``.
    """

    def __init__(
        self,
        proxy_url: URL4,
        proxy_auth: tuple[bytes, bytes] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int | None = None,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = None,
        http1: bool = True,
        http2: bool = False,
        backend: str = "sync",
    ) -> None:
        check_backend(type(self).__name__, backend, "sync")
        _SyncTransportFacade.__init__(
            self,
            AsyncSOCKSProxy(
                proxy_url,
                proxy_auth=proxy_auth,
                ssl_context=ssl_context,
                max_connections=max_connections,
                max_keepalive_connections=max_keepalive_connections,
                keepalive_expiry=keepalive_expiry,
                http1=http1,
                http2=http2,
            ),
        )
