"""Headers, QueryParams, Request, Response, Timeout, Limits, codes and TLS options, offline."""

from __future__ import annotations

import http
import json
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_httpcore import (
    URL,
    Headers,
    HTTPStatusError,
    Limits,
    PoolLimits,
    QueryParams,
    Request,
    Response,
    ResponseNotRead,
    StreamConsumed,
    Timeout,
    codes,
)
from trio_httpcore._client._config import create_ssl_context
from trio_httpcore._streams import AsyncIteratorByteStream, IteratorByteStream, PlainByteStream

# Headers.

_names = st.sampled_from(["Accept", "accept", "X-Thing", "x-thing", "Set-Cookie", "Host", "ETag"])
_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=8)
_fields = st.lists(st.tuples(_names, _values), max_size=8)


@given(_fields)
def test_headers_keep_fields_and_order(fields: list[tuple[str, str]]) -> None:
    headers = Headers(fields)
    assert headers.raw == [(n.encode(), v.encode()) for n, v in fields]
    assert headers.multi_items() == [(n.lower(), v) for n, v in fields]
    assert Headers(headers.raw) == headers
    assert headers.copy() == headers
    for name, _ in fields:
        expected = [v for n, v in fields if n.lower() == name.lower()]
        assert headers.get_list(name.upper()) == expected
        assert headers[name.swapcase()] == ", ".join(expected)
        assert name.upper() in headers
    assert list(headers) == list(dict.fromkeys(n.lower() for n, _ in fields))
    assert len(headers) == len({n.lower() for n, _ in fields})


@given(_fields, _names, _values)
def test_headers_set_and_delete(fields: list[tuple[str, str]], name: str, value: str) -> None:
    headers = Headers(fields)
    positions = [i for i, (n, _) in enumerate(fields) if n.lower() == name.lower()]
    headers[name] = value
    assert headers.get_list(name) == [value]
    # The field keeps the place of the first one it replaced.
    index = [n.lower() for n, _ in headers.multi_items()].index(name.lower())
    assert index == (positions[0] if positions else len(headers.raw) - 1)
    others = [(n, v) for n, v in fields if n.lower() != name.lower()]
    del headers[name]
    assert name not in headers
    assert headers.raw == [(n.encode(), v.encode()) for n, v in others]
    with pytest.raises(KeyError):
        del headers[name]


def test_headers_details() -> None:
    headers = Headers({"Accept": "a, b", "Authorization": "secret"})
    headers.add("accept", "c")
    assert headers.get_list("accept", split_commas=True) == ["a", "b", "c"]
    assert "secret" not in repr(headers) and "[secure]" in repr(headers)
    assert headers == {"accept": "a, b", "ACCEPT": "c", "authorization": "secret"}
    assert headers != 42
    assert 42 not in headers  # type: ignore[comparison-overlap]
    assert headers.get("missing") is None
    bytes_headers = Headers({b"X-Raw": b"\xe9t\xe9"})
    assert bytes_headers["x-raw"] == "été"  # ISO-8859-1 where not UTF-8
    assert Headers({"X-Utf8": "été"}).raw == [(b"X-Utf8", "été".encode())]
    with pytest.raises(KeyError):
        _ = headers["missing"]


# QueryParams.


def test_query_params() -> None:
    params = QueryParams("a=1&b=2&a=3&empty=")
    assert params["a"] == "1"
    assert params.get_list("a") == ["1", "3"]
    assert list(params) == ["a", "b", "empty"]
    assert len(params) == 3 and bool(params)
    assert str(params) == "a=1&b=2&a=3&empty="
    assert params == QueryParams([("b", "2"), ("a", "1"), ("a", "3"), ("empty", "")])
    assert params == "a=1&b=2&a=3&empty="
    assert str(params.set("a", 9)) == "a=9&b=2&empty="
    assert str(params.set("new", True)) == "a=1&b=2&a=3&empty=&new=true"
    assert str(params.add("b", None)) == "a=1&b=2&a=3&empty=&b="
    assert str(params.remove("a")) == "b=2&empty="
    assert str(params.merge({"c": [1.5, False]})) == "a=1&b=2&a=3&empty=&c=1.5&c=false"
    assert str(params) == "a=1&b=2&a=3&empty="  # immutable
    assert QueryParams({"q": "a b&c"}).multi_items() == [("q", "a b&c")]
    assert str(QueryParams({"q": "a b&c"})) == "q=a+b%26c"
    assert QueryParams(b"x=1") == QueryParams({"x": "1"})
    assert hash(QueryParams("x=1")) == hash(QueryParams([("x", "1")]))
    assert repr(QueryParams("x=1")) == "QueryParams('x=1')"
    assert not QueryParams()
    with pytest.raises(KeyError):
        _ = params["missing"]


