"""Hostile input from the caller is refused before any byte leaves.

Header names and values with CR, LF or NUL (or values with whitespace at
either end), methods that are not tokens,
targets and hosts with control characters, bad ports, bad IDNA host names:
each is refused with :class:`LocalProtocolError` or :class:`InvalidURL` (or
:class:`UnsupportedProtocol` for the scheme), through the transport
(:meth:`AsyncConnectionPool.arequest`) and through :class:`AsyncClient`. The
server the request would otherwise reach records every connection and byte;
it must see none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing

import trio_httpcore
from tests.support.pool import PoolFactory, assert_empty
from tests.support.raw import RawConn
from tests.support.servers import Server

REFUSED = (trio_httpcore.LocalProtocolError, trio_httpcore.InvalidURL)


class Recorder:
    """A raw server's record: every byte received (and the connection count in its counter)."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.server: Server | None = None

    async def handler(self, conn: RawConn) -> None:
        while data := await conn.receive_some():
            self.received.append(data)

    async def assert_nothing_arrived(self) -> None:
        await trio.testing.wait_all_tasks_blocked()
        assert self.server is not None
        assert self.received == []
        assert self.server.counter.total == 0


@pytest.fixture
async def recorder(start_raw_server: Callable[..., Any]) -> Recorder:
    rec = Recorder()
    rec.server = await start_raw_server(rec.handler)
    return rec


# -- The transport: raw bytes in the URL4 and headers

BAD_HEADERS = [
    [(b"X-Evil", b"a\r\nInjected: yes")],
    [(b"X-Evil", b"a\nInjected: yes")],
    [(b"X-Evil", b"a\rb")],
    [(b"X-Evil", b"a\x00b")],
    [(b"X-Evil", b"trailing ")],
    [(b"X-Evil", b"\tleading")],
    [(b"X-Evil", b"a\x0bb")],
    [(b"X-Evil\r\nInjected", b"yes")],
    [(b"X-Evil\n", b"yes")],
    [(b"X\x00Evil", b"yes")],
    [(b"X Evil", b"yes")],
    [(b"X-Evil:", b"yes")],
    [(b"", b"yes")],
    [(b"Host", b"a\r\n\r\nGET /smuggled HTTP/1.1")],
    [(b"Ok", b"fine"), (b"Transfer-Encoding", b"chunked\r\nContent-Length: 0")],
]
BAD_METHODS = [
    b"GE T",
    b"GET\r\n",
    b"GET\n",
    b"G\x00ET",
    b"",
    b" GET",
    b"GET /x HTTP/1.1\r\n",
    b"G\xc9T",
]
BAD_TARGETS = [b"/a b", b"/a\r\nX: y", b"/\x00", b"/\x7f", b"/a\tb", b""]
BAD_HOSTS = [b"127.0.0.1\r\nX: y", b"127.0.0.1\x00", b"127.0.0.1 ", b"", b"exa mple.com"]


@pytest.mark.parametrize("headers", BAD_HEADERS)
async def test_pool_refuses_bad_headers(
    make_pool: PoolFactory, recorder: Recorder, headers: list[tuple[bytes, bytes]]
) -> None:
    assert recorder.server is not None
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.LocalProtocolError):
            await pool.arequest(b"GET", recorder.server.url4("/"), headers=headers)
        await recorder.assert_nothing_arrived()
        assert_empty(pool)


@pytest.mark.parametrize("method", BAD_METHODS)
async def test_pool_refuses_bad_methods(
    make_pool: PoolFactory, recorder: Recorder, method: bytes
) -> None:
    assert recorder.server is not None
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.LocalProtocolError):
            await pool.arequest(method, recorder.server.url4("/"))
        await recorder.assert_nothing_arrived()


@pytest.mark.parametrize("target", BAD_TARGETS)
async def test_pool_refuses_bad_targets(
    make_pool: PoolFactory, recorder: Recorder, target: bytes
) -> None:
    assert recorder.server is not None
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.LocalProtocolError):
            await pool.arequest(b"GET", (b"http", b"127.0.0.1", recorder.server.port, target))
        await recorder.assert_nothing_arrived()


@pytest.mark.parametrize("host", BAD_HOSTS)
async def test_pool_refuses_bad_hosts(
    make_pool: PoolFactory, recorder: Recorder, host: bytes
) -> None:
    assert recorder.server is not None
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.LocalProtocolError):
            await pool.arequest(b"GET", (b"http", host, recorder.server.port, b"/"))
        await recorder.assert_nothing_arrived()


