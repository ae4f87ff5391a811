"""Auth flows without a network: Basic, Digest (RFC 7616 vectors), challenge parsing, netrc."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from trio_httpcore._client._auth import (
    BasicAuth,
    Challenge,
    DigestAuth,
    FunctionAuth,
    NetRCAuth,
    parse_challenges,
)
from trio_httpcore._client._models import Request, Response
from trio_httpcore._exceptions import ProtocolError


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _digest_params(header: str) -> dict[str, str]:
    assert header.startswith("Digest ")
    (challenge,) = parse_challenges(header)
    return challenge.params


def test_parse_several_challenges_with_commas_and_escapes() -> None:
    field = (
        'Basic realm="simple", Digest realm="a, b \\"quoted\\"", qop="auth,auth-int", '
        "algorithm=SHA-256, nonce=abc, Bearer token68value=="
    )
    challenges = parse_challenges(field)
    assert challenges == [
        Challenge("basic", {"realm": "simple"}),
        Challenge(
            "digest",
            {
                "realm": 'a, b "quoted"',
                "qop": "auth,auth-int",
                "algorithm": "SHA-256",
                "nonce": "abc",
            },
        ),
        Challenge("bearer", {}),
    ]


def test_parse_garbage_stops_instead_of_guessing() -> None:
    assert parse_challenges('Digest realm="unterminated') == [Challenge("digest", {})]
    assert parse_challenges("") == []


def test_basic_auth_header() -> None:
    request = Request("GET", "http://example.org/")
    flow = BasicAuth("Aladdin", "open sesame").auth_flow(request)
    sent = next(flow)
    assert sent.headers["Authorization"] == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="


def test_function_auth() -> None:
    def add_token(request: Request) -> Request:
        request.headers["X-Token"] = "t"
        return request

    sent = next(FunctionAuth(add_token).auth_flow(Request("GET", "http://example.org/")))
    assert sent.headers["X-Token"] == "t"


def _challenge_response(request: Request, www_authenticate: str) -> Response:
    return Response(401, headers=[("WWW-Authenticate", www_authenticate)], request=request)


def test_digest_rfc7616_section_3_9_1_sha256() -> None:
    """The SHA-256 example of RFC 7616 section 3.9.1, with its cnonce fixed."""
    auth = DigestAuth("Mufasa", "Circle of Life")
    request = Request("GET", "http://www.example.org/dir/index.html")
    flow = auth.auth_flow(request)
    assert "Authorization" not in next(flow).headers
    challenge = (
        'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    retried = flow.send(_challenge_response(request, challenge))
    params = _digest_params(retried.headers["Authorization"])
    assert params["username"] == "Mufasa"
    assert params["algorithm"] == "SHA-256"
    assert params["qop"] == "auth"
    assert params["nc"] == "00000001"
    assert params["uri"] == "/dir/index.html"
    assert params["opaque"] == "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"

    def h(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    ha1 = h("Mufasa:http-auth@example.org:Circle of Life")
    ha2 = h("GET:/dir/index.html")
    expected = h(f"{ha1}:{params['nonce']}:00000001:{params['cnonce']}:auth:{ha2}")
    assert params["response"] == expected
    # With the RFC's own cnonce, the RFC's own answer.
    rfc_cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    assert (
        h(f"{ha1}:{params['nonce']}:00000001:{rfc_cnonce}:auth:{ha2}")
        == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    )
    with pytest.raises(StopIteration):
        flow.send(Response(200, request=request))


def test_digest_md5_sess_userhash_and_nc_counting() -> None:
    auth = DigestAuth("user", "pass")
    first = Request("GET", "http://example.org/a?x=1")
    flow = auth.auth_flow(first)
    next(flow)
    challenge = 'Digest realm="r", nonce="n1", qop=auth, algorithm=MD5-sess, userhash=true'
    answered = flow.send(_challenge_response(first, challenge))
    params = _digest_params(answered.headers["Authorization"])
    assert params["username"] == md5("user:r")
    assert params["userhash"] == "true"
    assert params["algorithm"] == "MD5-sess"
    ha1 = md5(f"{md5('user:r:pass')}:n1:{params['cnonce']}")
    ha2 = md5("GET:/a?x=1")
    assert params["response"] == md5(f"{ha1}:n1:00000001:{params['cnonce']}:auth:{ha2}")
    with pytest.raises(StopIteration):
        flow.send(Response(200, request=answered))

    # The next request answers the kept challenge at once, counting nc up.
    second = Request("GET", "http://example.org/b")
    sent = next(auth.auth_flow(second))
    assert _digest_params(sent.headers["Authorization"])["nc"] == "00000002"


def test_digest_prefers_the_strongest_algorithm() -> None:
    request = Request("GET", "http://example.org/")
    flow = DigestAuth("u", "p").auth_flow(request)
    next(flow)
    response = Response(
        401,
        headers=[
            ("WWW-Authenticate", 'Digest realm="r", nonce="a", algorithm=MD5, qop=auth'),
            ("WWW-Authenticate", 'Digest realm="r", nonce="b", algorithm=SHA-256, qop=auth'),
        ],
        request=request,
    )
    params = _digest_params(flow.send(response).headers["Authorization"])
    assert (params["algorithm"], params["nonce"]) == ("SHA-256", "b")


def test_digest_stale_nonce_is_answered_again_but_refusal_stands() -> None:
    request = Request("GET", "http://example.org/")
    flow = DigestAuth("u", "p").auth_flow(request)
    next(flow)
    flow.send(_challenge_response(request, 'Digest realm="r", nonce="a", qop=auth'))
    again = flow.send(_challenge_response(request, 'Digest realm="r", nonce="b", stale=true'))
    assert _digest_params(again.headers["Authorization"])["nonce"] == "b"

    refused = Request("GET", "http://example.org/")
    flow = DigestAuth("u", "wrong").auth_flow(refused)
    next(flow)
    flow.send(_challenge_response(refused, 'Digest realm="r", nonce="a", qop=auth'))
    with pytest.raises(StopIteration):
        flow.send(_challenge_response(refused, 'Digest realm="r", nonce="c", qop=auth'))


def test_digest_rfc2069_without_qop() -> None:
    request = Request("GET", "http://example.org/p")
    flow = DigestAuth("u", "p").auth_flow(request)
    next(flow)
    params = _digest_params(
        flow.send(_challenge_response(request, 'Digest realm="r", nonce="n"')).headers[
            "Authorization"
        ]
    )
    assert "qop" not in params and "nc" not in params
    assert params["response"] == md5(f"{md5('u:r:p')}:n:{md5('GET:/p')}")


def test_digest_auth_int_only_is_refused_clearly() -> None:
    request = Request("GET", "http://example.org/")
    flow = DigestAuth("u", "p").auth_flow(request)
    next(flow)
    with pytest.raises(ProtocolError, match="auth-int"):
        flow.send(_challenge_response(request, 'Digest realm="r", nonce="n", qop="auth-int"'))


def test_digest_ignores_non_digest_401() -> None:
    request = Request("GET", "http://example.org/")
    flow = DigestAuth("u", "p").auth_flow(request)
    next(flow)
    with pytest.raises(StopIteration):
        flow.send(_challenge_response(request, 'Basic realm="r"'))


def test_netrc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc_file = tmp_path / "netrc"
    netrc_file.write_text("machine example.org login alice password s3cret\n")
    netrc_file.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc_file))
    assert NetRCAuth.available()
    auth = NetRCAuth()
    sent = next(auth.auth_flow(Request("GET", "https://example.org/")))
    assert sent.headers["Authorization"] == "Basic YWxpY2U6czNjcmV0"
    other = next(auth.auth_flow(Request("GET", "https://example.com/")))
    assert "Authorization" not in other.headers
