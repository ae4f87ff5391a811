"""HTTP/3 fixtures: Hypercorn answering over QUIC and TCP on one port. The whole folder is
left out of collection where aioquic (the ``http3`` extra) is missing (tests/conftest.py)."""

from __future__ import annotations

import pytest
import trio

from tests.support.asgi import TestApp
from tests.support.h3server import serve_hypercorn_h3
from tests.support.servers import Server
from tests.support.tls import TLSMaterial


@pytest.fixture
async def h3_server(nursery: trio.Nursery, app: TestApp, tls: TLSMaterial) -> Server:
    """Hypercorn over HTTP/3 and TLS (h2, http/1.1) on the same port, advertising h3."""
    return await serve_hypercorn_h3(nursery, tls, app)
