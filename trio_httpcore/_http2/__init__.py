"""HTTP/2: h2's state machine driven over one stream, one reader task feeding many streams."""

from ._connection import HTTP2Connection

__all__ = ["HTTP2Connection"]