@given(st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5)), max_size=6))
def test_query_params_round_trip(items: list[tuple[str, str]]) -> None:
    params = QueryParams(items)
    assert QueryParams(str(params)).multi_items() == items


# Requests.


def test_request_headers_and_bodies() -> None:
    request = Request("post", "https://example.org:8443/p", params={"a": "1"}, json=[1])
    assert request.method == "POST"
    assert request.url == URL("https://example.org:8443/p?a=1")
    assert request.headers.raw[0] == (b"Host", b"example.org:8443")
    assert request.headers["content-type"] == "application/json"
    assert request.content == b"[1]"
    assert repr(request) == "<Request('POST', 'https://example.org:8443/p?a=1')>"
    assert Request("GET", "http://[::1]:80/").headers["host"] == "[::1]"
    given_host = Request("GET", "http://a/", headers={"Host": "b"})
    assert given_host.headers.get_list("host") == ["b"]
    assert "content-length" not in Request("GET", "http://a/").headers
    with pytest.raises(ValueError, match="not JSON compliant"):
        Request("POST", "http://a/", json=float("nan"))
    with pytest.raises(TypeError, match="content="):
        Request("POST", "http://a/", content=42)  # type: ignore[arg-type]
    form = Request("POST", "http://a/", data={"a": "1"}, files={"f": b""})
    assert form.headers["content-type"].startswith("multipart/form-data; boundary=")
    with pytest.raises(TypeError, match="data= must be a mapping"):
        Request("POST", "http://a/", data=b"raw", files={"f": b""})


def test_request_read() -> None:
    def gen() -> Iterator[bytes]:
        yield b"a"
        yield b"b"

    request = Request("PUT", "http://a/", content=gen())
    assert isinstance(request.stream, IteratorByteStream)
    with pytest.raises(RuntimeError, match=r"call read\(\)"):
        _ = request.content
    assert request.read() == b"ab"
    assert isinstance(request.stream, PlainByteStream)
    assert Request("GET", "http://a/").content == b""


async def test_request_aread() -> None:
    async def agen() -> AsyncIterator[bytes]:
        yield b"x"
        yield b"y"

    request = Request("PUT", "http://a/", content=agen())
    assert isinstance(request.stream, AsyncIteratorByteStream)
    assert await request.aread() == b"xy"
    assert await request.aread() == b"xy"


# Responses.


def test_response_built_by_hand() -> None:
    request = Request("GET", "http://a/x")
    response = Response(
        404,
        content='{"ü": 1}',
        headers={"Content-Type": "application/json"},
        request=request,
        http_version="HTTP/2",
    )
    assert response.status_code is http.HTTPStatus.NOT_FOUND
    assert response.reason_phrase == "Not Found"
    assert response.protocol == "HTTP/2"
    assert response.json() == {"ü": 1}
    assert response.text == '{"ü": 1}'
    assert response.url == URL("http://a/x")
    assert response.is_error and not response.is_success
    assert list(response.iter_bytes()) == [response.content]
    assert list(response.iter_raw()) == [response.content]
    with pytest.raises(StreamConsumed):
        list(response.iter_raw())
    with pytest.raises(HTTPStatusError, match="404 Not Found"):
        response.raise_for_status()
    assert list(Response(204).iter_bytes()) == []
    with pytest.raises(RuntimeError, match="no request"):
        _ = Response(200).request


def test_response_sync_stream() -> None:
    response = Response(
        200,
        stream=IteratorByteStream(iter([b"line one\r", b"\nline two\n"])),
        headers={"Content-Type": "text/plain; charset=ascii"},
    )
    with pytest.raises(ResponseNotRead):
        _ = response.text
    assert list(response.iter_lines()) == ["line one", "line two"]
    assert response.is_closed
    assert response.encoding == "ascii"
    assert isinstance(response.stream(), Iterator)


