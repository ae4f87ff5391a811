"""The ASGI app Hypercorn serves when nginx is missing: the same three paths as nginx.

``/`` a 14-byte body, ``/64MiB`` 64 MiB in 1 MiB chunks, ``/delay`` the small
body after 10 ms.
"""

from __future__ import annotations

import asyncio
from typing import Any

SMALL = b"Hello, world!\n"
BLOCK = bytes(range(256)) * 4096  # 1 MiB
BIG_BLOCKS = 64


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/64MiB":
        length = len(BLOCK) * BIG_BLOCKS
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(length).encode())],
            }
        )
        for _ in range(BIG_BLOCKS):
            await send({"type": "http.response.body", "body": BLOCK, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/delay":
        await asyncio.sleep(0.01)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"14")],
        }
    )
    await send({"type": "http.response.body", "body": SMALL})
