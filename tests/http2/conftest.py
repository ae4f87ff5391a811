"""HTTP/2-only fixtures: the scripted h2 server, and Hypercorn allowing many streams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio

from tests.support.asgi import TestApp, serve_hypercorn
from tests.support.h2server import H2Server, Handler, default_handler, serve_h2
from tests.support.servers import Server


@pytest.fixture
def start_h2_server(nursery: trio.Nursery) -> Callable[..., Any]:
    """``server = await start_h2_server(handler, settings={...}, settings_gate=event)``."""

    async def start(handler: Handler = default_handler, **kwargs: Any) -> H2Server:
        return await serve_h2(nursery, handler, **kwargs)

    return start


@pytest.fixture
async def h2_server(nursery: trio.Nursery) -> H2Server:
    """The scripted HTTP/2 server with its default handler."""
    return await serve_h2(nursery, default_handler)


@pytest.fixture
async def counted_h2c_server_many_streams(
    nursery: trio.Nursery, app: TestApp, monkeypatch: pytest.MonkeyPatch
) -> Server:
    """Hypercorn (h2c) allowing 1000 concurrent streams, behind the connection counter."""
    from hypercorn.config import Config

    monkeypatch.setattr(Config, "h2_max_concurrent_streams", 1000)
    return await serve_hypercorn(nursery, app, count_connections=True)