@pytest.mark.parametrize("scheme", [b"ftp", b"file", b"http\r\n", b"HTTP ", b""])
async def test_pool_refuses_other_schemes(
    make_pool: PoolFactory, recorder: Recorder, scheme: bytes
) -> None:
    assert recorder.server is not None
    async with make_pool() as pool:
        with pytest.raises(trio_httpcore.UnsupportedProtocol):
            await pool.arequest(b"GET", (scheme, b"127.0.0.1", recorder.server.port, b"/"))
        await recorder.assert_nothing_arrived()


# -- The client: strings, parsed into URL and Headers first

# "{hp}" is 127.0.0.1:<the recorder's port>: were the URL accepted, the request
# would reach the recorder.
BAD_URLS = [
    "http://127.0.0.1\r\n:{port}/",
    "http://127.0.0.1\x00:{port}/",
    "http://127.0.0.1\t.x:{port}/",
    "http://127.0.0.\x7f1:{port}/",
    "http://127.0.0.1%0d%0a:{port}/",
    "http://127.0.0.1%00:{port}/",
    "http://127.0.0.1:{port}x/",
    "http://127.0.0.1:{port}0000/",
    "http://127.0.0.1:-{port}/",
    "http://127.0.0.1:{port}:80/",
    "http://127.0.0.1:\uff11{port}/",  # a fullwidth digit
    "http://\u2603\x00.{port}/",  # bad IDNA: a NUL in a Unicode name
    "http://\udcff{port}.com/",  # a lone surrogate
    "http://ab\x85c{port}/",  # a C1 control
    "http://[::1:{port}/",
    "http://[1::2::3]:{port}/",
    "http:///127.0.0.1:{port}/",
    "http://127.0.0.1:{port}@/",  # userinfo, then no host
    "ht tp://127.0.0.1:{port}/",
]


@pytest.mark.parametrize("url", BAD_URLS)
async def test_client_refuses_bad_urls(recorder: Recorder, url: str) -> None:
    assert recorder.server is not None
    async with trio_httpcore.AsyncClient(timeout=5) as client:
        with pytest.raises((*REFUSED, trio_httpcore.UnsupportedProtocol)):
            await client.get(url.format(port=recorder.server.port))
    await recorder.assert_nothing_arrived()


BAD_CLIENT_HEADERS: list[dict[str, str]] = [
    {"X-Evil": "a\r\nInjected: yes"},
    {"X-Evil": "a\nb"},
    {"X-Evil": "a\rb"},
    {"X-Evil": "a\x00b"},
    {"X-Evil\r\nInjected": "yes"},
    {"X\x00Evil": "yes"},
    {"X Evil": "yes"},
    {"": "yes"},
    {"X-\u00e9": "yes"},
]


@pytest.mark.parametrize("headers", BAD_CLIENT_HEADERS)
async def test_client_refuses_bad_headers(recorder: Recorder, headers: dict[str, str]) -> None:
    assert recorder.server is not None
    async with trio_httpcore.AsyncClient(timeout=5) as client:
        with pytest.raises(REFUSED):
            await client.get(recorder.server.url, headers=headers)
    await recorder.assert_nothing_arrived()


async def test_client_refuses_bad_default_headers(recorder: Recorder) -> None:
    assert recorder.server is not None
    async with trio_httpcore.AsyncClient(timeout=5, headers={"X-Evil": "a\r\nb: c"}) as client:
        with pytest.raises(REFUSED):
            await client.get(recorder.server.url)
    await recorder.assert_nothing_arrived()


@pytest.mark.parametrize("method", ["GE T", "GET\r\n", "G\x00ET", "", "GET /x HTTP/1.1\r\nX:"])
async def test_client_refuses_bad_methods(recorder: Recorder, method: str) -> None:
    assert recorder.server is not None
    async with trio_httpcore.AsyncClient(timeout=5) as client:
        with pytest.raises(REFUSED):
            await client.request(method, recorder.server.url)
    await recorder.assert_nothing_arrived()


async def test_client_percent_encodes_controls_in_the_path(
    start_raw_server: Callable[..., Any],
) -> None:
    """CR, LF and spaces in a URL's path are percent-encoded (WHATWG), never sent raw: the
    request line is one line and no header is injected."""
    heads: list[bytes] = []

    async def handler(conn: RawConn) -> None:
        head, _ = await conn.read_request()
        heads.append(head)
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    server = await start_raw_server(handler)
    async with trio_httpcore.AsyncClient(timeout=5) as client:
        response = await client.get(f"{server.url}/a\r\nX-Injected: yes b?q=\r\nY: z")
    assert response.status_code == 200
    (head,) = heads
    lines = head.split(b"\r\n")
    assert lines[0] == b"GET /a%0D%0AX-Injected:%20yes%20b?q=%0D%0AY:%20z HTTP/1.1"
    assert not any(line.lower().startswith((b"x-injected", b"y:")) for line in lines)


# -- Userinfo tricks: the request goes to the host after the last "@", nowhere else


