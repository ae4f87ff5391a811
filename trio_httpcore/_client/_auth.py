"""Authentication: Basic, Digest (RFC 7616), a callable, and ``.netrc``.

An :class:`Auth` is a generator-based flow: :meth:`Auth.auth_flow` yields
the request to send, receives the response, and may yield another request
(a challenge answered). The client drives it; the flow never does I/O, so
one implementation serves the async and the blocking client alike; a user's
flow that does I/O overrides ``sync_auth_flow``/``async_auth_flow`` (httpx's protocol).
"""

from __future__ import annotations

import hashlib
import netrc
import os
import re
import secrets
from base64 import b64encode
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from .._exceptions import ProtocolError
from ._content import is_replayable
from ._models import Request, Response

AuthFlow = Generator[Request, Response, None]
AsyncAuthFlow = AsyncGenerator[Request, Response]


class Auth:
    """The base of every authentication scheme: by default, send the request as is.

    Subclasses override :meth:`auth_flow` (httpx's ``Auth`` protocol).
    ``requires_request_body`` says the flow may send the request again, so
    the client must hold its body in memory (a one-shot stream can't be
    replayed). ``requires_response_body`` says the flow reads the bodies of
    the responses it receives (a token in a 401's JSON, say), so the client
    reads each before handing it over. A flow that does I/O of its own
    overrides :meth:`sync_auth_flow` and/or :meth:`async_auth_flow` instead:
    the async client drives ``async_auth_flow``, or, when only
    ``sync_auth_flow`` is overridden, that one in a worker thread.
    """

    requires_request_body = False
    requires_response_body = False

    def auth_flow(self, request: Request) -> AuthFlow:
        """Yield requests to send; each yield receives the response to it."""
        yield request

    def sync_auth_flow(self, request: Request) -> AuthFlow:
        """:meth:`auth_flow`, with the bodies the class asks for read (blocking)."""
        if self.requires_request_body and not is_replayable(request.stream):
            request.read()
        flow = self.auth_flow(request)
        request = next(flow)
        while True:
            response = yield request
            if self.requires_response_body:
                response.read()
            try:
                request = flow.send(response)
            except StopIteration:
                return

    async def async_auth_flow(self, request: Request) -> AsyncAuthFlow:
        """:meth:`auth_flow`, with the bodies the class asks for read."""
        if self.requires_request_body and not is_replayable(request.stream):
            await request.aread()
        flow = self.auth_flow(request)
        request = next(flow)
        while True:
            response = yield request
            if self.requires_response_body:
                await response.aread()
            try:
                request = flow.send(response)
            except StopIteration:
                return


_DONE = object()


async def _threaded_auth_flow(auth: Auth, request: Request) -> AsyncAuthFlow:
    """``auth.sync_auth_flow`` driven from async code, each step in a worker thread.

    Its blocking calls (a token fetched over the network, say) then never
    stall the trio thread. Each response is read before the flow gets it,
    so its ``response.read()`` returns the body at once.
    """
    flow = auth.sync_auth_flow(request)

    def step(response: Response | None) -> Any:
        try:
            return next(flow) if response is None else flow.send(response)
        except StopIteration:  # not raised through the thread: it would end this generator
            return _DONE

    try:
        sent = await trio.to_thread.run_sync(step, None)
        while sent is not _DONE:
            response = yield sent
            await response.aread()
            sent = await trio.to_thread.run_sync(step, response)
    finally:
        await trio.to_thread.run_sync(flow.close)


def auth_flow_of(auth: Auth, request: Request) -> AsyncAuthFlow:
    """The flow the async client drives for ``auth`` (see :class:`Auth`)."""
    kind = type(auth)
    if kind.sync_auth_flow is not Auth.sync_auth_flow and (
        kind.async_auth_flow is Auth.async_auth_flow
    ):
        return _threaded_auth_flow(auth, request)
    return auth.async_auth_flow(request)


class FunctionAuth(Auth):
    """Auth by a callable ``(Request) -> Request``, applied once before sending."""

    def __init__(self, func: Callable[[Request], Request]) -> None:
        self._func = func

    def auth_flow(self, request: Request) -> AuthFlow:
        yield self._func(request)


def basic_credentials(username: str | bytes, password: str | bytes) -> str:
    """``Basic <base64(user:pass)>``, UTF-8 encoded (RFC 7617 section 2.1)."""
    user = username.encode("utf-8") if isinstance(username, str) else username
    secret = password.encode("utf-8") if isinstance(password, str) else password
    return "Basic " + b64encode(user + b":" + secret).decode("ascii")


