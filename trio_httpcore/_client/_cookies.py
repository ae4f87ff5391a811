"""``Cookies``: a cookie jar with the standard library's rules (RFC 6265 via ``http.cookiejar``).

The jar decides which cookies a response may set and which a request gets: a host-only cookie
(no ``Domain``) goes back only to the host that set it (RFC 6265 section 5.4), a ``Secure`` one
only over https. Cookies the caller sets without a domain go to every host.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from typing import Protocol

from .._exceptions import CookieConflict
from ._headers import Headers
from ._urls import URL


class CookieRequest(Protocol):
    """What the jar reads of a request (``_models.Request``, which builds on the jar)."""

    url: URL
    headers: Headers
    method: str


class CookieResponse(Protocol):
    """What the jar reads of a response (``_models.Response``, which builds on the jar)."""

    headers: Headers

    @property
    def request(self) -> CookieRequest: ...


_SET_COOKIE_FIELDS = frozenset({b"set-cookie", b"set-cookie2"})


class _JarRequest(urllib.request.Request):
    """Our request as ``http.cookiejar`` wants to see it; the Cookie field it adds goes to ours."""

    def __init__(self, request: CookieRequest) -> None:
        url = request.url
        # Without userinfo: the jar would take "user:pass@host" for the host name.
        super().__init__(
            url=str(url.copy_with(userinfo="") if url.userinfo else url),
            headers={name: value for name, value in request.headers.multi_items()},
            method=request.method,
        )
        self._request = request

    def add_unredirected_header(self, key: str, header: str) -> None:
        super().add_unredirected_header(key, header)
        self._request.headers[key] = header


class _JarResponse:
    """Our response as ``http.cookiejar`` wants to see it: ``info().get_all(name)``."""

    def __init__(self, response: CookieResponse) -> None:
        self._response = response

    def info(self) -> _JarResponse:
        return self

    def get_all(self, name: str, default: list[str] | None = None) -> list[str] | None:
        return self._response.headers.get_list(name) or default


class _HostOnlyPolicy(DefaultCookiePolicy):
    """The standard library's rules, with host-only cookies kept to their host.

    A cookie a server set without a ``Domain`` attribute has the host-only
    flag: it goes back to exactly the host that set it, not to its
    subdomains (RFC 6265 sections 5.3 and 5.4). The standard library sends it
    to subdomains unless ``DomainStrictNonDomain`` is set, and that flag would
    also keep a cookie the caller set with no domain at all (which goes to
    every host) from being sent anywhere.
    """

    def return_ok_domain(self, cookie: Cookie, request: urllib.request.Request) -> bool:
        if cookie.domain and not cookie.domain_specified:
            # The jar keeps a host-only cookie under the host's effective name:
            # a name without a dot gets ".local" (RFC 2965 section 1).
            host = urllib.parse.urlsplit(request.get_full_url()).hostname or ""
            if cookie.domain.lower() != (host if "." in host else f"{host}.local"):
                return False
        return bool(super().return_ok_domain(cookie, request))


class Cookies(MutableMapping[str, str]):
    """Cookies kept for a client, or received with a response.

    Storage and matching are ``http.cookiejar``'s, which follows RFC 6265:
    domain and path matching, host-only cookies (kept to their host, not sent
    to its subdomains), expiry, ``Secure`` cookies
    sent over https only, ``HttpOnly`` kept. As a mapping it is keyed by
    name; where several cookies share a name, :meth:`get` with ``domain``
    and ``path`` tells them apart. The jar itself is :attr:`jar`.
    """

    def __init__(self, cookies: CookieTypes | None = None) -> None:
        if isinstance(cookies, CookieJar):
            self.jar = cookies
            return
        self.jar = CookieJar(_HostOnlyPolicy())
        if isinstance(cookies, Cookies):
            for cookie in cookies.jar:
                self.jar.set_cookie(cookie)
        elif isinstance(cookies, Mapping):
            for name, value in cookies.items():
                self.set(name, value)
        elif cookies is not None:
            for name, value in cookies:
                self.set(name, value)

    # -- The client's use.

    def extract_cookies(self, response: CookieResponse) -> None:
        """Store the cookies a response sets (``Set-Cookie``), as the jar's rules allow."""
        if not response.headers._has_any(_SET_COOKIE_FIELDS):
            return  # the common case, without building the jar's view of the exchange
        self.jar.extract_cookies(_JarResponse(response), _JarRequest(response.request))  # type: ignore[arg-type]

    def set_cookie_header(self, request: CookieRequest) -> None:
        """Add the ``Cookie`` field of the cookies that apply to ``request``."""
        self.jar.add_cookie_header(_JarRequest(request))

    # -- Editing.

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        """Set a cookie; with no ``domain`` it applies to every host."""
        cookie = Cookie(
            version=0,
            name=name,
            value=value,
            port=None,
            port_specified=False,
            domain=domain,
            domain_specified=bool(domain),
            domain_initial_dot=domain.startswith("."),
            path=path,
            path_specified=bool(path),
            secure=False,
            expires=None,
            discard=True,
            comment=None,
            comment_url=None,
            rest={},
            rfc2109=False,
        )
        self.jar.set_cookie(cookie)

    def get(  # type: ignore[override]
        self,
        name: str,
        default: str | None = None,
        domain: str | None = None,
        path: str | None = None,
    ) -> str | None:
        """The value of cookie ``name``; ``domain``/``path`` narrow the choice.

        Raises :class:`~trio_httpcore.CookieConflict` when several cookies match
        and nothing tells them apart.
        """
        found = self._matching(name, domain, path)
        if not found:
            return default
        if len({cookie.value for cookie in found}) > 1:
            raise CookieConflict(
                f"several cookies are called {name!r}: give domain= and path= to choose"
            )
        return found[0].value

    def delete(self, name: str, domain: str | None = None, path: str | None = None) -> None:
        """Remove cookie ``name`` (those matching ``domain``/``path``, if given)."""
        for cookie in self._matching(name, domain, path):
            self.jar.clear(cookie.domain, cookie.path, cookie.name)

    def clear(self, domain: str | None = None, path: str | None = None) -> None:
        """Remove every cookie, or those of ``domain`` (and ``path``)."""
        if domain is None:
            self.jar.clear()
        elif path is None:
            self.jar.clear(domain)
        else:
            self.jar.clear(domain, path)

    def update(self, cookies: object = None, /, **kwargs: str) -> None:
        """Add the cookies of another ``Cookies``, jar, mapping or pair list."""
        for cookie in Cookies(cookies).jar:  # type: ignore[arg-type]
            self.jar.set_cookie(cookie)
        for name, value in kwargs.items():
            self.set(name, value)

    def _matching(self, name: str, domain: str | None, path: str | None) -> list[Cookie]:
        return [
            cookie
            for cookie in self.jar
            if cookie.name == name
            and (domain is None or cookie.domain == domain)
            and (path is None or cookie.path == path)
        ]

    # -- The mapping.

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        if not self._matching(name, None, None):
            raise KeyError(name)
        self.delete(name)

    def __len__(self) -> int:
        return len(self.jar)

    def __iter__(self) -> Iterator[str]:
        return (cookie.name for cookie in self.jar)

    def __bool__(self) -> bool:
        # Asked for every request. A plain CookieJar that never held a cookie has an empty
        # store (emptied by clear(), it may keep empty per-domain tables: then iterate).
        jar = self.jar
        if type(jar) is CookieJar and not jar._cookies:  # type: ignore[attr-defined]
            return False
        # One step of the jar's iterator, not a count of it.
        return next(iter(jar), None) is not None

    def __repr__(self) -> str:
        shown = ", ".join(
            f"<Cookie {cookie.name}=... for {cookie.domain}{cookie.path}>" for cookie in self.jar
        )
        return f"<Cookies[{shown}]>"


CookieTypes = Cookies | CookieJar | Mapping[str, str] | Sequence[tuple[str, str]]
"""What ``cookies=`` takes: a :class:`Cookies`, a ``CookieJar``, a mapping or pairs."""