async def test_userinfo_with_our_address_does_not_reach_us(recorder: Recorder) -> None:
    """``http://127.0.0.1:PORT@nonexistent.invalid/``: the host is nonexistent.invalid."""
    assert recorder.server is not None
    async with trio_httpcore.AsyncClient(timeout=5) as client:
        with pytest.raises(trio_httpcore.ConnectError, match=r"nonexistent\.invalid"):
            await client.get(f"http://127.0.0.1:{recorder.server.port}@nonexistent.invalid/")
    await recorder.assert_nothing_arrived()


@pytest.mark.parametrize(
    "url", ["http://a@b@{hp}/", "http://a:b@c:d@{hp}/", "http://nonexistent.invalid@{hp}/"]
)
async def test_userinfo_before_the_last_at_sign_is_not_the_host(
    start_raw_server: Callable[..., Any], url: str
) -> None:
    """``http://a@b@c/`` goes to c, as WHATWG, curl and browsers have it, with a Host
    header naming c only."""
    heads: list[bytes] = []

    async def handler(conn: RawConn) -> None:
        head, _ = await conn.read_request()
        heads.append(head)
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    server = await start_raw_server(handler)
    hp = f"127.0.0.1:{server.port}"
    parsed = trio_httpcore.URL(url.format(hp=hp))
    assert (parsed.host, parsed.port) == ("127.0.0.1", server.port)
    async with trio_httpcore.AsyncClient(timeout=5) as client:
        response = await client.get(url.format(hp=hp))
    assert response.status_code == 200
    (head,) = heads
    hosts = [line for line in head.split(b"\r\n") if line.lower().startswith(b"host:")]
    assert hosts == [b"Host: " + hp.encode()]


# -- HTTP/2: connection-specific and pseudo header fields from the caller

H1_ONLY = [b"Connection", b"Transfer-Encoding", b"Upgrade", b"Keep-Alive", b"Proxy-Connection"]


@pytest.mark.parametrize("name", H1_ONLY)
async def test_http2_drops_connection_specific_headers(
    make_pool: PoolFactory, nursery: trio.Nursery, name: bytes
) -> None:
    """RFC 9113 section 8.2.2: such a field makes the request malformed; the client leaves
    it out (the server's h2 would reject the stream otherwise), and the connection goes on."""
    from tests.support.h2server import default_handler, serve_h2

    server = await serve_h2(nursery, default_handler)
    async with make_pool(http1=False, http2=True) as pool:
        for _ in range(2):
            _, _, stream, ext = await pool.arequest(
                b"GET", server.url4("/ok/1"), headers=[(name, b"x"), (b"TE", b"gzip")]
            )
            assert b"".join([chunk async for chunk in stream]) == b"/ok/1"
            assert ext["http_version"] == "HTTP/2"
    sent = [k.lower() for k, _ in server.requests[-1].headers]
    assert name.lower() not in sent
    assert server.errors == []
    assert len(server.connections) == 1


@pytest.mark.parametrize("name", [b":path", b":authority", b":method", b":scheme", b":status"])
async def test_http2_refuses_pseudo_headers_from_the_caller(
    make_pool: PoolFactory, nursery: trio.Nursery, name: bytes
) -> None:
    from tests.support.h2server import default_handler, serve_h2

    server = await serve_h2(nursery, default_handler)
    async with make_pool(http1=False, http2=True) as pool:
        with pytest.raises(trio_httpcore.LocalProtocolError):
            await pool.arequest(b"GET", server.url4("/"), headers=[(name, b"/evil")])
    assert server.requests == []


# -- Regressions: each got through once


async def test_backslash_before_at_in_authority_does_not_redirect_the_request(
    recorder: Recorder,
) -> None:
    """``http://nonexistent.invalid\\@127.0.0.1:PORT/``: WHATWG reads the backslash as a
    path separator (host nonexistent.invalid), RFC 3986 has no backslash in an authority
    (invalid). Either way the request must not go to 127.0.0.1 (it used to)."""
    assert recorder.server is not None
    url = f"http://nonexistent.invalid\\@127.0.0.1:{recorder.server.port}/"
    async with trio_httpcore.AsyncClient(timeout=5) as client:
        with pytest.raises((trio_httpcore.InvalidURL, trio_httpcore.ConnectError)):
            await client.get(url)
    await recorder.assert_nothing_arrived()


async def test_non_ascii_method_is_a_library_error(recorder: Recorder) -> None:
    """``client.request("GÉT", url)`` is refused like any other non-token method (it
    used to raise UnicodeEncodeError, not an HTTPError)."""
    assert recorder.server is not None
    async with trio_httpcore.AsyncClient(timeout=5) as client:
        with pytest.raises(REFUSED):
            await client.request("G\u00c9T", recorder.server.url)
    await recorder.assert_nothing_arrived()
