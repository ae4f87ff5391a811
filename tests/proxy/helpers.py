"""Requests for the proxy tests."""

from __future__ import annotations

import json
from typing import Any

from tests.support.pool import TIMEOUTS, read_all

Headers = list[tuple[bytes, bytes]]


async def fetch(
    pool: Any, url: Any, headers: Headers | None = None
) -> tuple[int, Headers, bytes, dict[str, Any]]:
    status, resp_headers, stream, ext = await pool.arequest(
        b"GET", url, headers=headers or [], ext=TIMEOUTS
    )
    return status, resp_headers, await read_all(stream), ext


async def echo(pool: Any, url: Any, headers: Headers | None = None) -> dict[str, Any]:
    """GET ``/echo`` on a TestApp server: what the origin received."""
    status, _, body, ext = await fetch(pool, url, headers)
    assert status == 200, body
    doc: dict[str, Any] = json.loads(body)
    doc["response_ext"] = ext
    return doc


def header_names(doc: dict[str, Any]) -> list[str]:
    return [name.lower() for name, _ in doc["headers"]]
