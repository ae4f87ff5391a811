"""The client's fast paths give what the general paths give.

Each shortcut taken for speed (issue 10) is checked here against the path it
skips: the URL cache against parsing, ``quote``'s one-match test against
its character loop, the body iterator of an identity-encoded body against
the decoder path, the request sent without an auth flow against one sent
through the plain ``Auth``'s flow.
"""

from __future__ import annotations

import http
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from http.cookiejar import Cookie, CookieJar
from typing import Any

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from tests.support.servers import Server
from trio_httpcore import (
    URL,
    AsyncClient,
    Auth,
    Cookies,
    Headers,
    Response,
    ResponseClosed,
    StreamConsumed,
)
from trio_httpcore._client._status_codes import codes, status_of
from trio_httpcore._client._urlparse import (
    HOST_SAFE,
    PATH_SAFE,
    QUERY_SAFE,
    USERINFO_SAFE,
    quote,
    quote_chars,
)
from trio_httpcore._client._urls import RequestURLs
from trio_httpcore._streams import AsyncIteratorByteStream

# quote(): one regular-expression match instead of the character loop.

_url_chars = st.text(
    alphabet=st.sampled_from("aZ09-._~!$&'()*+,;=:@/?#[]% \"<>\\^`{|}é€\U0001f600%2F%41%zz%4"),
    max_size=30,
)


@given(_url_chars, st.sampled_from([USERINFO_SAFE, PATH_SAFE, QUERY_SAFE, HOST_SAFE]))
def test_quote_shortcut_matches_the_character_loop(text: str, safe: frozenset[str]) -> None:
    assert quote(text, safe) == quote_chars(text, safe)


# The client's URL cache.


async def _echo(client: AsyncClient, url: str) -> dict[str, Any]:
    response = await client.get(url)
    result: dict[str, Any] = json.loads(response.content)
    return result


async def test_cached_urls_are_the_parsed_urls(server: Server) -> None:
    base = server.url + "/echo/"
    expected = {
        "a/b?x=1": base + "a/b?x=1",
        "/abs": base + "abs",  # a leading "/" extends the base path
        "../up": server.url + "/up",
        server.url + "/full": server.url + "/full",
    }
    async with AsyncClient(base_url=base) as client:
        for _ in range(2):  # parsed, then from the cache
            for url, resolved in expected.items():
                assert client.build_request("GET", url).url == URL(resolved)
        assert (await _echo(client, "a/b?x=1"))["path"] == "/echo/a/b"
        # A new base URL empties the cache: the same string resolves anew.
        client.base_url = server.url + "/other/"
        assert (await _echo(client, "a/b?x=1"))["path"] == "/other/a/b"
        # Past the cache's size, URLs still resolve right.
        for i in range(600):
            assert client.build_request("GET", f"p{i}").url.path == f"/other/p{i}"
        assert len(client._urls._resolved) <= RequestURLs.CACHE_SIZE == 256


async def test_cached_url_with_params_and_reassigned(server: Server) -> None:
    async with AsyncClient(base_url=server.url, params={"c": "1"}) as client:
        first = client.build_request("GET", "/echo", params={"r": "2"})
        second = client.build_request("GET", "/echo")
        assert first.url.query == "c=1&r=2"
        assert second.url.query == "c=1"
        # The cached URL is shared, never changed: a request's own URL can be replaced.
        second.url = URL(server.url + "/echo?z=9")
        assert client.build_request("GET", "/echo").url.query == "c=1"


# Bodies: identity-encoded bodies skip the decoder stage.


