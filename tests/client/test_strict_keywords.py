"""A misspelt keyword is a TypeError everywhere in the public API, never silently ignored.

Two walks over ``trio_httpcore.__all__``: every public function, constructor
and method spells its keywords out (no ``**kwargs`` swallowing them, so
``inspect.signature`` and ``help()`` show them), and each constructor and
request method, called with a misspelt keyword, raises ``TypeError`` before
any byte leaves.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

import trio_httpcore
from tests.support.servers import Server
from trio_httpcore import AsyncClient, Client, Response

from .conftest import ClientApp

# Keyword catch-alls that are part of a contract: Mapping.update's, and json.loads's options.
ALLOWED_CATCH_ALLS = {"Cookies.update", "Response.json"}


def public_callables() -> Iterator[tuple[str, Callable[..., Any]]]:
    """``(qualified name, callable)`` for every public function, constructor and method."""
    for name in trio_httpcore.__all__:
        obj = getattr(trio_httpcore, name)
        if not inspect.isclass(obj):
            if callable(obj):
                yield name, obj
            continue
        for attribute, member in inspect.getmembers(obj):
            module = getattr(member, "__module__", None) or ""
            public = attribute == "__init__" or not attribute.startswith("_")
            if public and callable(member) and module.startswith("trio_httpcore"):
                yield f"{name}.{attribute}", member


def signature_cases() -> Iterator[Any]:
    for qualified, function in public_callables():
        if not inspect.isfunction(function):
            continue  # object.__init__ and the like: they take no keywords at all
        yield pytest.param(qualified, function, id=qualified)


@pytest.mark.parametrize(("qualified", "function"), list(signature_cases()))
def test_keywords_are_spelt_out(qualified: str, function: Callable[..., Any]) -> None:
    parameters = inspect.signature(function).parameters.values()
    catch_all = [p.name for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD]
    assert not catch_all or qualified in ALLOWED_CATCH_ALLS, f"{qualified} takes **{catch_all[0]}"


def test_the_walk_covers_the_api() -> None:
    names = {qualified for qualified, _ in public_callables()}
    expected = {"AsyncClient.get", "Client.stream", "URL.copy_with", "Response.iter_bytes"}
    assert expected <= names
    assert "create_ssl_context" in names and "MockTransport.__init__" in names


async def iterate() -> AsyncIterator[bytes]:
    yield b""


# The positional arguments each constructor needs; exceptions take a message.
REQUIRED: dict[str, tuple[Any, ...]] = {
    "URL": ("http://example.org",),
    "Origin": ("http://example.org",),
    "Request": ("GET", "http://example.org"),
    "Response": (200,),
    "BasicAuth": ("user", "password"),
    "DigestAuth": ("user", "password"),
    "FunctionAuth": (lambda request: request,),
    "MockTransport": (lambda request: Response(200),),
    "ASGITransport": (ClientApp(),),
    "WSGITransport": (lambda environ, start_response: [],),
    "AsyncHTTPProxy": ((b"http", b"127.0.0.1", 3128, b"/"),),
    "SyncHTTPProxy": ((b"http", b"127.0.0.1", 3128, b"/"),),
    "AsyncSOCKSProxy": ((b"socks5", b"127.0.0.1", 1080, b"/"),),
    "SyncSOCKSProxy": ((b"socks5", b"127.0.0.1", 1080, b"/"),),
    "PlainByteStream": (b"",),
    "AsyncIteratorByteStream": (iterate(),),
    "IteratorByteStream": (iter([b""]),),
    "codes": (200,),
}


def constructor_cases() -> Iterator[Any]:
    for name in trio_httpcore.__all__:
        obj = getattr(trio_httpcore, name)
        if inspect.isclass(obj) or callable(obj):
            arguments = ("message",) if inspect.isclass(obj) and issubclass(obj, Exception) else ()
            yield pytest.param(obj, REQUIRED.get(name, arguments), id=name)


@pytest.mark.parametrize(("factory", "arguments"), list(constructor_cases()))
def test_a_misspelt_keyword_in_a_constructor(
    factory: Callable[..., Any], arguments: tuple[Any, ...]
) -> None:
    with pytest.raises(TypeError):
        factory(*arguments, definitely_misspelt=True)


TYPOS: list[tuple[str, dict[str, Any]]] = [
    ("get", {"follow_redirect": False}),
    ("get", {"header": {"X": "1"}}),
    ("post", {"jsn": {"a": 1}}),
    ("put", {"date": {"a": "1"}}),
    ("patch", {"file": {}}),
    ("delete", {"param": {"a": "1"}}),
    ("head", {"timeouts": 1.0}),
    ("options", {"cookie": {}}),
]


@pytest.mark.parametrize(("method", "typo"), TYPOS)
async def test_a_misspelt_keyword_in_an_async_request_method(
    client: AsyncClient, client_app: ClientApp, method: str, typo: dict[str, Any]
) -> None:
    with pytest.raises(TypeError, match=next(iter(typo))):
        await getattr(client, method)("/echo", **typo)
    with pytest.raises(TypeError):
        await client.request("POST", "/echo", **typo)
    with pytest.raises(TypeError):
        async with client.stream("GET", "/echo", **typo):
            pass  # pragma: no cover - never reached
    with pytest.raises(TypeError):
        client.build_request("GET", "/echo", **typo)
    with pytest.raises(TypeError):
        await client.send(client.build_request("GET", "/echo"), **typo)
    assert client_app.requests == []


def test_a_misspelt_keyword_in_a_blocking_request_method(
    serve_in_thread: Callable[..., Server], client_app: ClientApp
) -> None:
    server = serve_in_thread()
    with Client(base_url=server.url) as client:
        for method, typo in TYPOS:
            with pytest.raises(TypeError, match=next(iter(typo))):
                getattr(client, method)("/echo", **typo)
            with pytest.raises(TypeError):
                client.request("POST", "/echo", **typo)
            with pytest.raises(TypeError), client.stream("GET", "/echo", **typo):
                pass  # pragma: no cover - never reached
            with pytest.raises(TypeError):
                client.build_request("GET", "/echo", **typo)
        with pytest.raises(TypeError):
            client.send(client.build_request("GET", "/echo"), stream_=True)  # type: ignore[call-arg]
    assert client_app.requests == []


def test_the_blocking_client_has_the_async_clients_keywords() -> None:
    """One signature for both clients: the blocking one's methods take exactly the
    async one's keywords, with the same defaults (so they cannot drift apart)."""
    methods = ["__init__", "build_request", "send", "request", "stream"]
    methods += ["get", "head", "options", "delete", "post", "put", "patch"]
    for name in methods:
        blocking = inspect.signature(getattr(Client, name)).parameters
        asynchronous = inspect.signature(getattr(AsyncClient, name)).parameters
        assert list(blocking.values()) == list(asynchronous.values()), name


def test_a_misspelt_keyword_in_model_methods() -> None:
    url = trio_httpcore.URL("http://example.org/")
    with pytest.raises(TypeError):
        url.copy_with(hots="evil.com")  # type: ignore[call-arg]
    response = Response(200, content=b"x")
    with pytest.raises(TypeError):
        response.iter_bytes(chunksize=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        trio_httpcore.create_ssl_context(verfy=False)  # type: ignore[call-arg]
