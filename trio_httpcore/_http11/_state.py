"""The life of one HTTP/1.1 connection in three states, beside h11's own state machine.

IDLE: no request, the idle watcher looks after the socket. BUSY: reserved for, or carrying, one
request (its body stream holds it until read to the end or closed). CLOSED: closed, or its stream
handed over to the caller; nothing leaves CLOSED.
"""

from __future__ import annotations

import enum


class ConnectionState(enum.Enum):
    IDLE = "idle"  # no request; the watcher looks after the socket
    BUSY = "busy"  # reserved for, or carrying, one request
    CLOSED = "closed"  # closed, or its stream handed over to the caller
