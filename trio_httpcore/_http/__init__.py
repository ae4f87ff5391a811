"""What every HTTP version shares: the transport interface, request checks, the connection
contract, network-stream helpers and the connection-bound response body."""

from ._base import AsyncHTTPTransport, AsyncResponse, SyncHTTPTransport, SyncResponse
from ._buffers import BODY_BUFFER_SIZE, READ_SIZE, give_back, take_buffer
from ._interfaces import ConnectionListener, ConnectionProtocol, RetryOnNewConnection
from ._network import (
    ReceiveInto,
    TLSStream,
    alpn_protocol,
    close_now,
    open_stream,
    raw_socket,
    readable_now,
    receive_into,
    start_tls,
)
from ._request import (
    authority,
    check_body,
    check_request,
    has_header,
    header_value,
    multiplexed_fields,
)
from ._response import ConnectionBoundStream
from ._streamevents import StreamEvents, StreamFailure
from ._tlssocket import TLSSocketStream
from ._trace import Tracer, traced, tracer_for

__all__ = [
    "AsyncHTTPTransport",
    "AsyncResponse",
    "BODY_BUFFER_SIZE",
    "ConnectionBoundStream",
    "ConnectionListener",
    "ConnectionProtocol",
    "READ_SIZE",
    "ReceiveInto",
    "RetryOnNewConnection",
    "SyncHTTPTransport",
    "StreamEvents",
    "StreamFailure",
    "SyncResponse",
    "Tracer",
    "TLSSocketStream",
    "TLSStream",
    "alpn_protocol",
    "authority",
    "check_body",
    "check_request",
    "close_now",
    "give_back",
    "has_header",
    "header_value",
    "multiplexed_fields",
    "open_stream",
    "raw_socket",
    "readable_now",
    "receive_into",
    "start_tls",
    "traced",
    "tracer_for",
    "take_buffer",
]
