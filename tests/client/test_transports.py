"""In-process transports as httpx has them: MockTransport, ASGITransport, WSGITransport.

The ASGI transport is tested with a plain ASGI callable and with Starlette
(which runs on trio through anyio); the WSGI transport with a plain WSGI
callable and with Flask.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import flask
import pytest
import trio
import trio.lowlevel
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

from trio_httpcore import (
    ASGITransport,
    AsyncClient,
    Client,
    MockTransport,
    Request,
    Response,
    WSGITransport,
)

from .conftest import Receive, Scope, Send

# MockTransport.


async def test_mock_transport_sync_and_async_handlers() -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(201, json={"got": json.loads(request.content)})

    async def async_handler(request: Request) -> Response:
        await trio.lowlevel.checkpoint()
        return Response(200, content=gzip.compress(b"zip"), headers={"Content-Encoding": "gzip"})

    async with AsyncClient(transport=MockTransport(handler)) as client:
        response = await client.post("https://example.org/items?a=1", json={"x": 1})
    assert (response.status_code, response.json()) == (201, {"got": {"x": 1}})
    assert response.headers["content-type"] == "application/json"
    assert str(seen[0].url) == "https://example.org/items?a=1"
    assert seen[0].headers["host"] == "example.org" and seen[0].method == "POST"
    async with AsyncClient(transport=MockTransport(async_handler)) as client:
        response = await client.get("http://example.org/")
    assert response.content == b"zip" and response.http_version == "HTTP/1.1"


async def test_mock_transport_streams_an_iterator_answer() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"one "
        yield b"two"

    transport = MockTransport(lambda request: Response(200, content=body()))
    async with (
        AsyncClient(transport=transport) as client,
        client.stream("GET", "http://example.org/") as response,
    ):
        assert [chunk async for chunk in response.aiter_bytes()] == [b"one ", b"two"]


async def test_mock_transport_handler_must_return_a_response() -> None:
    transport = MockTransport(lambda request: "nope")  # type: ignore[arg-type,return-value]
    async with AsyncClient(transport=transport) as client:
        with pytest.raises(TypeError, match="returns a Response"):
            await client.get("http://example.org/")


def test_mock_transport_with_the_blocking_client() -> None:
    transport = MockTransport(lambda request: Response(200, text=request.url.path))
    with Client(transport=transport) as client:
        assert client.get("http://example.org/path").text == "/path"


# ASGITransport: a plain ASGI callable.


async def plain_asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/boom":
        raise ValueError("the app failed")
    answer = {
        "method": scope["method"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode(),
        "query": scope["query_string"].decode(),
        "server": list(scope["server"]),
        "client": list(scope["client"]),
        "root_path": scope["root_path"],
        "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
        "body": body.decode(),
    }
    content = json.dumps(answer).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-app", b"1")]})
    await send({"type": "http.response.body", "body": content[:10], "more_body": True})
    await send({"type": "http.response.body", "body": content[10:]})


async def test_asgi_transport_plain_app() -> None:
    transport = ASGITransport(plain_asgi_app, root_path="/root", client=("10.0.0.1", 5))
    async with AsyncClient(transport=transport, base_url="https://app.test") as client:
        response = await client.post("/a%20b", params={"q": "1"}, content=b"payload")
        head = await client.head("/x")
    answer = response.json()
    assert (answer["method"], answer["path"], answer["raw_path"]) == ("POST", "/a b", "/a%20b")
    assert (answer["query"], answer["body"]) == ("q=1", "payload")
    assert answer["server"] == ["app.test", 443] and answer["client"] == ["10.0.0.1", 5]
    assert answer["root_path"] == "/root"
    assert ["host", "app.test"] in answer["headers"]
    assert all(name == name.lower() for name, _ in answer["headers"])
    assert response.headers["x-app"] == "1"
    assert head.status_code == 200 and head.content == b""


async def test_asgi_transport_app_exceptions() -> None:
    async with AsyncClient(transport=ASGITransport(plain_asgi_app)) as client:
        with pytest.raises(ValueError, match="the app failed"):
            await client.get("http://app.test/boom")
    transport = ASGITransport(plain_asgi_app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport) as client:
        assert (await client.get("http://app.test/boom")).status_code == 500


async def test_asgi_transport_app_that_sends_no_response() -> None:
    async def silent(scope: Any, receive: Any, send: Any) -> None:
        pass

    async with AsyncClient(transport=ASGITransport(silent)) as client:
        with pytest.raises(RuntimeError, match="without sending a response"):
            await client.get("http://app.test/")


async def test_asgi_transport_app_that_breaks_the_protocol() -> None:
    async def twice(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def body_first(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.body", "body": b"x"})

    for app in (twice, body_first):
        async with AsyncClient(transport=ASGITransport(app)) as client:
            with pytest.raises(RuntimeError, match="ASGI app sent"):
                await client.get("http://app.test/")


# ASGITransport: Starlette, on trio through anyio.


async def homepage(request: StarletteRequest) -> JSONResponse:
    return JSONResponse({"hello": request.query_params.get("name", "world")})


async def upload(request: StarletteRequest) -> PlainTextResponse:
    async with request.form() as form:
        upload = form["file"]
        assert not isinstance(upload, str)
        return PlainTextResponse(f"{upload.filename}:{(await upload.read()).decode()}")


async def streamed(request: StarletteRequest) -> StreamingResponse:
    async def numbers() -> AsyncIterator[bytes]:
        for n in range(3):
            await trio.lowlevel.checkpoint()
            yield b"%d\n" % n

    return StreamingResponse(numbers(), media_type="text/plain")


async def failing(request: StarletteRequest) -> PlainTextResponse:
    raise RuntimeError("handler failed")


starlette_app = Starlette(
    routes=[
        Route("/", homepage),
        Route("/upload", upload, methods=["POST"]),
        Route("/stream", streamed),
        Route("/fail", failing),
    ]
)


async def test_asgi_transport_starlette() -> None:
    transport = ASGITransport(starlette_app)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/", params={"name": "trio"})).json() == {"hello": "trio"}
        upload = await client.post("/upload", files={"file": ("a.txt", b"contents")})
        assert upload.text == "a.txt:contents"
        stream = await client.get("/stream")
        assert stream.text == "0\n1\n2\n"
        assert (await client.get("/missing")).status_code == 404
        with pytest.raises(RuntimeError, match="handler failed"):
            await client.get("/fail")
    quiet = ASGITransport(starlette_app, raise_app_exceptions=False)
    async with AsyncClient(transport=quiet) as client:
        assert (await client.get("http://testserver/fail")).status_code == 500


# WSGITransport.


def plain_wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    body = environ["wsgi.input"].read()
    if environ["PATH_INFO"] == "/error":
        try:
            raise KeyError("wsgi failure")
        except KeyError:
            import sys

            start_response("500 Internal Server Error", [], sys.exc_info())
            return [b"failed"]
    keys = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT")
    answer = {key: environ[key] for key in keys}
    answer |= {"body": body.decode(), "accept": environ.get("HTTP_X_MULTI")}
    answer["content_type"] = environ.get("CONTENT_TYPE")
    write = start_response("201 Created", [("Content-Type", "application/json")])
    write(b"")
    return [json.dumps(answer).encode()]


async def test_wsgi_transport_plain_app() -> None:
    async with AsyncClient(transport=WSGITransport(plain_wsgi_app)) as client:
        response = await client.put(
            "http://wsgi.test/p%C3%A4th?x=1",
            data={"a": "b"},
            headers=[("X-Multi", "1"), ("X-Multi", "2")],
        )
        assert (response.status_code, response.reason_phrase) == (201, "Created")
        answer = response.json()
        assert answer["REQUEST_METHOD"] == "PUT" and answer["QUERY_STRING"] == "x=1"
        assert answer["PATH_INFO"] == "/päth".encode().decode("latin-1")
        assert (answer["SERVER_NAME"], answer["SERVER_PORT"]) == ("wsgi.test", "80")
        assert answer["body"] == "a=b" and answer["accept"] == "1,2"
        assert answer["content_type"] == "application/x-www-form-urlencoded"
        with pytest.raises(KeyError, match="wsgi failure"):
            await client.get("http://wsgi.test/error")
    quiet = WSGITransport(plain_wsgi_app, raise_app_exceptions=False)
    async with AsyncClient(transport=quiet) as client:
        failed = await client.get("http://wsgi.test/error")
        assert (failed.status_code, failed.text) == (500, "failed")


async def test_wsgi_transport_app_that_never_starts_a_response() -> None:
    async with AsyncClient(transport=WSGITransport(lambda environ, start: [b"x"])) as client:
        with pytest.raises(RuntimeError, match="start_response"):
            await client.get("http://wsgi.test/")


flask_app = flask.Flask(__name__)


@flask_app.route("/hello/<name>", methods=["GET", "POST"])
def hello(name: str) -> Any:
    return flask.jsonify(name=name, args=flask.request.args, form=flask.request.form)


@flask_app.route("/cookie")
def cookie() -> Any:
    response = flask.make_response("set")
    response.set_cookie("session", "abc")
    return response


@flask_app.route("/whoami")
def whoami() -> Any:
    return flask.request.cookies.get("session", "nobody")


async def test_wsgi_transport_flask() -> None:
    transport = WSGITransport(flask_app)
    async with AsyncClient(transport=transport, base_url="http://flask.test") as client:
        response = await client.post("/hello/trio", params={"q": "1"}, data={"f": "2"})
        assert response.json() == {"name": "trio", "args": {"q": "1"}, "form": {"f": "2"}}
        await client.get("/cookie")
        assert (await client.get("/whoami")).text == "abc"
        assert (await client.get("/nowhere")).status_code == 404


def test_wsgi_transport_flask_with_the_blocking_client() -> None:
    with Client(transport=WSGITransport(flask_app), base_url="https://flask.test") as client:
        assert client.get("/hello/sync").json()["name"] == "sync"
