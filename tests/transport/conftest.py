"""Fixtures of the transport tests."""

from __future__ import annotations

import pytest
import trio

from tests._servers import H11Request, Server, serve_http
from tests.transport.helpers import Phases, stalling_handler


@pytest.fixture
async def stalling(nursery: trio.Nursery) -> tuple[Server, Phases]:
    phases = Phases()

    async def handler(req: H11Request) -> None:
        await stalling_handler(phases, req)

    return await serve_http(nursery, handler), phases
