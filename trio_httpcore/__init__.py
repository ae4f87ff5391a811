"""trio_httpcore: a trio-native HTTP/1.1 and HTTP/2 client."""

from ._exceptions import (
    CloseError,
    ConnectError,
    ConnectTimeout,
    HTTPError,
    LocalProtocolError,
    NetworkError,
    PoolTimeout,
    ProtocolError,
    ProxyError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TimeoutException,
    TransportError,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
)
from ._streams import (
    AsyncByteStream,
    AsyncIteratorByteStream,
    IteratorByteStream,
    PlainByteStream,
    SyncByteStream,
)
from ._transport._base import AsyncHTTPTransport, SyncHTTPTransport
from ._transport._pool import AsyncConnectionPool
from ._transport._proxy import AsyncHTTPProxy
from ._transport._socks import AsyncSOCKSProxy
from ._transport._sync import SyncConnectionPool
from ._transport._sync_proxy import SyncHTTPProxy, SyncSOCKSProxy

__version__ = "0.1.0.dev0"

__all__ = [
    "AsyncByteStream",
    "AsyncConnectionPool",
    "AsyncHTTPProxy",
    "AsyncHTTPTransport",
    "AsyncIteratorByteStream",
    "AsyncSOCKSProxy",
    "CloseError",
    "ConnectError",
    "ConnectTimeout",
    "HTTPError",
    "IteratorByteStream",
    "LocalProtocolError",
    "NetworkError",
    "PlainByteStream",
    "PoolTimeout",
    "ProtocolError",
    "ProxyError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "SyncByteStream",
    "SyncConnectionPool",
    "SyncHTTPProxy",
    "SyncHTTPTransport",
    "SyncSOCKSProxy",
    "TimeoutException",
    "TransportError",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
]
