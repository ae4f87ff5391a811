"""Authentication through the client, against real servers: Digest (RFC 7616), Basic, .netrc.

The Digest server is :class:`DigestApp`, written from RFC 7616 independently
of the client's code: it checks every field of each ``Authorization``, the
response hash, and that ``nc`` goes up by one per request for each nonce; it
counts the challenges (401s) it sends.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.support.servers import Server
from trio_httpcore import AsyncClient, Auth, BasicAuth, Client, DigestAuth, Request, Response
from trio_httpcore._client._auth import AuthFlow
from trio_httpcore._exceptions import StreamConsumed

from .conftest import ClientApp, Receive, Scope, Send

USER, PASSWORD, REALM = "alice", 's3cret, "quoted"', "tests@trio_httpcore"

_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
}
_FIELD = re.compile(r'\s*([A-Za-z]+)=("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')


def parse_authorization(value: str) -> dict[str, str]:
    """The parameters of a ``Digest`` credentials field (RFC 7616 section 3.4)."""
    scheme, _, rest = value.partition(" ")
    assert scheme == "Digest", value
    fields = {}
    for name, raw in _FIELD.findall(rest):
        fields[name.lower()] = re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw.startswith('"') else raw
    return fields


class DigestApp(ClientApp):
    """``/digest...`` needs Digest credentials for ``alice``; other routes are ClientApp's.

    ``algorithm`` is offered in each challenge; nonces are valid until
    :meth:`expire_nonces`, after which a request answering one gets a 401
    with ``stale=true``. With ``session_cookie``, each 401 sets that cookie
    and credentials without it are refused. ``errors`` collects every check
    that failed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.algorithm = "MD5"
        self.session_cookie: str | None = None
        self.opaque = secrets.token_hex(8)
        self.nonces: dict[str, int] = {}  # valid nonce -> the last nc seen with it
        self.stale: set[str] = set()
        self.challenges = 0
        self.accepted = 0
        self.bodies: list[bytes] = []
        self.errors: list[str] = []

    def expire_nonces(self) -> None:
        self.stale.update(self.nonces)
        self.nonces.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/digest"):
            await super().__call__(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.bodies.append(body)
        headers = dict(scope["headers"])
        credentials = headers.get(b"authorization", b"").decode("latin-1")
        stale = False
        if credentials:
            verdict = self.check(scope, parse_authorization(credentials))
            cookie = headers.get(b"cookie", b"").decode("latin-1")
            if verdict == "ok" and self.session_cookie and self.session_cookie not in cookie:
                self.errors.append(f"no session cookie in {cookie!r}")
                verdict = "bad"
            if verdict == "ok":
                self.accepted += 1
                await self.respond(send, 200, b"welcome %d" % self.accepted)
                return
            stale = verdict == "stale"
        self.challenges += 1
        nonce = secrets.token_hex(16)
        self.nonces[nonce] = 0
        challenge = (
            f'Digest realm="{REALM}", qop="auth", algorithm={self.algorithm}, '
            f'nonce="{nonce}", opaque="{self.opaque}"' + (", stale=true" if stale else "")
        )
        fields = [(b"www-authenticate", challenge.encode())]
        if self.session_cookie:
            fields.append((b"set-cookie", self.session_cookie.encode()))
        await self.respond(send, 401, b"who are you?", fields)

    def check(self, scope: Scope, fields: dict[str, str]) -> str:
        """``"ok"``, ``"stale"`` (a nonce we expired) or ``"bad"`` (recorded in ``errors``)."""
        algorithm = self.algorithm
        digest = _HASHES[algorithm.removesuffix("-sess")]
        uri = scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            uri += "?" + scope["query_string"].decode("latin-1")
        expected = {
            "username": USER,
            "realm": REALM,
            "uri": uri,
            "algorithm": algorithm,
            "qop": "auth",
            "opaque": self.opaque,
        }
        wrong = {
            k: fields.get(k) for k, v in expected.items() if fields.get(k, "").lower() != v.lower()
        }
        nonce, nc, cnonce = fields.get("nonce", ""), fields.get("nc", ""), fields.get("cnonce", "")
        if nonce in self.stale:
            return "stale"
        if wrong or nonce not in self.nonces or not cnonce or not re.fullmatch("[0-9a-f]{8}", nc):
            self.errors.append(f"bad fields {wrong} nonce={nonce!r} nc={nc!r} cnonce={cnonce!r}")
            return "bad"
        if int(nc, 16) != self.nonces[nonce] + 1:
            self.errors.append(f"nc {nc} after {self.nonces[nonce]:08x} for one nonce")
            return "bad"
        self.nonces[nonce] += 1
        ha1 = digest(f"{USER}:{REALM}:{PASSWORD}".encode())
        if algorithm.endswith("-sess"):
            ha1 = digest(f"{ha1}:{nonce}:{cnonce}".encode())
        ha2 = digest(f"{scope['method']}:{uri}".encode())
        answer = digest(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode())
        if fields.get("response") != answer:
            self.errors.append(f"wrong response hash {fields.get('response')!r}")
            return "bad"
        return "ok"


@pytest.fixture
def client_app() -> DigestApp:
    return DigestApp()


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "MD5-sess", "SHA-256-sess"])
async def test_digest_ten_requests_cost_one_challenge(
    server: Server, client_app: DigestApp, algorithm: str
) -> None:
    client_app.algorithm = algorithm
    async with AsyncClient(base_url=server.url, auth=DigestAuth(USER, PASSWORD)) as client:
        for i in range(10):
            response = await client.get("/digest/page", params={"n": str(i)})
            assert (response.status_code, response.text) == (200, f"welcome {i + 1}")
            # Only the first request met the challenge: it is in its history, read and closed.
            assert len(response.history) == (1 if i == 0 else 0)
    assert client_app.errors == []
    assert (client_app.challenges, client_app.accepted) == (1, 10)


