"""The models as httpx 0.28 has them: responses built in code, chunked iteration, URL parts."""

from __future__ import annotations

import gzip
import http
import json
from collections.abc import AsyncIterator, Generator, Iterator

import pytest

from trio_httpcore import (
    URL,
    CookieConflict,
    Cookies,
    DecodingError,
    HTTPError,
    InvalidURL,
    QueryParams,
    RedirectBodyUnavailable,
    Request,
    RequestError,
    Response,
    TooManyRedirects,
    TransportError,
    codes,
)


def test_response_from_json_text_html_and_content() -> None:
    response = Response(201, json={"a": [1, "é"]})
    assert response.status_code == 201 and response.json() == {"a": [1, "é"]}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.content))
    text = Response(200, text="héllo")
    assert (text.text, text.headers["content-type"]) == ("héllo", "text/plain; charset=utf-8")
    html = Response(200, html="<p>é</p>")
    assert (html.text, html.encoding) == ("<p>é</p>", "utf-8")
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    raw = Response(200, content=b"\x00\x01")
    assert (raw.content, raw.headers["content-length"]) == (b"\x00\x01", "2")


def test_response_content_is_decoded_by_its_content_encoding() -> None:
    body = gzip.compress(b"zipped " * 100)
    response = Response(200, content=body, headers={"Content-Encoding": "gzip"})
    assert response.content == b"zipped " * 100
    with pytest.raises(DecodingError):
        Response(200, content=b"not gzip", headers={"Content-Encoding": "gzip"})


def test_response_from_an_iterator_is_read_on_demand() -> None:
    def chunks() -> Iterator[bytes]:
        yield from (b"ab", b"cde", b"f")

    response = Response(200, content=chunks())
    assert list(response.iter_bytes(chunk_size=2)) == [b"ab", b"cd", b"ef"]
    assert response.num_bytes_downloaded == 6
    assert "content-length" not in response.headers


@pytest.mark.parametrize("size", [1, 3, 4, 100])
def test_iter_chunk_sizes(size: int) -> None:
    body = b"0123456789"
    pieces = list(Response(200, content=iter([body[:3], b"", body[3:]])).iter_raw(chunk_size=size))
    assert b"".join(pieces) == body
    assert all(len(piece) == size for piece in pieces[:-1]) and 0 < len(pieces[-1]) <= size
    texts = list(Response(200, text="é" * 5).iter_text(chunk_size=2))
    assert texts == ["éé", "éé", "é"]
    with pytest.raises(ValueError, match="chunk_size"):
        Response(200, content=b"x").iter_bytes(chunk_size=0)


async def test_aiter_chunk_sizes() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for piece in (b"ab", b"", b"cde", b"fgh"):
            yield piece

    response = Response(200, content=chunks())
    assert [c async for c in response.aiter_bytes(chunk_size=3)] == [b"abc", b"def", b"gh"]
    assert response.num_bytes_downloaded == 8
    raw = Response(200, content=chunks())
    assert [c async for c in raw.aiter_raw(chunk_size=5)] == [b"abcde", b"fgh"]
    text = Response(200, content=chunks())
    assert [t async for t in text.aiter_text(chunk_size=4)] == ["abcd", "efgh"]


def test_response_properties_from_httpx() -> None:
    response = Response(
        103,
        headers={"Link": '<https://a/2>; rel="next", <https://a/9>; rel=last, <https://a/x>'},
        extensions={"http_version": "HTTP/2", "reason": "Hints"},
    )
    assert response.is_informational and not response.is_error
    assert (response.http_version, response.reason_phrase) == ("HTTP/2", "Hints")
    assert response.extensions is response.ext
    assert response.links == {
        "next": {"url": "https://a/2", "rel": "next"},
        "last": {"url": "https://a/9", "rel": "last"},
        "https://a/x": {"url": "https://a/x"},
    }
    assert Response(200).links == {}
    moved = Response(302, headers={"Location": "/x"})
    assert moved.has_redirect_location and not Response(302).has_redirect_location


def test_default_encoding() -> None:
    latin = "café".encode("latin-1")
    assert Response(200, content=latin, default_encoding="latin-1").text == "café"
    chosen = Response(200, content=latin, default_encoding=lambda body: "cp1252")
    assert chosen.text == "café"
    # A charset in the Content-Type wins.
    typed = Response(
        200, content="é".encode(), headers={"Content-Type": "text/plain; charset=utf-8"}
    )
    typed.default_encoding = "latin-1"
    assert typed.text == "é"
    streamed = Response(200, content=iter([latin]), default_encoding="latin-1")
    assert list(streamed.iter_text()) == ["café"]