class BasicAuth(Auth):
    """HTTP Basic authentication (RFC 7617), sent with the first request."""

    def __init__(self, username: str | bytes, password: str | bytes) -> None:
        self._header = basic_credentials(username, password)

    def auth_flow(self, request: Request) -> AuthFlow:
        request.headers["Authorization"] = self._header
        yield request


class NetRCAuth(Auth):
    """Basic credentials for the request's host from a ``.netrc`` file.

    The file is ``$NETRC`` if set, else ``~/.netrc``; a host with no entry
    (and no ``default`` entry) is sent without credentials.
    """

    def __init__(self, file: str | os.PathLike[str] | None = None) -> None:
        path = file or os.environ.get("NETRC") or Path.home() / ".netrc"
        self._netrc = netrc.netrc(os.fspath(path))

    def auth_flow(self, request: Request) -> AuthFlow:
        entry = self._netrc.authenticators(request.url.host)
        if entry is not None:
            login, _, password = entry
            request.headers["Authorization"] = basic_credentials(login, password or "")
        yield request

    @staticmethod
    def available() -> bool:
        """Whether a ``.netrc`` file exists to be read."""
        path = os.environ.get("NETRC") or Path.home() / ".netrc"
        return Path(path).is_file()


# -- Challenges (RFC 9110 section 11.6.1):
#   challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
#   auth-param  = token BWS "=" BWS ( token / quoted-string )

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_PARAM = re.compile(rf"\s*({_TOKEN})\s*=\s*({_TOKEN}|{_QUOTED})\s*(?:,|$)")
_SCHEME = re.compile(rf"\s*,?\s*({_TOKEN})(?:\s+|$)")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*\s*(?:,|$)")