async def test_digest_history_and_stale_nonce(server: Server, client_app: DigestApp) -> None:
    async with AsyncClient(base_url=server.url, auth=DigestAuth(USER, PASSWORD)) as client:
        first = await client.get("/digest")
        (challenge,) = first.history
        assert challenge.status_code == 401 and challenge.is_closed
        assert challenge.content == b"who are you?"
        client_app.expire_nonces()
        # The kept nonce is refused as stale: the new one is answered, nc from 1 again.
        again = await client.get("/digest")
        assert again.status_code == 200
        assert [r.status_code for r in again.history] == [401]
        assert "stale=true" in again.history[0].headers["www-authenticate"]
        assert (await client.get("/digest")).status_code == 200
    assert client_app.errors == []
    assert (client_app.challenges, client_app.accepted) == (2, 3)


async def test_digest_answer_carries_the_challenges_cookie(
    server: Server, client_app: DigestApp
) -> None:
    """A cookie set with the 401 goes with the answer, then from the client's jar."""
    client_app.session_cookie = "session=s1"
    async with AsyncClient(base_url=server.url, auth=DigestAuth(USER, PASSWORD)) as client:
        for _ in range(3):
            assert (await client.get("/digest")).status_code == 200
        assert client.cookies["session"] == "s1"
    assert client_app.errors == []
    assert (client_app.challenges, client_app.accepted) == (1, 3)


async def test_a_redirect_followed_later_is_authenticated(
    server: Server, client_app: DigestApp
) -> None:
    """``response.anext()`` sends the next request with the client's auth, as send() would."""
    async with AsyncClient(base_url=server.url, auth=DigestAuth(USER, PASSWORD)) as client:
        moved = await client.get(
            "/redirect/302", params={"location": "/digest/there"}, follow_redirects=False
        )
        arrived = await moved.anext()
    assert (arrived.status_code, arrived.url.path) == (200, "/digest/there")
    assert [r.status_code for r in arrived.history] == [302, 401]
    assert client_app.errors == []


async def test_digest_wrong_password_gives_the_401(server: Server, client_app: DigestApp) -> None:
    async with AsyncClient(base_url=server.url) as client:
        response = await client.get("/digest", auth=DigestAuth(USER, "wrong"))
    assert response.status_code == 401
    assert [r.status_code for r in response.history] == [401]  # answered once, then given up
    assert client_app.accepted == 0 and len(client_app.errors) == 1


async def test_digest_replays_a_one_shot_body(server: Server, client_app: DigestApp) -> None:
    """DigestAuth may send the request twice: a generator body is read into memory first."""

    async def body() -> AsyncIterator[bytes]:
        for part in (b"one ", b"shot ", b"body"):
            yield part

    async with AsyncClient(base_url=server.url, auth=DigestAuth(USER, PASSWORD)) as client:
        response = await client.post("/digest", content=body())
    assert response.status_code == 200
    assert client_app.bodies == [b"one shot body", b"one shot body"]


class ResendAuth(Auth):
    """Sends every request twice, without saying it needs the body again."""

    def auth_flow(self, request: Request) -> AuthFlow:
        yield request
        yield request


