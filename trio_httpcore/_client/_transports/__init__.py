"""Transports that answer in-process, for tests: a handler, an ASGI app, a WSGI app."""

from ._asgi import ASGITransport
from ._mock import MockTransport
from ._wsgi import WSGITransport

__all__ = ["ASGITransport", "MockTransport", "WSGITransport"]
