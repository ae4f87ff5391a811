"""HTTP/1.1: h11's client state machine driven over one stream, one request at a time."""

from ._connection import HTTP11Connection

__all__ = ["HTTP11Connection"]