async def test_a_flow_resending_a_one_shot_body_raises(server: Server) -> None:
    async with AsyncClient(base_url=server.url) as client:
        with pytest.raises(StreamConsumed, match=r"one-shot stream.*requires_request_body"):
            await client.post("/echo", content=iter([b"a", b"b"]), auth=ResendAuth())
        # A body in memory can be resent: two exchanges, the first in the history.
        response = await client.post("/echo", content=b"ab", auth=ResendAuth())
        assert response.json()["body"] == "ab" and len(response.history) == 1


class TokenAuth(Auth):
    """Fetches a token from ``/echo`` (the token is what the echo shows) when refused."""

    requires_response_body = True

    def __init__(self) -> None:
        self.token = "stale"

    def auth_flow(self, request: Request) -> AuthFlow:
        request.headers["Authorization"] = f"Bearer {self.token}"
        response = yield request
        if response.status_code == 401:
            refresh = yield Request("POST", request.url.join("/echo"), content=b"fresh")
            self.token = refresh.json()["body"]  # the body was read for us
            request.headers["Authorization"] = f"Bearer {self.token}"
            yield request


async def test_a_flow_that_reads_response_bodies(server: Server) -> None:
    auth = TokenAuth()
    async with AsyncClient(base_url=server.url) as client:
        response = await client.get("/status/401", auth=auth, stream=True)
        assert [(r.request.method, r.status_code) for r in response.history] == [
            ("GET", 401),
            ("POST", 200),
        ]
        assert response.request.headers["authorization"] == "Bearer fresh"
        await response.aclose()
    assert auth.token == "fresh"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _authorization(response: Response) -> str | None:
    headers = dict(response.json()["headers"])
    return headers.get("authorization")


async def test_basic_callable_and_url_credentials(server: Server) -> None:
    def sign(request: Request) -> Request:
        request.headers["Authorization"] = "Token abc"
        return request

    async with AsyncClient(base_url=server.url, auth=("user", "pass")) as client:
        assert _authorization(await client.get("/echo")) == _basic("user", "pass")
        response = await client.get("/echo", auth=BasicAuth("other", "pw"))
        assert _authorization(response) == _basic("other", "pw")
        assert _authorization(await client.get("/echo", auth=sign)) == "Token abc"
        # auth=None: not the client's; the URL's credentials (percent-decoded) still apply.
        assert _authorization(await client.get("/echo", auth=None)) is None
        url = server.url.replace("://", "://url%40user:p%3Ass@") + "/echo"
        assert _authorization(await client.get(url, auth=None)) == _basic("url@user", "p:ss")
        # Same-origin redirects keep the credentials (RFC 9110 section 15.4 leaves it to us).
        response = await client.get("/redirect/302", params={"location": "/echo"})
        assert _authorization(response) == _basic("user", "pass")
        assert [r.status_code for r in response.history] == [302]


async def test_netrc_when_nothing_else_applies(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login net password rc\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    async with AsyncClient(base_url=server.url) as client:
        assert _authorization(await client.get("/echo")) == _basic("net", "rc")
        response = await client.get("/echo", headers={"Authorization": "Bearer mine"})
        assert _authorization(response) == "Bearer mine"
        assert _authorization(await client.get("/echo", auth=("a", "b"))) == _basic("a", "b")
    async with AsyncClient(base_url=server.url, trust_env=False) as client:
        assert _authorization(await client.get("/echo")) is None
    netrc.write_text("machine elsewhere.example login net password rc\n")
    async with AsyncClient(base_url=server.url) as client:
        assert _authorization(await client.get("/echo")) is None


def test_blocking_client_digest(
    serve_in_thread: Callable[..., Server], client_app: DigestApp
) -> None:
    """The blocking Client runs the same AsyncClient: one challenge for ten requests."""
    server = serve_in_thread()
    client_app.algorithm = "SHA-256"
    with Client(base_url=server.url, auth=DigestAuth(USER, PASSWORD)) as client:
        texts = [client.get("/digest").text for _ in range(10)]
    assert texts == [f"welcome {i}" for i in range(1, 11)]
    assert (client_app.challenges, client_app.errors) == (1, [])


def test_the_servers_parser() -> None:
    """DigestApp's own parser of credentials: quoted strings with commas and escapes."""
    fields = parse_authorization('Digest username="a\\"b", nc=00000001, realm="x, y"')
    assert fields == {"username": 'a"b', "nc": "00000001", "realm": "x, y"}
