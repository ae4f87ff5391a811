"""FIELD-LESSONS 23 (encode/httpx#572, #722, #3130, #3520; httpcore PR#944): sync and async
drifted apart where the sync code was a generated copy. Here there is one implementation;
these cases run through both ``AsyncConnectionPool`` and ``SyncConnectionPool`` and must
give the same results (status, headers that matter, body, or the same exception)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.pool import TIMEOUTS
from tests.support.raw import closed_port
from tests.support.servers import pattern
from tests.support.threaded import ThreadedServer
from trio_httpcore import (
    AsyncByteStream,
    AsyncConnectionPool,
    AsyncIteratorByteStream,
    ConnectError,
    IteratorByteStream,
    PlainByteStream,
    ReadTimeout,
    RemoteProtocolError,
    SyncByteStream,
    SyncConnectionPool,
    UnsupportedProtocol,
)

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
