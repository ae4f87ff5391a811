"""A caller's framing headers that disagree with the body: refused before any byte leaves
when that can be known, mapped to :class:`LocalProtocolError` when it shows while streaming
(issue 19). Against a scripted server that records what reaches it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import h11
import pytest
import trio

import trio_httpcore
from tests.support.pool import TIMEOUTS, PoolFactory, assert_quiescent
from tests.support.raw import RawConn
from tests.support.servers import Server


async def _record(received: list[bytes], conn: RawConn) -> None:
    while data := await conn.receive_some():
        received.append(data)


@pytest.fixture
async def recording_server(start_raw_server: Callable[..., Any]) -> tuple[Server, list[bytes]]:
    received: list[bytes] = []
    server = await start_raw_server(lambda conn: _record(received, conn))
    return server, received


async def _chunks(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        await trio.lowlevel.checkpoint()
        yield chunk


@pytest.mark.parametrize(
    ("length", "body"), [(b"10", b"hello"), (b"3", b"hello"), (b"5", b""), (b"5", None)]
)
async def test_known_length_body_that_disagrees_is_refused_before_sending(
    make_pool: PoolFactory,
    recording_server: tuple[Server, list[bytes]],
    length: bytes,
    body: bytes | None,
) -> None:
    """A body whose length is known (bytes in memory; no body at all is 0 bytes) and a
    ``Content-Length`` that disagrees: nothing is sent, not even the connection opened."""
    server, received = recording_server
    stream = None if body is None else trio_httpcore.PlainByteStream(body)
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.LocalProtocolError, match="Content-Length") as info:
            await pool.arequest(
                b"POST", server.url4("/"), [(b"Content-Length", length)], stream, TIMEOUTS
            )
    assert f"Content-Length: {length.decode()}" in str(info.value)
    assert server.connections == [] and received == []


@pytest.mark.parametrize(
    ("length", "chunks", "words"),
    [(b"4", (b"he", b"llo"), "longer"), (b"10", (b"he", b"llo"), "shorter")],
)
async def test_streamed_body_that_disagrees_is_a_local_protocol_error(
    make_pool: PoolFactory,
    recording_server: tuple[Server, list[bytes]],
    length: bytes,
    chunks: tuple[bytes, ...],
    words: str,
) -> None:
    """A streamed body turns out longer or shorter than its ``Content-Length``: h11 refuses
    the data, and the caller gets our error (h11's as its cause), naming the origin; the
    connection, whose head went out, is closed."""
    server, _ = recording_server
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.LocalProtocolError) as info:
            await pool.arequest(
                b"POST",
                server.url4("/"),
                [(b"Content-Length", length)],
                trio_httpcore.AsyncIteratorByteStream(_chunks(*chunks)),
                TIMEOUTS,
            )
        assert isinstance(info.value.__cause__, h11.LocalProtocolError)
        assert f"127.0.0.1:{server.port}" in str(info.value)
        assert words in str(info.value)
        await trio.testing.wait_all_tasks_blocked()
        assert_quiescent(pool)
        assert pool.statistics().idle == 0


@pytest.mark.parametrize("body", [b"hello", None])
async def test_content_length_with_chunked_is_refused(
    make_pool: PoolFactory, recording_server: tuple[Server, list[bytes]], body: bytes | None
) -> None:
    """``Content-Length`` and ``Transfer-Encoding: chunked`` together are the shape of
    request smuggling (RFC 9112 section 6.2: a sender MUST NOT): refused, nothing sent."""
    server, received = recording_server
    stream = None if body is None else trio_httpcore.PlainByteStream(body)
    headers = [(b"Content-Length", b"5"), (b"Transfer-Encoding", b"chunked")]
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.LocalProtocolError, match="Transfer-Encoding"):
            await pool.arequest(b"POST", server.url4("/"), headers, stream, TIMEOUTS)
    assert server.connections == [] and received == []
