"""What every HTTP version shares: the transport interface, request checks, the connection
contract, network-stream helpers and the connection-bound response body."""

from ._base import AsyncHTTPTransport, AsyncResponse, SyncHTTPTransport, SyncResponse
from ._interfaces import ConnectionListener, ConnectionProtocol, RetryOnNewConnection
from ._network import READ_SIZE, close_now, open_stream, raw_socket, readable_now, start_tls
from ._request import authority, check_request, has_header, header_value
from ._response import ConnectionBoundStream
from ._trace import Tracer, traced, tracer_for

__all__ = [
    "AsyncHTTPTransport",
    "AsyncResponse",
    "ConnectionBoundStream",
    "ConnectionListener",
    "ConnectionProtocol",
    "READ_SIZE",
    "RetryOnNewConnection",
    "SyncHTTPTransport",
    "SyncResponse",
    "Tracer",
    "authority",
    "check_request",
    "close_now",
    "has_header",
    "header_value",
    "open_stream",
    "raw_socket",
    "readable_now",
    "start_tls",
    "traced",
    "tracer_for",
]
