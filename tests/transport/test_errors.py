"""Every failure maps to the library's exceptions, names the origin, and leaves the pool usable."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
import trio
import trio.testing

import trio_httpcore
from tests.support.pool import (
    TIMEOUTS,
    PoolFactory,
    get_body,
    request,
    start_background,
    wait_closed,
)
from tests.support.raw import RawConn, closed_port, serve_blackhole
from tests.support.servers import Server, pattern
from tests.support.tls import TLSMaterial, make_tls_material


def origin_of(server: Server, host: str | None = None) -> str:
    return f"{server.scheme}://{host or server.host}:{server.port}"


async def test_refused_port_is_connect_error(make_pool: PoolFactory) -> None:
    port = closed_port()
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.ConnectError) as info:
            await pool.arequest(b"GET", (b"http", b"127.0.0.1", port, b"/"), ext=TIMEOUTS)
    assert f"http://127.0.0.1:{port}" in str(info.value)
    assert isinstance(info.value.__cause__, OSError)


async def test_unknown_host_is_connect_error(make_pool: PoolFactory) -> None:
    # ".invalid" is reserved (RFC 6761): it never resolves.
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.ConnectError) as info:
            await pool.arequest(b"GET", (b"http", b"nonexistent.invalid", 80, b"/"), ext=TIMEOUTS)
    assert "nonexistent.invalid" in str(info.value)
    assert info.value.__cause__ is not None


async def test_bad_certificate_is_connect_error_naming_verify_failure(
    make_pool: PoolFactory, tls_h1_server: Server, other_tls: TLSMaterial
) -> None:
    async with make_pool(ssl_context=other_tls.client_context()) as pool:
        with pytest.raises(trio_httpcore.ConnectError) as info:
            await pool.arequest(b"GET", tls_h1_server.url4("/", host="localhost"), ext=TIMEOUTS)
    message = str(info.value)
    assert "certificate verify failed" in message.lower()
    assert f"https://localhost:{tls_h1_server.port}" in message


async def test_default_context_rejects_unknown_ca(
    make_pool: PoolFactory, tls_h1_server: Server
) -> None:
    async with make_pool() as pool:  # certifi's bundle: the trustme CA is not in it
        with pytest.raises(trio_httpcore.ConnectError, match=r"(?i)certificate verify failed"):
            await pool.arequest(b"GET", tls_h1_server.url4("/", host="localhost"), ext=TIMEOUTS)


async def test_hostname_mismatch_is_connect_error(
    make_pool: PoolFactory, start_raw_server: Any, tmp_path: Any
) -> None:
    material = make_tls_material(str(tmp_path))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    material.ca.issue_cert("example.org").configure_cert(server_context)

    async def handler(conn: RawConn) -> None:
        tls = trio.SSLStream(conn.stream, server_context, server_side=True)
        try:
            await tls.do_handshake()
        except trio.BrokenResourceError:
            return

    server = await start_raw_server(handler)
    async with make_pool(ssl_context=material.client_context()) as pool:
        with pytest.raises(trio_httpcore.ConnectError) as info:
            await pool.arequest(b"GET", (b"https", b"localhost", server.port, b"/"), ext=TIMEOUTS)
    assert "certificate verify failed" in str(info.value).lower()
    assert "localhost" in str(info.value)


async def test_tls_to_a_plain_server_is_connect_error(
    make_pool: PoolFactory, http_server: Server, tls: TLSMaterial
) -> None:
    async with make_pool(ssl_context=tls.client_context()) as pool:
        with pytest.raises(trio_httpcore.ConnectError):
            await pool.arequest(
                b"GET", (b"https", b"127.0.0.1", http_server.port, b"/"), ext=TIMEOUTS
            )
        # The pool is fine afterwards.
        assert await get_body(pool, http_server) == b"hello"


async def _raw(start_raw_server: Any, response: bytes, *, reset: bool = False) -> Server:
    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        if response:
            await conn.send(response)
        if reset:
            conn.reset()

    server: Server = await start_raw_server(handler)
    return server


@pytest.mark.parametrize(
    "response",
    [
        b"garbage\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    ],
    ids=["garbage", "bad-status", "bad-header", "bad-length", "two-lengths"],
)
async def test_garbage_response_is_remote_protocol_error(
    make_pool: PoolFactory, start_raw_server: Any, response: bytes
) -> None:
    server = await _raw(start_raw_server, response)
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.RemoteProtocolError) as info:
            await request(pool, server)
    assert origin_of(server) in str(info.value)
    assert info.value.__cause__ is not None


@pytest.mark.parametrize(
    "response",
    [
        b"",
        b"HTTP/1.1 200 OK\r\nContent-",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    ],
    ids=["nothing", "mid-headers", "short-body", "unfinished-chunked"],
)
async def test_close_before_complete_response_is_remote_protocol_error(
    make_pool: PoolFactory, start_raw_server: Any, response: bytes
) -> None:
    server = await _raw(start_raw_server, response)
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.RemoteProtocolError) as info:
            await request(pool, server)
        assert pool.statistics().active == 0
    assert origin_of(server) in str(info.value)


async def test_reset_while_reading_body_is_read_error(
    make_pool: PoolFactory, start_raw_server: Any
) -> None:
    server = await _raw(
        start_raw_server,
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + pattern(1000),
        reset=True,
    )
    async with make_pool() as pool:
        status, _, stream, _ = await pool.arequest(b"GET", server.url4("/"), ext=TIMEOUTS)
        assert status == 200
        with pytest.raises(trio_httpcore.ReadError) as info:
            async for _ in stream:
                pass
    assert origin_of(server) in str(info.value)


async def test_reset_before_response_is_read_error(
    make_pool: PoolFactory, start_raw_server: Any
) -> None:
    server = await _raw(start_raw_server, b"", reset=True)
    async with make_pool() as pool:
        with pytest.raises((trio_httpcore.ReadError, trio_httpcore.RemoteProtocolError)):
            await request(pool, server)


@pytest.mark.parametrize("scheme", [b"ftp", b"ws", b"HTTP2", b""])
async def test_unsupported_scheme(
    make_pool: PoolFactory, http_server: Server, scheme: bytes
) -> None:
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.UnsupportedProtocol):
            await pool.arequest(b"GET", (scheme, b"127.0.0.1", http_server.port, b"/"))
    assert http_server.counter.total == 0


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        (b"GET", b"/", [(b"X-Evil", b"a\r\nInjected: yes")]),
        (b"GET", b"/", [(b"X-Evil", b"a\nb")]),
        (b"GET", b"/", [(b"X-Evil", b"a\rb")]),
        (b"GET", b"/", [(b"X-Evil", b"a\x00b")]),
        (b"GET", b"/", [(b"X-Evil\r\nInjected", b"yes")]),
        (b"GET", b"/", [(b"Bad Name", b"yes")]),
        (b"GET", b"/", [(b"", b"yes")]),
        (b"GE T", b"/", []),
        (b"GET\r\n", b"/", []),
        (b"GET", b"/a b", []),
        (b"GET", b"/a\r\nX: y", []),
    ],
)
async def test_invalid_request_is_local_protocol_error_before_any_byte(
    make_pool: PoolFactory,
    start_raw_server: Any,
    method: bytes,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
) -> None:
    received: list[bytes] = []

    async def handler(conn: RawConn) -> None:
        while data := await conn.receive_some():
            received.append(data)

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.LocalProtocolError):
            await pool.arequest(
                method, (b"http", b"127.0.0.1", server.port, target), headers=headers
            )
    assert received == []
    assert server.counter.total == 0


# -- Timeouts, each phase, under a MockClock


async def test_connect_timeout(
    make_pool: PoolFactory, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = await serve_blackhole(nursery)
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.ConnectTimeout) as info:
            await pool.arequest(b"GET", server.url4("/"), ext={"timeout": {"connect": 3}})
    assert origin_of(server) in str(info.value)
    server.stop.set()


async def test_tls_handshake_timeout_is_connect_timeout(
    make_pool: PoolFactory,
    start_raw_server: Any,
    tls: TLSMaterial,
    mock_clock: trio.testing.MockClock,
) -> None:
    accepted = trio.Event()

    async def handler(conn: RawConn) -> None:
        accepted.set()
        await conn.wait_closed_by_peer()  # accepts TCP, never answers the ClientHello

    server = await start_raw_server(handler)
    async with make_pool(ssl_context=tls.client_context()) as pool:
        async with trio.open_nursery() as nursery:
            job = start_background(
                nursery,
                lambda: pool.arequest(
                    b"GET",
                    (b"https", b"127.0.0.1", server.port, b"/"),
                    ext={"timeout": {"connect": 3}},
                ),
            )
            await accepted.wait()
            await trio.testing.wait_all_tasks_blocked()
            assert pool.statistics().connecting == 1
            mock_clock.jump(3.5)
        assert isinstance(job.error, trio_httpcore.ConnectTimeout)
        await wait_closed(server, 0)


async def test_read_timeout(
    make_pool: PoolFactory, start_raw_server: Any, mock_clock: trio.testing.MockClock
) -> None:
    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        await conn.wait_closed_by_peer()

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        async with trio.open_nursery() as nursery:
            job = start_background(
                nursery,
                lambda: pool.arequest(b"GET", server.url4("/"), ext={"timeout": {"read": 2}}),
            )
            await trio.testing.wait_all_tasks_blocked()
            mock_clock.jump(1.5)
            await trio.testing.wait_all_tasks_blocked()
            assert pool.statistics().active == 1  # not yet
            mock_clock.jump(1)
        assert isinstance(job.error, trio_httpcore.ReadTimeout)
        assert origin_of(server) in str(job.error)
        await wait_closed(server, 0)


async def test_read_timeout_is_per_read(
    make_pool: PoolFactory, start_raw_server: Any, mock_clock: trio.testing.MockClock
) -> None:
    step = trio.Event()
    sent: list[int] = []

    async def handler(conn: RawConn) -> None:
        nonlocal step
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        for byte in b"hello":
            await step.wait()
            step = trio.Event()
            await conn.send(bytes([byte]))
            sent.append(byte)
        await conn.wait_closed_by_peer()

    server = await start_raw_server(handler)
    async with make_pool() as pool:
        status, _, stream, _ = await pool.arequest(
            b"GET", server.url4("/"), ext={"timeout": {"read": 2}}
        )
        assert status == 200
        body = b""
        async with trio.open_nursery() as nursery:

            async def read() -> None:
                nonlocal body
                async for chunk in stream:
                    body += chunk

            nursery.start_soon(read)
            for _ in range(5):
                await trio.testing.wait_all_tasks_blocked()
                mock_clock.jump(1.5)  # 7.5 s in all, but never 2 s without a byte
                step.set()
        assert body == b"hello"


async def test_errors_leave_pool_usable(
    make_pool: PoolFactory, start_raw_server: Any, http_server: Server
) -> None:
    bad = await _raw(start_raw_server, b"nonsense\r\n\r\n")
    async with make_pool(max_connections=2) as pool:
        for _ in range(5):
            with pytest.raises(trio_httpcore.RemoteProtocolError):
                await request(pool, bad)
            with pytest.raises(trio_httpcore.ConnectError):
                await pool.arequest(b"GET", (b"http", b"127.0.0.1", closed_port(), b"/"))
            assert await get_body(pool, http_server) == b"hello"
    assert http_server.counter.total == 1


@pytest.mark.parametrize("host", [b"", b"a b", b"a\r\nb", b"a\x00b"])
async def test_invalid_host_is_local_protocol_error(make_pool: PoolFactory, host: bytes) -> None:
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.LocalProtocolError):
            await pool.arequest(b"GET", (b"http", host, 80, b"/"))


async def test_write_timeout(
    make_pool: PoolFactory, start_raw_server: Any, mock_clock: trio.testing.MockClock
) -> None:
    async def handler(conn: RawConn) -> None:
        await conn.read_request_head()
        await trio.sleep_forever()  # never reads the body

    server = await start_raw_server(handler)
    body = trio_httpcore.PlainByteStream(b"x" * 32 * 1024 * 1024)
    async with make_pool() as pool:
        async with trio.open_nursery() as nursery:
            job = start_background(
                nursery,
                lambda: pool.arequest(
                    b"POST",
                    server.url4("/"),
                    headers=[(b"Content-Length", str(len(body)).encode())],
                    stream=body,
                    ext={"timeout": {"write": 2, "read": None}},
                ),
            )
            await trio.testing.wait_all_tasks_blocked()
            assert pool.statistics().active == 1
            mock_clock.jump(2.5)
        assert isinstance(job.error, trio_httpcore.WriteTimeout)
        assert f"127.0.0.1:{server.port}" in str(job.error)
        assert pool.statistics().active == 0
    server.stop.set()
