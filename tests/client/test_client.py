"""AsyncClient against Hypercorn: requests, bodies, defaults, decoding, streaming, errors."""

from __future__ import annotations

import http
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import trio
import trio.testing

from tests.support.servers import Server
from trio_httpcore._client import (
    URL,
    AsyncClient,
    Limits,
    QueryParams,
    Request,
    Response,
    Timeout,
    codes,
)
from trio_httpcore._exceptions import (
    DecodingError,
    HTTPStatusError,
    InvalidURL,
    ReadTimeout,
    ResponseClosed,
    ResponseNotRead,
    StreamConsumed,
    UnsupportedProtocol,
)

from .conftest import ClientApp, pattern
from .helpers import MockTransport


def header_values(echo: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in echo["headers"] if key == name]


async def test_get(client: AsyncClient, server: Server) -> None:
    response = await client.get("/echo/path", params={"q": "1"})
    assert response.status_code == 200
    assert response.status_code is http.HTTPStatus.OK
    assert response.reason_phrase == "OK"
    assert response.http_version == response.protocol == "HTTP/1.1"
    assert response.url == URL(f"{server.url}/echo/path?q=1")
    assert response.headers["content-type"] == "application/json"
    assert response.is_success and not response.is_redirect
    assert response.elapsed.total_seconds() > 0
    echo = response.json()
    assert (echo["method"], echo["path"], echo["query"]) == ("GET", "/echo/path", "q=1")
    assert header_values(echo, "host") == [f"127.0.0.1:{server.port}"]
    assert header_values(echo, "accept-encoding") == ["gzip, deflate, br, zstd"]
    assert header_values(echo, "user-agent")[0].startswith("trio_httpcore/")
    assert repr(response) == "<Response [200 OK]>"


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "DELETE", "POST", "PUT", "PATCH"])
async def test_every_method(client: AsyncClient, method: str) -> None:
    send = getattr(client, method.lower())
    response = await send("/echo")
    assert response.status_code == 200
    if method == "HEAD":
        assert response.content == b""
    else:
        assert response.json()["method"] == method
    if method in ("POST", "PUT", "PATCH"):
        assert header_values(response.json(), "content-length") == ["0"]


@pytest.mark.parametrize(
    ("kwargs", "body", "content_type"),
    [
        ({"content": b"raw bytes"}, "raw bytes", None),
        ({"content": "text ü"}, "text ü".encode().decode("latin-1"), None),
        (
            {"data": {"a": "1", "b": ["x", "y z"]}},
            "a=1&b=x&b=y+z",
            "application/x-www-form-urlencoded",
        ),
        ({"json": {"a": [1, "ü"]}}, '{"a":[1,"ü"]}'.encode().decode("latin-1"), "application/json"),
        ({"data": b"seed-style raw data"}, "seed-style raw data", None),
    ],
)
async def test_request_bodies(
    client: AsyncClient, kwargs: dict[str, Any], body: str, content_type: str | None
) -> None:
    echo = (await client.post("/echo", **kwargs)).json()
    assert echo["body"] == body
    assert header_values(echo, "content-length") == [str(len(body.encode("latin-1")))]
    assert header_values(echo, "content-type") == ([content_type] if content_type else [])


async def test_streamed_request_bodies(client: AsyncClient) -> None:
    async def agen() -> AsyncIterator[bytes]:
        yield b"async "
        yield b"chunks"

    def gen() -> Iterator[bytes]:
        yield b"sync "
        yield b"chunks"

    for content, expected in ((agen(), "async chunks"), (gen(), "sync chunks")):
        echo = (await client.put("/echo", content=content)).json()
        assert echo["body"] == expected
        assert header_values(echo, "transfer-encoding") == ["chunked"]
        assert header_values(echo, "content-length") == []


async def test_client_defaults_merge(server: Server) -> None:
    async with AsyncClient(
        base_url=f"{server.url}/echo/v1",
        params={"client": "1"},
        headers={"X-Client": "c", "X-Both": "client"},
    ) as client:
        assert client.base_url == URL(f"{server.url}/echo/v1/")
        response = await client.get(
            "/items?inline=1", params={"request": "2"}, headers={"X-Both": "request"}
        )
        echo = response.json()
        assert echo["path"] == "/echo/v1/items"
        assert echo["query"] == "inline=1&client=1&request=2"
        assert header_values(echo, "x-client") == ["c"]
        assert header_values(echo, "x-both") == ["request"]
        assert (await client.get(f"{server.url}/echo/abs")).json()["path"] == "/echo/abs"
        request = client.build_request("GET", "x", headers={"Accept": "text/html"})
        assert request.headers.get_list("accept") == ["text/html"]
        assert request.url == URL(f"{server.url}/echo/v1/x?client=1")


