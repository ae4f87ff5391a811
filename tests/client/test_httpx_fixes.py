"""Behaviours an httpx user relies on, each checked against Hypercorn (issue 17, items 1-9)."""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
import trio

from tests.support.servers import Server
from trio_httpcore._client import URL, AsyncClient, Headers, Request, Response, Timeout
from trio_httpcore._exceptions import InvalidURL, ReadTimeout

from .conftest import ClientApp


def header_values(echo: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in echo["headers"] if key == name]


async def test_files_keep_a_caller_set_multipart_boundary(client: AsyncClient) -> None:
    """1. The boundary of a caller's ``Content-Type`` is the one the body uses."""
    response = await client.post(
        "/echo",
        files={"f": ("a.txt", b"hello")},
        headers={"Content-Type": "multipart/form-data; boundary=my-boundary"},
    )
    echo = response.json()
    assert header_values(echo, "content-type") == ["multipart/form-data; boundary=my-boundary"]
    assert echo["body"].startswith("--my-boundary\r\n")
    assert echo["body"].endswith("--my-boundary--\r\n")
    assert int(header_values(echo, "content-length")[0]) == len(echo["body"])


async def test_send_applies_the_client_timeout(server: Server, client_app: ClientApp) -> None:
    """2. ``client.send(Request(...))`` gets the client's timeouts, not none at all."""
    async with AsyncClient(timeout=Timeout(5.0, read=0.2)) as client:
        request = Request("GET", f"{server.url}/stall")
        assert "timeout" not in request.ext
        with trio.fail_after(10), pytest.raises(ReadTimeout):
            await client.send(request)
    assert client_app.stalled.is_set()


async def test_send_keeps_a_request_timeout_of_none(server: Server) -> None:
    """2. A request built with ``timeout=None`` keeps having no limit."""
    async with AsyncClient(timeout=0.2) as client:
        request = client.build_request("GET", f"{server.url}/echo", timeout=None)
        assert request.ext["timeout"] == dict.fromkeys(("connect", "read", "write", "pool"))
        response = await client.send(request)
        assert response.status_code == 200
        assert response.request.ext["timeout"]["read"] is None


async def test_request_params_replace_the_client_params(server: Server) -> None:
    """3. A request's value of a parameter replaces the client's; other keys stay."""
    async with AsyncClient(base_url=server.url, params={"a": "1", "b": "x"}) as client:
        echo = (await client.get("/echo", params={"a": "2"})).json()
    assert echo["query"] == "a=2&b=x"


async def test_base_url_path_with_a_colon(server: Server) -> None:
    """4. ``"/documents:batchGet"`` extends the base URL's path; it is no scheme."""
    async with AsyncClient(base_url=f"{server.url}/v1") as client:
        response = await client.post("/documents:batchGet")
        assert response.url == URL(f"{server.url}/v1/documents:batchGet")
        assert response.json()["path"] == "/v1/documents:batchGet"


@pytest.mark.parametrize(
    "change",
    [
        {"host": "evil.com/x?y#"},
        {"host": "evil.com:81"},
        {"host": "user@evil.com"},
        {"scheme": "https://u:p@other/"},
        {"scheme": "http:"},
        {"netloc": "evil.com/x"},
        {"port": 70000},
    ],
)
async def test_copy_with_components_are_checked_alone(
    client: AsyncClient, server: Server, client_app: ClientApp, change: dict[str, Any]
) -> None:
    """5. No component given to ``copy_with`` can rewrite another."""
    url = URL(f"{server.url}/echo?q=1")
    with pytest.raises(InvalidURL):
        url.copy_with(**change)
    # What a component may hold is encoded, never read as another component.
    moved = url.copy_with(path="/echo/a?b#c", query="x=#y", fragment="f#g")
    assert (moved.host, moved.path, moved.query) == ("127.0.0.1", "/echo/a%3Fb%23c", "x=%23y")
    echo = (await client.get(moved)).json()
    assert (echo["path"], echo["query"]) == ("/echo/a%3Fb%23c", "x=%23y")
    assert len(client_app.requests) == 1


async def test_upload_of_a_file_just_written(client: AsyncClient) -> None:
    """6. A file whose writes sit in Python's buffer is sent whole, from its start."""
    with tempfile.TemporaryFile("w+b") as file:
        file.write(b"0123456789" * 1000)  # buffered: not on disk yet
        response = await client.post("/echo", files={"upload": ("data.bin", file)})
    echo = response.json()
    assert "0123456789" * 1000 in echo["body"]
    assert int(header_values(echo, "content-length")[0]) == len(echo["body"])


async def test_location_without_a_host(client: AsyncClient, server: Server) -> None:
    """7. ``Location: http://:<port>/...`` is resolved against the request's host."""
    location = f"http://:{server.port}/status/201"
    response = await client.get("/redirect/302", params={"location": location})
    assert response.status_code == 201
    assert response.url == URL(f"{server.url}/status/201")


@pytest.mark.parametrize("headers", [{"X": None}, {"X": 1}, [("X", b"1", "2")], {b"X": None}])
async def test_headers_of_the_wrong_type(
    client: AsyncClient, client_app: ClientApp, headers: Any
) -> None:
    """8. Headers of a type that is not str or bytes fail when built, before any byte leaves."""
    with pytest.raises((TypeError, ValueError)):
        Headers(headers)
    with pytest.raises((TypeError, ValueError)):
        await client.get("/echo", headers=headers)
    assert client_app.requests == []


@pytest.mark.parametrize("content", [{"a": 1}, 12, 1.5, object()])
async def test_content_of_the_wrong_type(
    client: AsyncClient, client_app: ClientApp, content: Any
) -> None:
    """8. ``content=`` of no bytes, str or iterator of bytes fails when the request is built."""
    with pytest.raises(TypeError, match="content="):
        Request("POST", "http://example.org", content=content)
    with pytest.raises(TypeError, match="content="):
        await client.post("/echo", content=content)
    assert client_app.requests == []


async def test_response_built_without_a_body(client: AsyncClient) -> None:
    """9. A response built with no body has ``b""``, read or not."""
    response = Response(200)
    assert response.content == b""
    assert response.text == ""
    assert list(response.iter_bytes()) == []
    # One from the server with an empty body agrees.
    assert (await client.get("/status/204")).content == b""


async def test_send_with_its_own_timeout(server: Server) -> None:
    """2. ``send(request, timeout=...)`` replaces the client's for that request."""
    async with AsyncClient(timeout=None) as client:
        request = Request("GET", f"{server.url}/stall")
        with trio.fail_after(10), pytest.raises(ReadTimeout):
            await client.send(request, timeout=Timeout(5.0, read=0.2))