@dataclass(frozen=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` field: its scheme and parameters."""

    scheme: str
    params: dict[str, str]


def _unquote(value: str) -> str:
    if value.startswith('"'):
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_challenges(field: str) -> list[Challenge]:
    """Every challenge in a ``WWW-Authenticate`` field value (RFC 9110 section 11.6.1).

    Several challenges may share one field (``Basic realm="a", Digest
    realm="b", nonce="..."``); quoted strings may hold commas and escaped
    quotes. Parameter names are lower-cased; a challenge that does not parse
    ends the list rather than guessing.
    """
    challenges: list[Challenge] = []
    pos = 0
    while pos < len(field):
        scheme_match = _SCHEME.match(field, pos)
        if scheme_match is None:
            break
        pos = scheme_match.end()
        params: dict[str, str] = {}
        token68 = _TOKEN68.match(field, pos)
        if token68 is not None and _PARAM.match(field, pos) is None:
            pos = token68.end()
        else:
            while (param := _PARAM.match(field, pos)) is not None:
                params[param.group(1).lower()] = _unquote(param.group(2))
                pos = param.end()
        challenges.append(Challenge(scheme_match.group(1).lower(), params))
    return challenges


# -- Digest (RFC 7616).

_DIGEST_ALGORITHMS: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data).hexdigest(),
    "SHA": lambda data: hashlib.sha1(data).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
    "SHA-512": lambda data: hashlib.sha512(data).hexdigest(),
    "SHA-512-256": lambda data: hashlib.new("sha512_256", data).hexdigest(),
}
# Preference when a server offers several Digest challenges (RFC 7616 section 3.7); SHA and
# SHA-512 are not in the RFC's registry, but httpx answers them.
_ALGORITHM_PREFERENCE = ("SHA-512", "SHA-512-256", "SHA-256", "SHA", "MD5")


def _digest_algorithm(challenge: Challenge) -> tuple[str, bool] | None:
    """``(algorithm, is_session)`` for a challenge we can answer, else ``None``."""
    name = challenge.params.get("algorithm", "MD5").upper()
    session = name.endswith("-SESS")
    if session:
        name = name[: -len("-SESS")]
    if name not in _DIGEST_ALGORITHMS:
        return None
    return name, session


def _digest_qop(challenge: Challenge) -> str | None:
    """``"auth"`` if offered; ``None`` for RFC 2069 style (no qop). auth-int is not supported."""
    offered = challenge.params.get("qop")
    if offered is None:
        return None
    options = {option.strip().lower() for option in offered.split(",")}
    return "auth" if "auth" in options else ""


class DigestAuth(Auth):
    """HTTP Digest authentication (RFC 7616): MD5, SHA, SHA-256, SHA-512, SHA-512-256, their
    ``-sess`` variants, ``qop=auth``, ``userhash``, ``opaque`` and ``stale``.

    The first request goes without credentials; the 401's challenge is
    answered, and kept: later requests of the same client answer it at once,
    counting ``nc`` up (RFC 7616 section 3.4), so a run of requests costs one
    challenge round trip in all. A 401 with ``stale=true`` means only the
    nonce expired: the request is answered again with the new nonce. Cookies
    the 401 set are sent with the answer when the request carries none.
    """

    requires_request_body = True

    def __init__(self, username: str | bytes, password: str | bytes) -> None:
        self._username = username.decode("utf-8") if isinstance(username, bytes) else username
        self._password = password.decode("utf-8") if isinstance(password, bytes) else password
        self._challenge: Challenge | None = None
        self._nonce_count = 0

    def auth_flow(self, request: Request) -> AuthFlow:
        if self._challenge is not None:
            request.headers["Authorization"] = self._authorization(request, self._challenge)
        response = yield request
        # Answer a fresh challenge once; answer again only if the server says
        # the nonce went stale (else the credentials were refused: the 401 stands).
        for attempt in range(2):
            if response.status_code != 401:
                return
            challenge = self._pick_challenge(response)
            if challenge is None:
                return
            if attempt and challenge.params.get("stale", "").lower() != "true":
                return
            self._challenge = challenge
            self._nonce_count = 0
            request.headers["Authorization"] = self._authorization(request, challenge)
            # Cookies the challenge set (a session, say) go with the answer, unless the
            # request has a Cookie field already (as httpx does).
            response.cookies.set_cookie_header(request)
            response = yield request

    def _pick_challenge(self, response: Response) -> Challenge | None:
        """The strongest Digest challenge we can answer, among all the response offers."""
        usable: list[tuple[int, Challenge]] = []
        for field in response.headers.get_list("www-authenticate"):
            for challenge in parse_challenges(field):
                if challenge.scheme != "digest" or "nonce" not in challenge.params:
                    continue
                algorithm = _digest_algorithm(challenge)
                if algorithm is None:
                    continue
                if _digest_qop(challenge) == "":
                    raise ProtocolError(
                        f"the Digest challenge from {response.url.host} offers only "
                        "qop=auth-int, which is not supported"
                    )
                usable.append((_ALGORITHM_PREFERENCE.index(algorithm[0]), challenge))
        return min(usable, key=lambda item: item[0])[1] if usable else None

    def _authorization(self, request: Request, challenge: Challenge) -> str:
        """The ``Authorization`` field answering ``challenge`` (RFC 7616 section 3.4)."""
        algorithm_info = _digest_algorithm(challenge)
        assert algorithm_info is not None
        algorithm, session = algorithm_info
        digest = _DIGEST_ALGORITHMS[algorithm]
        params = challenge.params
        realm, nonce = params.get("realm", ""), params["nonce"]
        qop = _digest_qop(challenge)
        self._nonce_count += 1
        nc = f"{self._nonce_count:08x}"
        cnonce = secrets.token_hex(16)
        uri = request.url.full_path

        ha1 = digest(f"{self._username}:{realm}:{self._password}".encode())
        if session:
            ha1 = digest(f"{ha1}:{nonce}:{cnonce}".encode())
        ha2 = digest(f"{request.method}:{uri}".encode())
        if qop is None:
            response = digest(f"{ha1}:{nonce}:{ha2}".encode())
        else:
            response = digest(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode())

        userhash = params.get("userhash", "").lower() == "true"
        username = digest(f"{self._username}:{realm}".encode()) if userhash else self._username
        fields = [
            ("username", _quote(username)),
            ("realm", _quote(realm)),
            ("nonce", _quote(nonce)),
            ("uri", _quote(uri)),
            ("algorithm", algorithm + ("-sess" if session else "")),
            ("response", _quote(response)),
        ]
        if "opaque" in params:
            fields.append(("opaque", _quote(params["opaque"])))
        if qop is not None:
            fields += [("qop", qop), ("nc", nc), ("cnonce", _quote(cnonce))]
        if userhash:
            fields.append(("userhash", "true"))
        return "Digest " + ", ".join(f"{name}={value}" for name, value in fields)


def _quote(value: str) -> str:
    """A quoted-string (RFC 9110 section 5.6.4): backslash before ``"`` and ``\\``."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
