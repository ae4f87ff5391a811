"""The sync tests' servers run on threads of their own (``tests/support/threaded.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio

from tests.support.h11server import H11Request, default_h11_handler, serve_http
from tests.support.servers import Server
from tests.support.threaded import ThreadedServer, h2_server, h11_server, slow, tls_h2_server

__all__ = ["client_server", "h11_server", "h2_server", "slow", "tls_h2_server"]

KOI8_TEXT = "Привет, мир"
"""The body of ``/koi8-r``: text whose charset the response does not name."""


async def client_test_handler(request: H11Request) -> None:
    """The default routes, plus ``/redirect`` (302 to ``/``) and ``/koi8-r``
    (:data:`KOI8_TEXT` in KOI8-R, ``text/plain`` without a charset); HEAD requests get the
    status alone."""
    if request.path == "/redirect":
        await request.respond(302, b"", [(b"location", b"/")])
    elif request.method == b"HEAD":
        await request.respond(200)
    elif request.path == "/koi8-r":
        body = KOI8_TEXT.encode("koi8-r")
        await request.respond(200, body, [(b"content-type", b"text/plain")])
    else:
        await default_h11_handler(request)


@pytest.fixture
def client_server() -> Iterator[ThreadedServer]:
    """Our h11 server with :func:`client_test_handler`'s routes, in a thread; it lists the
    requests it received in ``server.extra["requests"]``."""

    async def start(nursery: trio.Nursery) -> Server:
        return await serve_http(nursery, client_test_handler)

    with ThreadedServer(start) as server:
        yield server
