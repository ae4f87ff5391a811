"""Servers the command-line tests need beyond the shared ones (``tests/conftest.py``)."""

from __future__ import annotations

import gzip
import hashlib
import re

import pytest
import trio

from tests.support.h11server import H11Request, serve_http
from tests.support.raw import RawConn, closed_port, serve_raw
from tests.support.servers import Server

DIGEST_REALM = "cli"
DIGEST_NONCE = "5ca1ab1e"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def digest_ok(request: H11Request, username: str, password: str) -> bool:
    """Whether the request's Authorization answers our challenge (RFC 7616, MD5, qop=auth)."""
    field = (request.header(b"authorization") or b"").decode()
    if not field.startswith("Digest "):
        return False
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', field[len("Digest ") :]))
    ha1 = _md5(f"{username}:{DIGEST_REALM}:{password}")
    ha2 = _md5(f"{request.method.decode()}:{params.get('uri')}")
    expected = _md5(f"{ha1}:{DIGEST_NONCE}:{params.get('nc')}:{params.get('cnonce')}:auth:{ha2}")
    return params.get("username") == username and params.get("response") == expected


_FLAKY_SEEN: set[str] = set()


async def _curl_routes(request: H11Request) -> bool:
    """The routes the curl-comparison tests use; ``False`` if ``request`` is for none of them."""
    path = request.path
    if request.method == b"HEAD":
        # No body, but the length it would have (RFC 9110 9.3.2).
        await request.start_response(200, [(b"Content-Length", b"5"), (b"X-Mixed-Case", b"Yes")])
        await request.end()
    elif path == "/cookies/set":
        await request.respond(200, b"set", [(b"Set-Cookie", b"session=abc123; Path=/")])
    elif path == "/cookies/show":
        await request.respond(200, request.header(b"cookie") or b"none")
    elif path.startswith("/flaky/"):
        if path in _FLAKY_SEEN:
            await request.respond(200, b"recovered")
        else:
            _FLAKY_SEEN.add(path)
            await request.respond(503, b"busy")
    elif path.startswith("/flaky-upload/"):
        # Fails the first attempt at each path with a 503, after reading its body: each
        # answer shows the body it got, so a retried upload's second body can be checked.
        body = await request.read_body()
        status = 200 if path in _FLAKY_SEEN else 503
        _FLAKY_SEEN.add(path)
        await request.respond(status, b"%d got %d bytes: %s\n" % (status, len(body), body))
    elif path == "/stall":
        await request.start_response(200, [(b"Content-Length", b"10")])
        await request.send_data(b"first")
        await request.stall()
    elif path.startswith("/upload"):
        body = await request.read_body()
        length = request.header(b"content-length") or b"-"
        coding = request.header(b"transfer-encoding") or b"-"
        await request.respond(
            200, b" ".join([request.method, request.target, length, coding, body])
        )
    elif path == "/headers":
        lines = [name + b": " + value for name, value in request.headers]
        await request.respond(200, b"\n".join(lines))
    else:
        return False
    return True


async def _redirecting(request: H11Request) -> None:
    """``/redirect/N``: N redirects, then 200 b"landed"; ``/loop``: redirects to itself;
    ``/digest``: Digest auth for alice with password s:cret, then 200 b"welcome"; and
    :func:`_curl_routes`."""
    path = request.path
    if await _curl_routes(request):
        return
    if path == "/digest":
        if digest_ok(request, "alice", "s:cret"):
            await request.respond(200, b"welcome")
        else:
            challenge = f'Digest realm="{DIGEST_REALM}", nonce="{DIGEST_NONCE}", qop="auth"'
            await request.respond(401, b"", [(b"www-authenticate", challenge.encode())])
    elif path.startswith("/redirect/"):
        left = int(path.rsplit("/", 1)[1])
        if left:
            await request.respond(302, b"", [(b"location", f"/redirect/{left - 1}".encode())])
        else:
            await request.respond(200, b"landed")
    elif path == "/loop":
        await request.respond(302, b"", [(b"location", b"/loop")])
    elif path == "/bad-gzip":
        await request.respond(200, b"not gzip at all", [(b"content-encoding", b"gzip")])
    elif path == "/gzip":
        await request.respond(
            200, gzip.compress(b"unzipped", mtime=0), [(b"content-encoding", b"gzip")]
        )
    else:
        await request.respond(200, b"hello", [(b"X-Mixed-Case", b"Yes")])


@pytest.fixture
async def redirect_server(nursery: trio.Nursery) -> Server:
    """An h11 server with ``/redirect/N``, ``/loop``, ``/digest``, ``/gzip`` and ``/bad-gzip``."""
    return await serve_http(nursery, _redirecting)


async def _reset_mid_body(conn: RawConn) -> None:
    await conn.read_request_head()
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
    conn.reset()


async def _reset_during_upload(conn: RawConn) -> None:
    await conn.read_request_head()
    conn.reset()


@pytest.fixture
async def upload_reset_server(nursery: trio.Nursery) -> Server:
    """Resets the connection as soon as a request head arrived, before its body."""
    return await serve_raw(nursery, _reset_during_upload)


@pytest.fixture
async def reset_server(nursery: trio.Nursery) -> Server:
    """Sends a head and part of the body, then resets the connection."""
    return await serve_raw(nursery, _reset_mid_body)


@pytest.fixture
def refused_port() -> int:
    """A port on 127.0.0.1 that refuses connections for the whole test."""
    return closed_port()


async def _answer_as_proxy(conn: RawConn) -> None:
    """A stand-in forward proxy: answers every request itself with the request line it got,
    and refuses CONNECT with 403 (enough to show what the CLI sent, and where)."""
    head = await conn.read_request_head()
    request_line = head.split(b"\r\n", 1)[0]
    if request_line.startswith(b"CONNECT "):
        await conn.send(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        return
    await conn.send(
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (len(request_line), request_line)
    )


@pytest.fixture
async def stand_in_proxy(nursery: trio.Nursery) -> Server:
    """See :func:`_answer_as_proxy`."""
    return await serve_raw(nursery, _answer_as_proxy)


async def _answer_as_socks5(conn: RawConn) -> None:
    """A stand-in SOCKS5 proxy (RFC 1928, no auth): accepts any CONNECT, then answers the
    HTTP request itself with ``<host it was asked for> <request line>``."""
    greeting = await conn.read_exactly(2)
    await conn.read_exactly(greeting[1])  # the offered methods
    await conn.send(b"\x05\x00")  # version 5, "no authentication"
    version, command, _, address_type = await conn.read_exactly(4)
    assert (version, command, address_type) == (5, 1, 3), "CONNECT to a domain name"
    host = await conn.read_exactly((await conn.read_exactly(1))[0])
    await conn.read_exactly(2)  # port
    await conn.send(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")  # succeeded
    head = await conn.read_request_head()
    body = host + b" " + head.split(b"\r\n", 1)[0]
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


@pytest.fixture
async def socks5_proxy(nursery: trio.Nursery) -> Server:
    """See :func:`_answer_as_socks5`."""
    return await serve_raw(nursery, _answer_as_socks5)


async def _stall(conn: RawConn) -> None:
    """Accept the connection, then say nothing until the client goes away."""
    await conn.wait_closed_by_peer()


@pytest.fixture
async def stalled_tls_server(nursery: trio.Nursery) -> Server:
    """Accepts connections and never answers: a TLS handshake with it never ends."""
    return await serve_raw(nursery, _stall)
