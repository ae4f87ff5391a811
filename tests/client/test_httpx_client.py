"""The client as httpx 0.28 users drive it: mounts, redirects and encodings by default,
errors with ``.request``, custom auth flows, logging, and no asyncio."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Generator
from typing import Any

import pytest
import trio

from tests.support.servers import Server
from trio_httpcore import (
    ASGITransport,
    AsyncClient,
    Auth,
    Client,
    ConnectError,
    MockTransport,
    ReadTimeout,
    Request,
    Response,
    TooManyRedirects,
)

from .conftest import ClientApp


async def test_mounts_pick_a_transport_by_pattern(server: Server, client_app: ClientApp) -> None:
    mocked = MockTransport(lambda request: Response(200, text="mocked"))
    mounts = {"http://mocked.test": mocked, "all://*.asgi.test": ASGITransport(client_app)}
    async with AsyncClient(mounts=mounts) as client:
        assert (await client.get("http://mocked.test/")).text == "mocked"
        echo = (await client.get("https://api.asgi.test/echo")).json()
        assert echo["path"] == "/echo"
        assert (await client.get(f"{server.url}/status/201")).status_code == 201
    assert [scope["path"] for scope in client_app.requests] == ["/echo", "/status/201"]


async def test_client_follow_redirects_setting(client: AsyncClient, server: Server) -> None:
    async with AsyncClient(base_url=server.url, follow_redirects=False) as no_follow:
        response = await no_follow.get("/chain/2")
        assert response.status_code == 302 and response.next_request is not None
        followed = await no_follow.get("/chain/2", follow_redirects=True)
        assert followed.text == "done"
    async with AsyncClient(base_url=server.url, follow_redirects=True) as follow:
        head = await follow.head("/chain/1")
        assert head.status_code == 200  # HEAD too, when the client says so
    # Unset: follow, except HEAD (the seed's rule).
    assert (await client.head("/chain/1")).status_code == 302
    assert (await client.get("/chain/1")).text == "done"


async def test_client_default_encoding(server: Server) -> None:
    latin = "café".encode("latin-1")
    transport = MockTransport(lambda request: Response(200, content=latin))
    async with AsyncClient(transport=transport, default_encoding="latin-1") as client:
        assert (await client.get("http://x.test/")).text == "café"
    async with AsyncClient(transport=transport, default_encoding=lambda body: "cp1252") as client:
        assert (await client.get("http://x.test/")).text == "café"


async def test_errors_carry_the_request(server: Server, client_app: ClientApp) -> None:
    async with AsyncClient(base_url=server.url, timeout=0.2) as client:
        with pytest.raises(ReadTimeout) as read:
            await client.get("/stall")
        assert read.value.request.url.path == "/stall"
        async with AsyncClient(base_url=server.url, max_redirects=1) as limited:
            with pytest.raises(TooManyRedirects) as redirects:
                await limited.get("/chain/3")
        assert redirects.value.request.url.path == "/chain/3"
    async with AsyncClient() as client:
        with pytest.raises(ConnectError) as connect:
            await client.get("http://127.0.0.1:1/refused")
        assert connect.value.request.url.path == "/refused"


async def test_error_of_a_redirect_names_the_redirected_request(server: Server) -> None:
    async with AsyncClient(base_url=server.url) as client:
        location = "http://127.0.0.1:1/gone"
        with pytest.raises(ConnectError) as info:
            await client.get("/redirect/302", params={"location": location})
    assert str(info.value.request.url) == location


class TokenFromBody(Auth):
    """httpx's documented pattern: a 401's body holds the token for the retry."""

    requires_response_body = True

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Token {response.text}"
            yield request


class AsyncFlow(Auth):
    """An auth that does async work of its own: overrides async_auth_flow."""

    async def async_auth_flow(self, request: Request) -> AsyncGenerator[Request, Response]:
        await trio.lowlevel.checkpoint()
        request.headers["X-Async"] = "yes"
        response = yield request
        assert response.status_code == 200


class SyncOnlyFlow(Auth):
    """An auth for the blocking client: overrides sync_auth_flow (blocking I/O allowed)."""

    def __init__(self) -> None:
        self.threads: list[bool] = []

    def sync_auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        self.threads.append(trio.lowlevel.in_trio_run())
        request.headers["X-Sync"] = "yes"
        response = yield request
        response.read()
        self.threads.append(trio.lowlevel.in_trio_run())


def unauthorised_then_echo(request: Request) -> Response:
    if "authorization" not in request.headers:
        return Response(401, text="t0k3n")
    return Response(200, json={"authorization": request.headers["authorization"]})


async def test_custom_auth_subclasses_are_honoured(server: Server) -> None:
    async with AsyncClient(transport=MockTransport(unauthorised_then_echo)) as client:
        response = await client.get("http://api.test/", auth=TokenFromBody())
        assert response.json() == {"authorization": "Token t0k3n"}
        assert [r.status_code for r in response.history] == [401]
    async with AsyncClient(base_url=server.url, auth=AsyncFlow()) as client:
        echo = (await client.get("/echo")).json()
        assert ["x-async", "yes"] in echo["headers"]
    sync_flow = SyncOnlyFlow()
    async with AsyncClient(base_url=server.url) as client:
        echo = (await client.get("/echo", auth=sync_flow)).json()
        assert ["x-sync", "yes"] in echo["headers"]
    # The blocking flow ran in worker threads, never in the trio thread.
    assert sync_flow.threads == [False, False]


def test_sync_auth_flow_with_the_blocking_client(serve_in_thread: Any) -> None:
    server = serve_in_thread()
    flow = SyncOnlyFlow()
    with Client(base_url=server.url) as client:
        echo = client.get("/echo", auth=flow).json()
    assert ["x-sync", "yes"] in echo["headers"] and flow.threads == [False, False]


async def test_one_info_line_per_request(
    client: AsyncClient, server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="trio_httpcore"):
        await client.get("/chain/1")
    lines = [r.getMessage() for r in caplog.records if r.name == "trio_httpcore"]
    assert lines == [
        f'HTTP Request: GET {server.url}/chain/1 "HTTP/1.1 302 Found"',
        f'HTTP Request: GET {server.url}/chain/0 "HTTP/1.1 200 OK"',
    ]


def test_async_client_under_asyncio_says_so() -> None:
    async def main() -> None:
        async with AsyncClient(transport=MockTransport(lambda r: Response(200))) as client:
            await client.get("http://x.test/")

    with pytest.raises(RuntimeError, match=r"trio only.*blocking trio_httpcore\.Client"):
        asyncio.run(main())

    async def send_only() -> None:
        client = AsyncClient(transport=MockTransport(lambda r: Response(200)))
        await client.get("http://x.test/")

    with pytest.raises(RuntimeError, match="trio only"):
        asyncio.run(send_only())


async def test_a_closed_client_cannot_be_opened_again() -> None:
    client = AsyncClient(transport=MockTransport(lambda r: Response(200)))
    async with client:
        pass
    with pytest.raises(RuntimeError, match="opened already"):
        await client.__aenter__()
    assert client.trust_env is True