async def test_client_params_assigned_as_a_dict(server: Server) -> None:
    """``client.params = {...}`` is normalised like the constructor's, as in httpx."""
    async with AsyncClient(base_url=f"{server.url}/echo") as client:
        client.params = {"a": "1"}
        assert client.params == QueryParams({"a": "1"})
        echo = (await client.get("/p", params={"b": "2"})).json()
        assert echo["query"] == "a=1&b=2"


async def test_seed_aliases(client: AsyncClient, server: Server) -> None:
    response = await client.get("/echo", query_params={"a": "b"})
    assert response.json()["query"] == "a=b"
    response = await client.get("/redirect/302?location=/echo", allow_redirects=False)
    assert response.status_code == 302
    response = await client.get("/status/200", stream=True)
    assert not response.is_closed
    assert [chunk async for chunk in response.stream()] == [b"status 200"]  # type: ignore[union-attr]
    response = await client.get("/status/200", stream=True)
    assert b"".join([c async for c in response.raw()]) == b"status 200"  # type: ignore[union-attr]
    with pytest.raises(TypeError, match="not both"):
        await client.get("/", params={"a": 1}, query_params={"b": 2})
    with pytest.raises(TypeError, match="not both"):
        AsyncClient(transport=client._transport, dispatch=client._transport)


async def test_dispatch_and_pool_limits_aliases(server: Server) -> None:
    from trio_httpcore._transport._pool import AsyncConnectionPool

    pool = AsyncConnectionPool()
    async with AsyncClient(dispatch=pool) as client:
        assert client._transport is pool
        assert (await client.get(f"{server.url}/status/204")).status_code == 204
    limited = AsyncClient(pool_limits=Limits(max_connections=1, max_keepalive_connections=0))
    assert limited._transport._max_connections == 1  # type: ignore[union-attr]
    assert limited._transport._max_keepalive == 0  # type: ignore[union-attr]


async def test_raise_for_status(client: AsyncClient, server: Server) -> None:
    response = await client.get("/status/404")
    with pytest.raises(HTTPStatusError) as info:
        response.raise_for_status()
    assert info.value.response is response
    assert info.value.request is response.request
    message = str(info.value)
    assert "Client error '404 Not Found'" in message
    assert f"{server.url}/status/404" in message
    assert "developer.mozilla.org" in message
    response = await client.get("/status/503")
    with pytest.raises(HTTPStatusError, match="Server error '503 Service Unavailable'"):
        response.raise_for_status()
    ok = await client.get("/status/200")
    assert ok.raise_for_status() is ok


async def test_unknown_status_code_is_an_int(client: AsyncClient) -> None:
    response = await client.get("/status/299")
    assert type(response.status_code) is int
    assert response.status_code == 299
    assert response.reason_phrase == ""
    assert codes.is_success(response.status_code)


@pytest.mark.parametrize(
    "codings",
    ["gzip", "deflate", "rawdeflate", "br", "zstd", "gzip,br", "deflate,zstd,gzip", "identity"],
)
async def test_content_decoding(client: AsyncClient, codings: str) -> None:
    response = await client.get(f"/encoded/{codings}", params={"size": 300_000})
    assert response.content == pattern(300_000)
    async with client.stream("GET", f"/encoded/{codings}?size=1000") as streamed:
        raw = b"".join([chunk async for chunk in streamed.aiter_raw()])
    assert (len(raw) < 1000) == (codings not in ("identity",))


async def test_corrupt_body_raises_decoding_error(client: AsyncClient) -> None:
    # zstd data read as gzip: not zlib.error but our DecodingError.
    response = await client.get("/encoded/zstd", stream=True)
    response.headers["content-encoding"] = "gzip"
    with pytest.raises(DecodingError, match="Invalid gzip body"):
        await response.aread()
    assert response.is_closed


async def test_text_encoding(client: AsyncClient) -> None:
    response = await client.get("/text", params={"charset": "iso-8859-1", "body": "café"})
    assert response.charset_encoding == "iso8859-1"
    assert response.encoding == "iso8859-1"
    assert response.text == "café"
    # No charset: valid UTF-8 is UTF-8.
    response = await client.get("/text", params={"body": "naïve ☃"})
    assert response.encoding == "utf-8"
    assert response.text == "naïve ☃"
    # No charset and not UTF-8: detected (charset_normalizer is installed).
    text = "Příliš žluťoučký kůň úpěl ďábelské ódy. " * 20
    response = await client.get("/text", params={"charset": "cp1250", "body": text})
    response.headers["content-type"] = "text/plain"
    assert response.text == text
    response.encoding = "latin-1"
    assert response.encoding == "iso8859-1"
    assert response.text == text.encode("cp1250").decode("latin-1")


