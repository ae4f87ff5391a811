"""The transport layer: one request in, one response out, with raw bytes."""

from ._connection import AsyncHTTPConnection
from ._pool import AsyncConnectionPool, PoolStatistics, check_backend, resolve_max_keepalive

__all__ = [
    "AsyncConnectionPool",
    "AsyncHTTPConnection",
    "PoolStatistics",
    "check_backend",
    "resolve_max_keepalive",
]
