"""FIELD-LESSONS 23 (encode/httpx#572, #722, #3130, #3520; httpcore PR#944): sync and async
drifted apart where the sync code was a generated copy. Here there is one implementation;
these cases run through both ``AsyncConnectionPool`` and ``SyncConnectionPool`` and must
give the same results (status, headers that matter, body, or the same exception). The
client cases do the same through ``AsyncClient`` and ``Client``, one per client keyword."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.pool import TIMEOUTS
from tests.support.raw import closed_port
from tests.support.servers import pattern
from tests.support.threaded import ThreadedServer
from trio_httpcore import (
    AsyncByteStream,
    AsyncClient,
    AsyncConnectionPool,
    AsyncIteratorByteStream,
    Client,
    ConnectError,
    IteratorByteStream,
    Limits,
    MockTransport,
    PlainByteStream,
    ReadTimeout,
    RemoteProtocolError,
    Request,
    Response,
    SyncByteStream,
    SyncConnectionPool,
    TooManyRedirects,
    UnsupportedProtocol,
)

from .conftest import KOI8_TEXT

BODY = pattern(100_000)


@dataclass(frozen=True)
class Case:
    id: str
    method: bytes = b"GET"
    path: str = "/"
    body: bytes | None = None
    chunked: bool = False  # the body as an iterator (sent chunked), not bytes
    url: tuple[bytes, bytes, int | None, bytes] | None = None  # instead of the server's
    ext: dict[str, Any] = field(default_factory=lambda: TIMEOUTS)
    status: int = 200
    response: bytes = b"hello"
    error: tuple[type[Exception], type[BaseException] | None] | None = None  # class, cause


CASES = [
    Case("get"),
    Case("large body", path="/bytes/300000", response=pattern(300_000)),
    Case("status 404", path="/status/404", status=404, response=b""),
    Case("post bytes", method=b"POST", path="/echo", body=BODY, response=BODY),
    Case("post chunked", method=b"POST", path="/echo", body=BODY, chunked=True, response=BODY),
    Case("post empty", method=b"POST", path="/echo", body=b"", response=b""),
    Case(
        "connect refused",
        url=(b"http", b"127.0.0.1", closed_port(), b"/"),
        error=(ConnectError, OSError),
    ),
    Case(
        "read timeout",
        path="/slow",
        ext={"timeout": {"connect": 5, "read": 0.05, "write": 5, "pool": 5}},
        error=(ReadTimeout, None),
    ),
    Case("bad scheme", url=(b"ftp", b"127.0.0.1", 21, b"/"), error=(UnsupportedProtocol, None)),
    Case("truncated body", path="/truncated", error=(RemoteProtocolError, Exception)),
]


def headers(case: Case) -> list[tuple[bytes, bytes]]:
    if case.body is not None and not case.chunked:
        return [(b"content-length", str(len(case.body)).encode())]
    return []


def sync_body(case: Case) -> SyncByteStream | None:
    if case.body is None:
        return None
    if not case.chunked:
        return PlainByteStream(case.body)
    body = case.body

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 30_000):
            yield body[i : i + 30_000]

    return IteratorByteStream(chunks())


def async_body(case: Case) -> AsyncByteStream | None:
    if case.body is None:
        return None
    if not case.chunked:
        return PlainByteStream(case.body)
    body = case.body

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 30_000):
            yield body[i : i + 30_000]

    return AsyncIteratorByteStream(chunks())


def check(case: Case, result: tuple[int, bytes, str] | BaseException) -> None:
    if case.error is None:
        assert result == (case.status, case.response, "HTTP/1.1")
        return
    error_class, cause_class = case.error
    assert type(result) is error_class, result
    if cause_class is None:
        return
    assert isinstance(result.__cause__, cause_class), result.__cause__


def target(case: Case, server: ThreadedServer) -> tuple[bytes, bytes, int | None, bytes]:
    return case.url or server.url4(case.path)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_async(case: Case, h11_server: ThreadedServer) -> None:
    async with AsyncConnectionPool() as pool:
        try:
            status, _, stream, ext = await pool.arequest(
                case.method, target(case, h11_server), headers(case), async_body(case), case.ext
            )
            body = b"".join([chunk async for chunk in stream])
            await stream.aclose()
            result: tuple[int, bytes, str] | BaseException = (status, body, ext["http_version"])
        except Exception as exc:
            result = exc
    check(case, result)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_sync(case: Case, h11_server: ThreadedServer) -> None:
    with SyncConnectionPool() as pool:
        try:
            status, _, stream, ext = pool.request(
                case.method, target(case, h11_server), headers(case), sync_body(case), case.ext
            )
            body = b"".join(stream)
            stream.close()
            result: tuple[int, bytes, str] | BaseException = (status, body, ext["http_version"])
        except Exception as exc:
            result = exc
    check(case, result)


# The same through the clients: each case a client keyword (constructor or request).

ClientOptions = Callable[[str], dict[str, Any]]
"""A case's client keywords, given the server's URL."""

TRACED = [
    f"{step}.{end}"
    for step in (
        "connection.connect_tcp",
        "http11.send_request_headers",
        "http11.receive_response_headers",
        "http11.response_closed",
    )
    for end in ("started", "complete")
]


def mocked(request: Request) -> Response:
    return Response(200, text=f"mocked {request.url.host}")


@dataclass(frozen=True)
class ClientCase:
    id: str
    url: str = "/"  # joined to the server's URL unless absolute
    method: str = "GET"
    client: ClientOptions = lambda server_url: {}
    request: dict[str, Any] = field(default_factory=dict)
    trace: bool = False  # pass extensions={"trace": ...}, the names it sees in the result
    # status, text, the statuses of the history, the request target the server saw last
    # (None: none reached it), the trace's event names; or the exception's class
    result: tuple[int, str, list[int], bytes | None, list[str]] | type[Exception] = (
        200, "hello", [], b"/", [],
    )  # fmt: skip


CLIENT_CASES = [
    ClientCase("get"),
    ClientCase("redirect followed", "/redirect", result=(200, "hello", [302], b"/", [])),
    ClientCase(
        "HEAD: redirect not followed",
        "/redirect",
        method="HEAD",
        result=(302, "", [], b"/redirect", []),
    ),
    ClientCase(
        "follow_redirects=False on the client",
        "/redirect",
        client=lambda server_url: {"follow_redirects": False},
        result=(302, "", [], b"/redirect", []),
    ),
    ClientCase(
        "follow_redirects=False on the request",
        "/redirect",
        request={"follow_redirects": False},
        result=(302, "", [], b"/redirect", []),
    ),
    ClientCase(
        "allow_redirects=False (the seed's name)",
        "/redirect",
        request={"allow_redirects": False},
        result=(302, "", [], b"/redirect", []),
    ),
    ClientCase(
        "follow_redirects=True beats the client's False",
        "/redirect",
        client=lambda server_url: {"follow_redirects": False},
        request={"follow_redirects": True},
        result=(200, "hello", [302], b"/", []),
    ),
    ClientCase(
        "max_redirects=0",
        "/redirect",
        client=lambda server_url: {"max_redirects": 0},
        result=TooManyRedirects,
    ),
    ClientCase(
        "params and query_params (the seed's name)",
        client=lambda server_url: {"params": {"a": "1"}},
        request={"query_params": {"b": "2"}},
        result=(200, "hello", [], b"/?a=1&b=2", []),
    ),
    ClientCase(
        "params and query_params together",
        request={"params": {"a": "1"}, "query_params": {"b": "2"}},
        result=TypeError,
    ),
    ClientCase(
        "default_encoding",
        "/koi8-r",
        client=lambda server_url: {"default_encoding": "koi8-r"},
        result=(200, KOI8_TEXT, [], b"/koi8-r", []),
    ),
    ClientCase(
        "default_encoding, a callable",
        "/koi8-r",
        client=lambda server_url: {"default_encoding": lambda body: "koi8-r"},
        result=(200, KOI8_TEXT, [], b"/koi8-r", []),
    ),
    ClientCase("extensions (trace)", trace=True, result=(200, "hello", [], b"/", TRACED)),
    ClientCase(
        "proxy= (the server as a forward proxy)",
        "http://example.invalid/via-proxy",
        client=lambda server_url: {"proxy": server_url},
        result=(200, "hello", [], b"http://example.invalid/via-proxy", []),
    ),
    ClientCase(
        "mounts=",
        "http://example.invalid/",
        client=lambda server_url: {"mounts": {"all://example.invalid": MockTransport(mocked)}},
        result=(200, "mocked example.invalid", [], None, []),
    ),
    ClientCase(
        "mounts= with None: the default transport",
        client=lambda server_url: {
            "mounts": {"all://": MockTransport(mocked), "all://127.0.0.1": None}
        },
    ),
    ClientCase(
        "dispatch= and pool_limits= (the seed's names)",
        "http://example.invalid/",
        client=lambda server_url: {"dispatch": MockTransport(mocked), "pool_limits": Limits()},
        result=(200, "mocked example.invalid", [], None, []),
    ),
]


def client_result(
    response: Response, server: ThreadedServer, traced: list[str]
) -> tuple[int, str, list[int], bytes | None, list[str]]:
    requests = server.server.extra["requests"]
    target = requests[-1].target if requests else None
    history = [earlier.status_code for earlier in response.history]
    return response.status_code, response.text, history, target, traced


def client_call(
    case: ClientCase, server: ThreadedServer
) -> tuple[dict[str, Any], str, dict[str, Any], list[str]]:
    """The case's client keywords, URL, request keywords, and the list its trace fills."""
    traced: list[str] = []

    def trace(event_name: str, info: dict[str, Any]) -> None:
        traced.append(event_name)

    request = dict(case.request, **({"extensions": {"trace": trace}} if case.trace else {}))
    url = case.url if "://" in case.url else server.server.url + case.url
    options = {"timeout": TIMEOUTS["timeout"]["read"], **case.client(server.server.url)}
    return options, url, request, traced


@pytest.mark.parametrize("case", CLIENT_CASES, ids=[c.id for c in CLIENT_CASES])
async def test_async_client(case: ClientCase, client_server: ThreadedServer) -> None:
    options, url, request, traced = client_call(case, client_server)
    async with AsyncClient(**options) as client:
        try:
            response = await client.request(case.method, url, **request)
        except Exception as exc:
            assert type(exc) is case.result, exc
            return
    assert client_result(response, client_server, traced) == case.result


@pytest.mark.parametrize("case", CLIENT_CASES, ids=[c.id for c in CLIENT_CASES])
def test_blocking_client(case: ClientCase, client_server: ThreadedServer) -> None:
    options, url, request, traced = client_call(case, client_server)
    with Client(**options) as client:
        try:
            response = client.request(case.method, url, **request)
        except Exception as exc:
            assert type(exc) is case.result, exc
            return
    assert client_result(response, client_server, traced) == case.result