async def test_streaming_text_and_lines(client: AsyncClient) -> None:
    parts = ["one\r", "\ntwo\nthr", "ee\r", "four\r\n", "\n", "last"]
    async with client.stream("GET", "/chunks", params={"part": parts}) as response:
        lines = [line async for line in response.aiter_lines()]
    assert lines == ["one", "two", "three", "four", "", "last"]
    snowman = "☃".encode()
    # A character split over two chunks comes out whole.
    split = [snowman[:1].decode("latin-1"), snowman[1:].decode("latin-1") + "!"]
    async with client.stream("GET", "/chunks", params={"part": split}) as response:
        assert "".join([text async for text in response.aiter_text()]) == "☃!"


async def test_response_state_errors(client: AsyncClient) -> None:
    async with client.stream("GET", "/status/200") as response:
        with pytest.raises(ResponseNotRead):
            _ = response.content
        assert [chunk async for chunk in response.aiter_bytes()] == [b"status 200"]
        assert response.is_stream_consumed and response.is_closed
        with pytest.raises(StreamConsumed):
            await response.aread()
        with pytest.raises(StreamConsumed):
            [chunk async for chunk in response.aiter_raw()]

    async with client.stream("GET", "/status/200") as response:
        await response.aclose()
        with pytest.raises(ResponseClosed):
            await response.aread()
        with pytest.raises(ResponseClosed):
            [chunk async for chunk in response.aiter_bytes()]

    response = await client.get("/status/200")
    assert await response.aread() == b"status 200"
    assert await response.aread() == b"status 200"  # cached
    assert [chunk async for chunk in response.aiter_bytes()] == [b"status 200"]
    with pytest.raises(StreamConsumed):
        [chunk async for chunk in response.aiter_raw()]
    # Blocking reads of an AsyncClient's response are refused, and change nothing.
    async with client.stream("GET", "/status/200") as response:
        with pytest.raises(RuntimeError, match="came from an AsyncClient"):
            response.read()
        with pytest.raises(RuntimeError, match="came from an AsyncClient"):
            response.close()
        assert not response.is_closed and not response.is_stream_consumed
        assert await response.aread() == b"status 200"


async def test_read_timeout(client: AsyncClient, autojump_clock: trio.testing.MockClock) -> None:
    """/stall sends its headers, then nothing: each read timeout fires (in virtual time)."""
    with pytest.raises(ReadTimeout):
        await client.get("/stall", timeout=Timeout(5.0, read=0.2))
    async with client.stream("GET", "/stall", timeout=0.2) as response:
        assert response.status_code == 200
        with pytest.raises(ReadTimeout):
            await response.aread()
    # The client goes on working.
    assert (await client.get("/status/200")).content == b"status 200"


async def test_timeout_reaches_the_transport(server: Server) -> None:
    seen: list[dict[str, Any]] = []

    class Recording(MockTransport):
        async def arequest(self, method: bytes, url: Any, headers: Any = None,
                           stream: Any = None, ext: Any = None) -> Any:  # fmt: skip
            seen.append(ext["timeout"])
            return await super().arequest(method, url, headers, stream, ext)

    async with AsyncClient(transport=Recording(), timeout=Timeout(1.0, pool=None)) as client:
        await client.get("http://example.org/")
        await client.get("http://example.org/", timeout=2.5)
        await client.get("http://example.org/", timeout=None)
    assert seen == [
        {"connect": 1.0, "read": 1.0, "write": 1.0, "pool": None},
        {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5},
        {"connect": None, "read": None, "write": None, "pool": None},
    ]


async def test_event_hooks(client: AsyncClient) -> None:
    events: list[str] = []

    def on_request(request: Request) -> None:
        events.append(f"request {request.url.path}")

    async def on_response(response: Response) -> None:
        await response.aread()
        events.append(f"response {response.status_code} {response.content!r}")

    client.event_hooks = {"request": [on_request], "response": [on_response]}
    response = await client.get("/chain/1")
    assert response.content == b"done"
    assert events == [
        "request /chain/1",
        "response 302 b''",
        "request /chain/0",
        "response 200 b'done'",
    ]
    with pytest.raises(ValueError, match="Unknown event hooks"):
        client.event_hooks = {"requests": []}