class _Chunks(AsyncIterator[bytes]):
    """Hands out ``chunks``, each after a checkpoint, as a transport's stream would."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = iter(chunks)

    async def __anext__(self) -> bytes:
        await trio.lowlevel.checkpoint()
        try:
            return next(self._chunks)
        except StopIteration:
            raise StopAsyncIteration from None


def _response(chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> Response:
    return Response(200, headers=headers, stream=AsyncIteratorByteStream(_Chunks(chunks)))


@pytest.mark.parametrize("chunks", [[], [b""], [b"a", b"", b"bc", b""], [b"x" * 100_000, b"y"]])
async def test_identity_body_as_the_decoder_path_gives_it(chunks: list[bytes]) -> None:
    plain = _response(chunks, [])
    # "identity" named: the general path, through the identity decoder.
    named = _response(chunks, [(b"Content-Encoding", b"identity")])
    assert [c async for c in plain.aiter_bytes()] == [c async for c in named.aiter_bytes()]
    assert plain.is_closed and named.is_closed
    raw = _response(chunks, [])
    assert [c async for c in raw.aiter_raw()] == chunks
    read = _response(chunks, [])
    assert await read.aread() == b"".join(chunks)


async def test_body_iterator_behaves_as_a_generator() -> None:
    # Nothing happens before the first __anext__: closing an unstarted iterator
    # leaves the response open, and a body read meanwhile is what it yields.
    response = _response([b"ab", b"cd"], [])
    unstarted = response.aiter_bytes()
    await unstarted.aclose()
    assert not response.is_closed and not response.is_stream_consumed
    later = response.aiter_bytes()
    assert await response.aread() == b"abcd"
    assert [chunk async for chunk in later] == [b"abcd"]
    # Closed half-way: the response is closed, the iterator finished.
    response = _response([b"ab", b"cd"], [])
    chunks = response.aiter_raw()
    assert await chunks.__anext__() == b"ab"
    await chunks.aclose()
    assert response.is_closed
    assert [chunk async for chunk in chunks] == []
    with pytest.raises(StreamConsumed):
        await response.aiter_bytes().__anext__()
    # A closed, unread response: its body can't be read.
    response = _response([b"ab"], [])
    await response.aclose()
    with pytest.raises(ResponseClosed):
        await response.aread()


async def test_body_iterator_closes_the_response_when_cancelled(server: Server) -> None:
    async with AsyncClient(base_url=server.url) as client:
        async with client.stream("GET", "/stall") as response:
            chunks = response.aiter_bytes()
            with trio.move_on_after(0.05):
                await chunks.__anext__()
            assert response.is_closed
        # The pool is usable afterwards: the stalled connection was let go.
        assert (await client.get("/status/200")).status_code == 200


# request() without arguments skips looking each one up.


async def test_request_without_options_as_with_defaults(server: Server) -> None:
    async with AsyncClient(base_url=server.url, headers={"X-Client": "1"}) as client:
        fast = await client.get("/echo")
        slow = await client.get(
            "/echo", params=None, headers=None, cookies=None, follow_redirects=True, stream=False
        )
        assert json.loads(fast.content) == json.loads(slow.content)
        assert fast.request.ext == slow.request.ext
        assert fast.history == slow.history == []
        followed = await client.get("/chain/2")
        assert (followed.status_code, followed.content) == (200, b"done")
        assert (await client.head("/redirect/302?location=/echo")).status_code == 302


# Requests without auth skip the auth flow.


async def test_no_auth_as_the_plain_auth_flow(server: Server) -> None:
    async with AsyncClient(base_url=server.url, trust_env=False) as client:
        fast = await _echo(client, "/echo")
        slow = json.loads((await client.get("/echo", auth=Auth())).content)
        assert fast == slow
        assert not any(name == "authorization" for name, _ in fast["headers"])
        redirected = await client.get("/redirect/302?location=/status/201")
        assert redirected.status_code == 201
        assert [r.status_code for r in redirected.history] == [302]


# Cookies' truth from the first cookie, Headers' membership by a plain loop.


def test_cookies_truth_as_their_count() -> None:
    cookies = Cookies()
    assert not cookies and len(cookies) == 0
    cookies.set("a", "1", domain="example.org")
    cookies.set("b", "2", domain="example.com", path="/x")
    assert cookies and len(cookies) == 2
    cookies.delete("a")
    assert cookies and len(cookies) == 1
    cookies.clear("example.com")  # leaves the jar's empty per-domain tables behind
    assert not cookies and len(cookies) == 0
    # An emptied jar (tables left) and a never-used one answer alike; a CookieJar
    # subclass (which may keep its cookies elsewhere) goes by its iterator.
    cookies.set("c", "3", domain="example.net")
    cookies.jar.clear("example.net", "/", "c")
    assert cookies.jar._cookies and not cookies  # type: ignore[attr-defined]

    class Listed(CookieJar):
        def __iter__(self) -> Iterator[Cookie]:
            return iter([Cookie(0, "d", "4", None, False, "", False, False, "/", True,
                                False, None, True, None, None, {})])  # fmt: skip

    assert Cookies(Listed()) and not Cookies(CookieJar())


def test_headers_has_as_membership() -> None:
    headers = Headers([("Host", "a"), (b"Content-Encoding", b"gzip"), ("X-Y", "z")])
    for name in ["host", "content-encoding", "x-y", "authorization", "location"]:
        assert headers._has(name.encode()) == (name in headers)


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("http://example.org/", b"example.org"),
        ("http://example.org:80/", b"example.org"),
        ("https://example.org:8443/p", b"example.org:8443"),
        ("http://[::1]:8080/", b"[::1]:8080"),
        ("http://[::1]/", b"[::1]"),
        ("http://bücher.example/", b"xn--bcher-kva.example"),
    ],
)
def test_host_field_and_raw_cached_as_computed(url: str, field: bytes) -> None:
    parsed = URL(url)
    assert parsed.host_field == field
    raw = parsed.raw
    assert parsed.raw is raw  # worked out once
    assert raw == (
        parsed.scheme.encode(), parsed.raw_host, parsed.port, parsed.full_path.encode()
    )  # fmt: skip
    # URLs made from a URL whose values were worked out get their own.
    derived = [
        URL(parsed, params={"q": "1"}),
        URL(parsed, path="/other"),
        URL(parsed, port=1234),
        parsed.copy_with(host="example.com"),
        parsed.join("/x?y=2"),
        parsed.copy_merge_params({"z": "3"}),
    ]
    for url_ in derived:
        fresh = URL(str(url_))
        assert (url_.raw, url_.host_field) == (fresh.raw, fresh.host_field)


@given(st.lists(st.tuples(st.sampled_from(["Host", "host", "X-A", "x-b"]), st.just("v"))))
def test_headers_membership_as_their_names(fields: list[tuple[str, str]]) -> None:
    headers = Headers(fields)
    names = {name.lower() for name, _ in fields}
    probes: list[str | bytes] = ["host", "HOST", "x-a", "X-B", "x-c", b"host", b"X-A"]
    for name in probes:
        text = name.decode() if isinstance(name, bytes) else name
        assert (name in headers) == (text.lower() in names)
    assert headers._has_any(frozenset({b"x-a", b"x-b"})) == bool(names & {"x-a", "x-b"})
    # A list skips the Mapping check, a tuple does not: the same fields either way.
    assert Headers(list(fields)).raw == Headers(tuple(fields)).raw


# Status codes by dict look-up.


def test_status_lookup_as_the_enum() -> None:
    for value in range(0, 1000):
        try:
            expected: http.HTTPStatus | int = http.HTTPStatus(value)
        except ValueError:
            expected = value
        assert status_of(value) == expected
        assert type(status_of(value)) is type(expected)
        assert codes.get_reason_phrase(value) == (
            expected.phrase if isinstance(expected, http.HTTPStatus) else ""
        )


# Response.elapsed: kept as the client's float of seconds until asked for.


async def test_elapsed_as_a_timedelta(server: Server) -> None:
    async with AsyncClient() as client:
        response = await client.get(server.url + "/echo")
    seconds = response._elapsed
    assert type(seconds) is float and seconds > 0
    assert response.elapsed == timedelta(seconds=seconds)
    assert response.elapsed is response.elapsed  # made once
    response.elapsed = timedelta(seconds=3)
    assert response.elapsed == timedelta(seconds=3)
    assert Response(200).elapsed == timedelta(0)