def test_response_json_encodings() -> None:
    body = json.dumps({"k": "välue"}, ensure_ascii=False)
    assert Response(200, content=body.encode("utf-16")).json() == {"k": "välue"}
    latin = Response(
        200,
        content=body.encode("latin-1"),
        headers={"content-type": "application/json; charset=latin-1"},
    )
    assert latin.json() == {"k": "välue"}
    assert (
        Response(200, headers={"content-type": 'text/plain; charset="nonsense"'}).encoding
        == "utf-8"
    )
    assert (
        Response(200, headers={"content-type": "text/plain; format=flowed"}).charset_encoding
        is None
    )


# Configuration.


def test_timeout() -> None:
    assert Timeout(5.0).as_dict() == {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}
    assert Timeout(connect=1.0).as_tuple() == (1.0, 5.0, 5.0, 5.0)
    assert Timeout(None, read=2).as_tuple() == (None, 2, None, None)
    assert Timeout((1, 2, 3, 4)) == Timeout(Timeout((1, 2, 3, 4)))
    assert hash(Timeout(1)) == hash(Timeout(1.0))
    assert repr(Timeout(2.0)) == "Timeout(2.0)"
    assert repr(Timeout(2.0, pool=None)) == "Timeout(connect=2.0, read=2.0, write=2.0, pool=None)"
    with pytest.raises(ValueError, match=">= 0"):
        Timeout(-1)
    with pytest.raises(ValueError, match="tuple"):
        Timeout((1, 2))


def test_limits() -> None:
    assert PoolLimits is Limits
    limits = Limits()
    assert (limits.max_connections, limits.max_keepalive_connections, limits.keepalive_expiry) == (
        100, 20, 5.0,
    )  # fmt: skip
    assert limits == Limits(100, 20, 5.0) and limits != Limits(max_connections=1)
    assert hash(limits) == hash(Limits())
    assert "max_connections=100" in repr(limits)


def test_codes() -> None:
    assert codes.OK == 200  # type: ignore[comparison-overlap]
    assert codes.ok == 200  # type: ignore[attr-defined]
    assert codes.get_reason_phrase(418) == "I'm a Teapot"
    assert codes.get_reason_phrase(999) == ""
    assert codes.is_redirect(307) and codes.is_client_error(404) and codes.is_server_error(500)
    assert codes.is_informational(101) and not codes.is_error(302)


def test_ssl_contexts(tls: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    verifying = create_ssl_context(True)
    assert verifying.verify_mode == ssl.CERT_REQUIRED and verifying.check_hostname
    assert verifying.minimum_version == ssl.TLSVersion.TLSv1_2
    off = create_ssl_context(False)
    assert off.verify_mode == ssl.CERT_NONE and not off.check_hostname
    custom = create_ssl_context(tls.ca_file)
    assert len(custom.get_ca_certs()) == 1
    directory = create_ssl_context(str(tmp_path))
    assert directory.verify_mode == ssl.CERT_REQUIRED
    given_context = ssl.create_default_context()
    assert create_ssl_context(given_context) is given_context
    monkeypatch.setenv("SSL_CERT_FILE", tls.ca_file)
    assert len(create_ssl_context(True).get_ca_certs()) == 1
    assert len(create_ssl_context(True, trust_env=False).get_ca_certs()) > 1
    with pytest.raises(OSError, match="CA bundle"):
        create_ssl_context(str(tmp_path / "missing.pem"))
    pem = tmp_path / "client.pem"
    issued = tls.ca.issue_cert("client@example.org")
    issued.private_key_and_cert_chain_pem.write_to_path(str(pem))
    create_ssl_context(True, cert=str(pem))
    create_ssl_context(True, cert=(str(pem), str(pem)))


def test_timeout_head_is_off_unless_given() -> None:
    assert Timeout(5.0).head is None and "head" not in Timeout(5.0).as_dict()
    both = Timeout(5.0, head=30.0)
    assert both.as_dict() == {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0, "head": 30.0}
    assert Timeout(both) == both and hash(Timeout(both)) == hash(both) and both != Timeout(5.0)
    assert Timeout(both, head=None).head is None and Timeout(both, read=1).head == 30.0
    assert repr(both) == "Timeout(5.0, head=30.0)"
    assert repr(Timeout(1, read=2, head=3)) == (
        "Timeout(connect=1, read=2, write=1, pool=1, head=3)"
    )
    with pytest.raises(ValueError):
        Timeout(head=-1)
