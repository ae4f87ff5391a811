"""Fixtures of the transport tests."""

from __future__ import annotations

import pytest
import trio

from tests.support.h11server import H11Request, serve_http
from tests.support.pool import Phases, stalling_handler
from tests.support.servers import Server


@pytest.fixture
async def stalling(nursery: trio.Nursery) -> tuple[Server, Phases]:
    phases = Phases()

    async def handler(req: H11Request) -> None:
        await stalling_handler(phases, req)

    return await serve_http(nursery, handler), phases