def test_status_code_prints_as_a_number() -> None:
    """On every Python version (3.10 printed ``HTTPStatus.OK``)."""
    status = Response(200).status_code
    assert status is http.HTTPStatus.OK
    assert (str(status), f"{status}", f"{status:>4}", format(status, "d")) == (
        "200",
        "200",
        " 200",
        "200",
    )
    assert (str(codes.NOT_FOUND), f"{codes.NOT_FOUND:d}") == ("404", "404")
    assert str(Response(299).status_code) == "299"


def test_request_error_hierarchy() -> None:
    for kind in (TransportError, DecodingError, TooManyRedirects, RedirectBodyUnavailable):
        assert issubclass(kind, RequestError) and issubclass(kind, HTTPError)
    assert not issubclass(InvalidURL, RequestError)
    error = TransportError("boom")
    with pytest.raises(RuntimeError, match="outside a client request"):
        error.request  # noqa: B018
    request = Request("GET", "https://example.org")
    assert RequestError("x", request=request).request is request


def test_cookie_conflict() -> None:
    cookies = Cookies()
    cookies.set("a", "1", domain="example.org")
    cookies.set("a", "2", domain="example.com")
    with pytest.raises(CookieConflict):
        cookies.get("a")


def test_request_extensions_and_content_types() -> None:
    request = Request("POST", "https://example.org", json={"a": 1}, extensions={"trace": None})
    assert request.extensions == {"trace": None} and json.loads(request.content) == {"a": 1}


def test_url_keyword_construction_and_parts() -> None:
    url = URL(scheme="https", host="example.org", port=8443, path="/a b", query="q=1")
    assert str(url) == "https://example.org:8443/a%20b?q=1"
    assert (url.netloc, url.raw_path) == (b"example.org:8443", b"/a%20b?q=1")
    assert URL("https://[::1]:443/").netloc == b"[::1]"
    assert URL("http://example.org", raw_path="/x?y=1").full_path == "/x?y=1"
    assert URL("http://example.org", host="::1").host == "::1"
    assert str(URL("http://a/b").copy_with(netloc=b"c:81")) == "http://c:81/b"
    assert str(URL("http://a/b?q=1").copy_with(query=None, fragment="f")) == "http://a/b#f"
    assert str(URL("http://a/", username="u@x", password="p:w")) == "http://u%40x:p:w@a/"
    assert str(URL("http://u:p@a/").copy_with(userinfo=b"v")) == "http://v@a/"
    with pytest.raises(InvalidURL):
        URL("http://a/", raw_path=b"\xff")
    with pytest.raises(TypeError):
        URL("http://a/", path=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidURL):
        URL(path="/relative")


def test_url_param_copies() -> None:
    url = URL("https://example.org/?a=1&b=2&a=3")
    assert url.copy_set_param("a", "9").query == "a=9&b=2"
    assert url.copy_add_param("c", True).query == "a=1&b=2&a=3&c=true"
    assert url.copy_remove_param("a").query == "b=2"
    assert url.copy_merge_params({"b": "x", "d": None}).query == "a=1&b=x&a=3&d="
    assert url.copy_remove_param("a").copy_remove_param("b").query == ""
    params = QueryParams("a=1")
    assert params.merge({"a": "2"}) == QueryParams("a=2") and params == QueryParams("a=1")


def test_headers_encoding() -> None:
    from trio_httpcore import Headers

    assert Headers({"a": "b"}).encoding == "ascii"
    assert Headers({"a": "é"}).encoding == "utf-8"
    assert Headers([(b"a", b"\xe9")]).encoding == "iso-8859-1"


def test_base_sync_auth_flow_reads_what_the_class_asks_for() -> None:
    from trio_httpcore import Auth, BasicAuth

    class NeedsBodies(Auth):
        requires_request_body = True
        requires_response_body = True

        def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
            response = yield request
            request.headers["X-Seen"] = response.text
            yield request

    request = Request("POST", "https://example.org", content=iter([b"a", b"b"]))
    flow = NeedsBodies().sync_auth_flow(request)
    sent = next(flow)
    assert sent.content == b"ab"  # read into memory, so it can be sent again
    again = flow.send(Response(401, content=iter([b"challenge"])))
    assert again.headers["x-seen"] == "challenge"
    with pytest.raises(StopIteration):
        flow.send(Response(200))
    basic = BasicAuth("u", "p").sync_auth_flow(Request("GET", "https://example.org"))
    assert next(basic).headers["authorization"].startswith("Basic ")


def test_copy_with_drops_a_default_port() -> None:
    assert URL("https://example.org:8443/").copy_with(port=443).port is None
    assert str(URL("http://example.org:443/").copy_with(scheme="https")) == "https://example.org/"