async def test_unsupported_and_invalid_urls(client: AsyncClient) -> None:
    with pytest.raises(UnsupportedProtocol, match="ftp"):
        await client.get("ftp://example.org/")
    async with AsyncClient() as plain:
        with pytest.raises(InvalidURL, match="No scheme"):
            await plain.get("/relative")


async def test_client_lifetime(server: Server) -> None:
    client = AsyncClient()
    with pytest.raises(RuntimeError, match="async with AsyncClient"):
        await client.get(f"{server.url}/")
    async with client:
        assert not client.is_closed
        with pytest.raises(RuntimeError, match="opened already"):
            await client.__aenter__()
    assert client.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        await client.get(f"{server.url}/")
    await client.aclose()


async def test_cancelling_a_request_leaves_the_client_usable(client: AsyncClient) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.get, "/stall")
        await trio.testing.wait_all_tasks_blocked()  # the server got it and stalls
        nursery.cancel_scope.cancel()
    assert (await client.get("/status/200")).content == b"status 200"
    stats = client._transport.statistics()  # type: ignore[union-attr]
    assert (stats.active, stats.connecting, stats.waiting) == (0, 0, 0)


async def test_tls_verify_and_cert_options(tls_server: Server, tls: Any) -> None:
    async with AsyncClient(verify=tls.ca_file) as client:
        response = await client.get(f"https://localhost:{tls_server.port}/")
        assert response.status_code == 200
    async with AsyncClient(verify=tls.client_context(), http2=True) as client:
        response = await client.get(f"https://localhost:{tls_server.port}/")
        assert response.http_version == "HTTP/2"
    async with AsyncClient(verify=False) as client:
        assert (await client.get(f"https://127.0.0.1:{tls_server.port}/")).status_code == 200


async def test_http2_prior_knowledge(server: Server) -> None:
    async with AsyncClient(http1=False, http2=True, base_url=server.url) as client:
        response = await client.get("/encoded/gzip,zstd", params={"size": 200_000})
        assert response.http_version == "HTTP/2"
        assert response.reason_phrase == "OK"  # HTTP/2 has none: the standard phrase
        assert response.content == pattern(200_000)
        echo = (await client.post("/echo", json={"a": 1})).json()
        assert (echo["http_version"], echo["body"]) == ("2", '{"a":1}')
        assert (await client.get("/chain/2")).content == b"done"
        async with client.stream("GET", "/chunks", params={"part": ["x\r", "\ny"]}) as response:
            assert [line async for line in response.aiter_lines()] == ["x", "y"]


async def test_concurrent_requests_share_the_pool(server: Server) -> None:
    limits = Limits(max_connections=3)
    async with AsyncClient(base_url=server.url, limits=limits) as client:
        queries: list[str] = []

        async def one(i: int) -> None:
            queries.append((await client.get("/echo", params={"i": i})).json()["query"])

        async with trio.open_nursery() as nursery:
            for i in range(30):
                nursery.start_soon(one, i)
        assert sorted(queries) == sorted(f"i={i}" for i in range(30))
        stats = client._transport.statistics()  # type: ignore[union-attr]
        assert stats.idle <= 3 and stats.active == 0


async def test_cancel_while_following_redirects(client: AsyncClient) -> None:
    seen: list[int] = []

    with trio.CancelScope() as scope:

        def on_response(response: Response) -> None:
            seen.append(response.status_code)
            if len(seen) == 2:
                scope.cancel()

        client.event_hooks = {"response": [on_response]}
        await client.get("/chain/5")
    assert scope.cancelled_caught
    assert seen == [302, 302]
    client.event_hooks = {}
    assert (await client.get("/chain/1")).content == b"done"


async def test_cancel_client_and_nursery_with_requests_in_flight(
    server: Server, client_app: ClientApp
) -> None:
    # FIELD-LESSONS 5: `async with client, open_nursery()`, cancelled mid-flight, exits cleanly.
    with trio.CancelScope() as scope:
        async with AsyncClient(base_url=server.url) as client, trio.open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(client.get, "/stall")
            await trio.testing.wait_all_tasks_blocked()
            assert [s["path"] for s in client_app.requests] == ["/stall"] * 5
            scope.cancel()
    assert scope.cancelled_caught
    assert client.is_closed
    stats = client._transport.statistics()  # type: ignore[union-attr]
    assert (stats.connecting, stats.active, stats.idle, stats.waiting) == (0, 0, 0, 0)
