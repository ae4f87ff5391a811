"""HTTP/3 by prior knowledge against Hypercorn on 127.0.0.1: requests, bodies, many streams."""

from __future__ import annotations

import hashlib
import json

import trio

from tests.support.asgi import TestApp
from tests.support.pool import read_all
from tests.support.servers import Server, pattern
from tests.support.tls import TLSMaterial
from trio_httpcore import AsyncConnectionPool
from trio_httpcore._streams import PlainByteStream


async def test_get_over_http3(make_pool, h3_server: Server, tls: TLSMaterial) -> None:
    async with make_pool(ssl_context=tls.client_context(), http3="prior") as pool:
        status, headers, stream, ext = await pool.arequest(b"GET", h3_server.url4("/echo"))
        body = await read_all(stream)
        assert status == 200
        assert ext["http_version"] == "HTTP/3"
        assert json.loads(body)["http_version"] == "3"
        assert pool.statistics().idle == 1
