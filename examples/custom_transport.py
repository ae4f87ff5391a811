"""A custom transport for tests: answer requests from a function, record what was sent.

Code that uses an ``AsyncClient`` can be tested without any network by giving
the client a transport of your own: ``AsyncClient(transport=...)`` takes any
``trio_httpcore.AsyncHTTPTransport``. Subclass it and implement ``arequest``;
return the body as a byte stream. (This is what ``httpx.MockTransport`` is to
httpx.)

    python examples/custom_transport.py
"""

from __future__ import annotations

import json
from collections.abc import Callable

import trio

import trio_httpcore
from trio_httpcore import AsyncByteStream, AsyncHTTPTransport, PlainByteStream

URL4 = tuple[bytes, bytes, "int | None", bytes]
RawHeaders = list[tuple[bytes, bytes]]
Handler = Callable[[bytes, URL4, RawHeaders, bytes], tuple[int, RawHeaders, bytes]]


class MockTransport(AsyncHTTPTransport):
    """Answers every request by calling ``handler(method, url, headers, body)``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[tuple[bytes, URL4, RawHeaders, bytes]] = []

    async def arequest(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders | None = None,
        stream: AsyncByteStream | None = None,
        ext: dict | None = None,
    ) -> tuple[int, RawHeaders, AsyncByteStream, dict]:
        body = b"".join([chunk async for chunk in stream]) if stream is not None else b""
        self.requests.append((method, url, list(headers or []), body))
        status, response_headers, content = self.handler(method, url, headers or [], body)
        ext = {"http_version": "HTTP/1.1", "reason": ""}
        return status, response_headers, PlainByteStream(content), ext


# The code under test: it is given a client, and doesn't care what is behind it.
async def create_item(client: trio_httpcore.AsyncClient, name: str) -> int:
    """POST a JSON item to the API and return the id the server gave it."""
    response = await client.post("https://api.example/items", json={"name": name})
    response.raise_for_status()
    return int(response.json()["id"])


def fake_api(method: bytes, url: URL4, headers: RawHeaders, body: bytes):
    if method == b"POST" and url[3] == b"/items":
        item = json.loads(body)
        return 201, [(b"content-type", b"application/json")], json.dumps({"id": 7, **item}).encode()
    return 404, [], b""


async def main() -> None:
    transport = MockTransport(fake_api)
    async with trio_httpcore.AsyncClient(transport=transport) as client:
        item_id = await create_item(client, "teapot")

    assert item_id == 7
    [(method, url, headers, body)] = transport.requests
    assert method == b"POST" and url == (b"https", b"api.example", None, b"/items")
    assert (b"content-type", b"application/json") in [(k.lower(), v) for k, v in headers]
    assert json.loads(body) == {"name": "teapot"}
    print(f"created item {item_id}; the transport saw {method.decode()} {url[3].decode()} {body!r}")


if __name__ == "__main__":
    trio.run(main)
