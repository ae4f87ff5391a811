"""``URL`` and ``Origin``: parsing, normalisation and reference resolution per RFC 3986.

A :class:`URL` is parsed once into its components (RFC 3986 section 3), each
normalised (section 6.2.2): scheme and host lower-cased, percent-encodings
upper-cased and decoded where they stand for an unreserved character, every
character a component may not hold percent-encoded as UTF-8, dot segments
removed from an absolute path, and the scheme's default port dropped
(section 6.2.3). A non-ASCII host is IDNA-encoded (RFC 5891, via ``idna``).
Normalising a normalised URL changes nothing, so ``URL(str(url)) == url``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import idna

from .._exceptions import InvalidURL
from .._types import URL4
from ._queryparams import PrimitiveData, QueryParams, QueryParamTypes
from ._urlparse import (
    DEFAULT_PORTS,
    PATH_SAFE,
    QUERY_SAFE,
    SCHEME,
    SUB_DELIMS,
    UNRESERVED,
    URI_REFERENCE,
    USERINFO_SAFE,
    authority_component,
    encode_host,
    host_component,
    port_component,
    quote,
    remove_dot_segments,
    scheme_component,
    split_authority,
    text_component,
)

if TYPE_CHECKING:
    from typing_extensions import Self

_KEEP: Any = type("_Keep", (), {"__repr__": lambda self: "KEEP"})()
"""A component ``copy_with`` leaves as it is."""


class URL:
    """A normalised URL: ``URL("https://example.org/path?q=1")``.

    ``params`` replaces the query. A URL with no scheme or no host raises
    :class:`~trio_httpcore.InvalidURL` unless ``allow_relative=True``.
    Components are ``str`` and stay percent-encoded, except ``username``,
    ``password`` and ``host``, which are decoded; ``port`` is ``None`` for
    the scheme's default port.
    """

    __slots__ = (
        "_fragment",
        "_host",
        "_host_field",
        "_path",
        "_port",
        "_query",
        "_raw",
        "_scheme",
        "_userinfo",
    )

    _scheme: str
    _userinfo: str
    _host: str | None
    _port: int | None
    _path: str
    _query: str | None
    _fragment: str | None
    # What the transport is handed, worked out once per URL (a client reuses its URLs):
    # ``raw`` and the ``Host`` field. ``None`` until first asked for.
    _raw: URL4 | None
    _host_field: bytes | None

    def __init__(
        self,
        url: URL | str | bytes = "",
        params: QueryParamTypes | None = None,
        allow_relative: bool = False,
        *,
        scheme: str = _KEEP,
        username: str = _KEEP,
        password: str = _KEEP,
        userinfo: str | bytes = _KEEP,
        host: str = _KEEP,
        port: int | None = _KEEP,
        netloc: str | bytes = _KEEP,
        path: str = _KEEP,
        raw_path: str | bytes = _KEEP,
        query: str | bytes | None = _KEEP,
        fragment: str | None = _KEEP,
    ) -> None:
        if isinstance(url, URL):
            self._copy_from(url)
        else:
            if isinstance(url, bytes):
                try:
                    url = url.decode("ascii")
                except UnicodeDecodeError as exc:
                    raise InvalidURL(f"A URL given as bytes must be ASCII: {url!r}") from exc
            if not isinstance(url, str):
                raise TypeError(f"URL expects a str, bytes or URL, not {type(url).__name__}.")
            self._parse(url)
        components = {
            "scheme": scheme, "username": username, "password": password,
            "userinfo": userinfo, "host": host, "port": port, "netloc": netloc,
            "path": path, "raw_path": raw_path, "query": query, "fragment": fragment,
        }  # fmt: skip
        given = {name: value for name, value in components.items() if value is not _KEEP}
        if given:
            self._copy_from(self._replaced(**given))
        if params is not None:
            self._query = str(QueryParams(params)) or None
        if not allow_relative:
            if not self._scheme:
                raise InvalidURL(f"No scheme in URL {str(self)!r}: an absolute URL is needed.")
            if not self._host:
                raise InvalidURL(f"No host in URL {str(self)!r}: an absolute URL is needed.")
        # Set last: the components may have changed since a copy's were taken.
        self._raw = self._host_field = None

    def _copy_from(self, other: URL) -> None:
        for name in URL.__slots__:
            setattr(self, name, getattr(other, name))

    def _parse(self, url: str) -> None:
        # Leading and trailing C0 controls and spaces are never part of a URL
        # (WHATWG URL, "basic URL parser", step 1); users paste them in.
        url = url.strip(
            "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11"
            "\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "
        )
        match = URI_REFERENCE.match(url)
        assert match is not None  # the expression matches every string
        scheme, authority, path, query, fragment = match.groups()
        if scheme is not None and not SCHEME.match(scheme):
            raise InvalidURL(f"Invalid scheme {scheme!r} in URL {url!r}.")
        self._scheme = (scheme or "").lower()
        if authority is None:
            self._userinfo, self._host, self._port = "", None, None
        elif "\\" in authority:
            # RFC 3986 has no backslash in an authority; WHATWG reads one as a
            # path separator. Either reading sends the request somewhere else
            # than the other would: refuse rather than guess.
            raise InvalidURL(
                f"Invalid authority {authority!r} in URL {url!r}: it holds a backslash."
            )
        else:
            userinfo, host, port = split_authority(authority)
            self._userinfo = quote(userinfo, USERINFO_SAFE)
            self._host = encode_host(host)
            self._port = None if port == DEFAULT_PORTS.get(self._scheme) else port
        self._path = self._normalise_path(path)
        self._query = None if query is None else quote(query, QUERY_SAFE)
        self._fragment = None if fragment is None else quote(fragment, QUERY_SAFE)

    def _normalise_path(self, path: str) -> str:
        path = quote(path, PATH_SAFE)
        # Dot segments go only where they can be resolved: in an absolute path
        # (RFC 3986 section 6.2.2.3). A relative path keeps them for join().
        if self._scheme or self._host is not None or path.startswith("/"):
            path = remove_dot_segments(path)
        return path

    @classmethod
    def _from_parts(
        cls,
        scheme: str,
        userinfo: str,
        host: str | None,
        port: int | None,
        path: str,
        query: str | None,
        fragment: str | None,
    ) -> Self:
        """A URL from components that are already normalised."""
        url = cls.__new__(cls)
        url._scheme, url._userinfo, url._host, url._port = scheme, userinfo, host, port
        url._path, url._query, url._fragment = path, query, fragment
        url._raw = url._host_field = None
        return url

    # Components.

    @property
    def scheme(self) -> str:
        """The scheme, lower-cased: ``"https"``; ``""`` for a relative URL."""
        return self._scheme

    @property
    def userinfo(self) -> str:
        """``user:password`` as written in the URL (percent-encoded), or ``""``."""
        return self._userinfo

    @property
    def username(self) -> str:
        """The user name from the userinfo, percent-decoded."""
        return unquote(self._userinfo.partition(":")[0])

    @property
    def password(self) -> str:
        """The password from the userinfo, percent-decoded."""
        return unquote(self._userinfo.partition(":")[2])

    @property
    def host(self) -> str:
        """The host, IDNA-decoded to Unicode; an IPv6 address without brackets."""
        host = self._host or ""
        if "xn--" in host:
            try:
                return idna.decode(host)
            except idna.IDNAError:
                return host
        return host

    @property
    def raw_host(self) -> bytes:
        """The host as sent on the wire: ASCII bytes, IDNA-encoded, no brackets."""
        return (self._host or "").encode("ascii")

    @property
    def port(self) -> int | None:
        """The port, or ``None`` when the URL uses its scheme's default port."""
        return self._port

    @property
    def authority(self) -> str:
        """``[userinfo@]host[:port]`` (RFC 3986 section 3.2), encoded as on the wire."""
        if self._host is None:
            return ""
        host = f"[{self._host}]" if ":" in self._host else self._host
        userinfo = f"{self._userinfo}@" if self._userinfo else ""
        port = "" if self._port is None else f":{self._port}"
        return f"{userinfo}{host}{port}"

    @property
    def path(self) -> str:
        """The path, percent-encoded; ``"/"`` when a URL with a host has an empty path."""
        if not self._path and self._host is not None:
            return "/"
        return self._path

    @property
    def netloc(self) -> bytes:
        """``host[:port]`` as on the wire (httpx's ``netloc``: no userinfo)."""
        host = f"[{self._host}]" if self._host and ":" in self._host else self._host or ""
        port = "" if self._port is None else f":{self._port}"
        return f"{host}{port}".encode("ascii")

    @property
    def raw_path(self) -> bytes:
        """Path and query as ASCII bytes: the target of an origin-form request."""
        return self.full_path.encode("ascii")

    @property
    def query(self) -> str:
        """The query without its ``?``, percent-encoded; ``""`` when there is none."""
        return self._query or ""

    @property
    def fragment(self) -> str:
        """The fragment without its ``#``; ``""`` when there is none."""
        return self._fragment or ""

    @property
    def full_path(self) -> str:
        """Path and query: the request target of an origin-form request (RFC 9112 3.2.1)."""
        return self.path if self._query is None else f"{self.path}?{self._query}"

    @property
    def params(self) -> QueryParams:
        """The query, parsed."""
        return QueryParams(self.query)

    @property
    def is_ssl(self) -> bool:
        """Whether the scheme asks for TLS."""
        return self._scheme in ("https", "wss")

    @property
    def is_absolute_url(self) -> bool:
        """Whether the URL has a scheme and a host, so it can be requested."""
        return bool(self._scheme and self._host)

    @property
    def is_relative_url(self) -> bool:
        """Whether the URL lacks a scheme or host, so needs a base to be requested."""
        return not self.is_absolute_url

    @property
    def origin(self) -> Origin:
        """The origin: scheme, host and port, with the default port filled in."""
        return Origin(self)

    @property
    def raw(self) -> URL4:
        """``(scheme, host, port, target)`` as the transport layer takes it."""
        raw = self._raw
        if raw is None:
            raw = self._raw = (
                self._scheme.encode("ascii"),
                self.raw_host,
                self._port,
                self.full_path.encode("ascii"),
            )
        return raw

    @property
    def host_field(self) -> bytes:
        """The ``Host`` field for this URL (RFC 9110 section 7.2): host, and port if not
        the scheme's default; an IPv6 address in brackets."""
        field = self._host_field
        if field is None:
            host = self.raw_host
            if b":" in host:
                host = b"[" + host + b"]"
            field = self._host_field = host if self._port is None else b"%s:%d" % (host, self._port)
        return field

    # Derived URLs.

    def copy_with(
        self,
        *,
        scheme: str = _KEEP,
        username: str = _KEEP,
        password: str = _KEEP,
        userinfo: str | bytes = _KEEP,
        host: str = _KEEP,
        port: int | None = _KEEP,
        netloc: str | bytes = _KEEP,
        authority: str = _KEEP,
        path: str = _KEEP,
        raw_path: str | bytes = _KEEP,
        query: str | bytes | None = _KEEP,
        fragment: str | None = _KEEP,
        params: QueryParamTypes | None = _KEEP,
    ) -> URL:
        """A copy with some components replaced, each checked and normalised on its own.

        A component holds only what that component may hold: ``"?"`` in a
        path is encoded, a ``"/"`` in a host is refused (:class:`InvalidURL`).
        ``netloc`` is ``host[:port]`` (``authority``, the seed's name, may
        hold userinfo too); ``raw_path`` is path and query; ``params``
        replaces the query.
        """
        if authority is not _KEEP:
            netloc = authority
        components = {
            "scheme": scheme, "username": username, "password": password,
            "userinfo": userinfo, "host": host, "port": port, "netloc": netloc,
            "path": path, "raw_path": raw_path, "query": query, "fragment": fragment,
        }  # fmt: skip
        url = self._replaced(**{k: v for k, v in components.items() if v is not _KEEP})
        if params is not _KEEP:
            url = url._with_query(str(QueryParams(params)) or None)
        return url

    def _replaced(self, **given: Any) -> URL:
        """This URL with the components in ``given`` replaced (see :meth:`copy_with`)."""
        scheme = self._scheme
        if "scheme" in given:
            scheme = scheme_component(text_component(given["scheme"], "scheme"))
        userinfo, host, port = self._userinfo, self._host, self._port
        if "netloc" in given:
            userinfo, host, port = authority_component(text_component(given["netloc"], "netloc"))
        if "userinfo" in given:
            userinfo = quote(text_component(given["userinfo"], "userinfo"), USERINFO_SAFE)
        if "username" in given or "password" in given:
            name = quote(given.get("username", self.username), UNRESERVED | SUB_DELIMS)
            secret = quote(given.get("password", self.password), USERINFO_SAFE)
            userinfo = f"{name}:{secret}" if secret else name
        if "host" in given:
            host = None if given["host"] is None else host_component(given["host"])
        if "port" in given:
            port = port_component(given["port"])
        if port is not None and port == DEFAULT_PORTS.get(scheme):
            port = None
        path, query, fragment = self._path, self._query, self._fragment
        if "raw_path" in given:
            raw_path = text_component(given["raw_path"], "raw_path")
            path, mark, rest = raw_path.partition("?")
            query = quote(rest, QUERY_SAFE) if mark else None
        if "path" in given:
            path = text_component(given["path"], "path")
        if "query" in given and given["query"] is not None:
            query = quote(text_component(given["query"], "query"), QUERY_SAFE)
        elif "query" in given:
            query = None
        if "fragment" in given:
            fragment = None if given["fragment"] is None else quote(given["fragment"], QUERY_SAFE)
        path = quote(path, PATH_SAFE)
        if host is not None and path and not path.startswith("/"):
            # After an authority the path is absolute or empty (RFC 3986 section 3.3).
            path = "/" + path
        if scheme or host is not None or path.startswith("/"):
            path = remove_dot_segments(path)
        return self._from_parts(scheme, userinfo, host, port, path, query, fragment)

    def copy_merge_params(self, params: QueryParamTypes) -> URL:
        """A copy whose query is :meth:`QueryParams.merge` of its own and ``params``."""
        return self._with_params(self.params.merge(params))

    def copy_set_param(self, key: str, value: PrimitiveData = None) -> URL:
        """A copy where ``key`` has the single value ``value``."""
        return self._with_params(self.params.set(key, value))

    def copy_add_param(self, key: str, value: PrimitiveData = None) -> URL:
        """A copy with one more value for ``key``."""
        return self._with_params(self.params.add(key, value))

    def copy_remove_param(self, key: str) -> URL:
        """A copy without the parameter ``key``."""
        return self._with_params(self.params.remove(key))

    def _with_params(self, params: QueryParams) -> URL:
        return self._with_query(str(params) or None)

    def _with_query(self, query: str | None) -> URL:
        return self._from_parts(
            self._scheme, self._userinfo, self._host, self._port, self._path, query, self._fragment
        )

    def join(self, url: URL | str) -> URL:
        """Resolve ``url`` against this URL as its base (RFC 3986 section 5.2.2, strict).

        ``URL("http://a/b/c/d;p?q").join("../g")`` is ``URL("http://a/b/g")``.
        """
        ref = url if isinstance(url, URL) else URL(url, allow_relative=True)
        if ref._scheme:
            return ref._with_path(remove_dot_segments(ref._path))
        if ref._host is not None:
            return self._from_parts(
                self._scheme, ref._userinfo, ref._host, ref._port,
                remove_dot_segments(ref._path), ref._query, ref._fragment,
            )  # fmt: skip
        if not ref._path:
            path = self._path
            query = ref._query if ref._query is not None else self._query
        else:
            query = ref._query
            if ref._path.startswith("/"):
                path = remove_dot_segments(ref._path)
            else:
                path = remove_dot_segments(self._merge(ref._path))
        return self._from_parts(
            self._scheme, self._userinfo, self._host, self._port, path, query, ref._fragment
        )

    resolve_with = join

    def _merge(self, path: str) -> str:
        """Append a relative path to this URL's path (RFC 3986 section 5.2.3)."""
        if self._host is not None and not self._path:
            return "/" + path
        return self._path[: self._path.rfind("/") + 1] + path

    def _with_path(self, path: str) -> URL:
        return self._from_parts(
            self._scheme, self._userinfo, self._host, self._port, path, self._query, self._fragment
        )

    # Dunder methods.

    def __str__(self) -> str:
        """The URL, recomposed (RFC 3986 section 5.3)."""
        text = f"{self._scheme}:" if self._scheme else ""
        if self._host is not None:
            text += f"//{self.authority}"
        text += self._path
        if self._query is not None:
            text += f"?{self._query}"
        if self._fragment is not None:
            text += f"#{self._fragment}"
        return text

    def __repr__(self) -> str:
        text = str(self)
        if ":" in self._userinfo:
            # Keep a password out of logs and tracebacks.
            text = str(self.copy_with(password="[secure]")).replace("%5Bsecure%5D", "[secure]")
        return f"{type(self).__name__}({text!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = URL(other, allow_relative=True)
            except InvalidURL:
                return False
        return isinstance(other, URL) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


class RequestURLs:
    """Request URLs resolved against a client's base URL, each string parsed once.

    A relative path extends the base URL's path even when it starts with
    ``/``: with ``base_url="https://api.example/v1"``, ``"/users"`` is
    ``https://api.example/v1/users``. A client mostly requests a few URLs
    again and again, and URLs are immutable: one resolved URL serves every
    request that gives the same string.
    """

    # How many request URLs (as given) are kept resolved; the cache empties when full.
    CACHE_SIZE = 256

    def __init__(self, base_url: URL | str | None) -> None:
        self._resolved: dict[str, URL] = {}
        self.base_url: URL | None = None
        """The base of relative request URLs; its path always ends with ``/``."""
        if base_url is not None:
            url = URL(base_url)
            self.base_url = url if url.path.endswith("/") else url.copy_with(path=url.path + "/")

    def resolve(self, url: URL | str) -> URL:
        """``url``, resolved against :attr:`base_url` when it is relative."""
        if type(url) is not str:
            return self._join(url)
        resolved = self._resolved.get(url)
        if resolved is None:
            resolved = self._join(url)
            if len(self._resolved) >= self.CACHE_SIZE:
                # Emptied rather than trimmed: clear() is one step even with the blocking
                # Client's build_request() running in another thread.
                self._resolved.clear()
            self._resolved[url] = resolved
        return resolved

    def _join(self, url: URL | str) -> URL:
        merged = URL(url, allow_relative=True)
        if self.base_url is None or merged.is_absolute_url:
            return merged
        if not merged.raw_host and merged.path.startswith("/"):
            # The path as it is, never parsed again: "documents:batchGet" would read
            # as a URL with the scheme "documents".
            merged = merged._with_path(merged.path.lstrip("/"))
        return self.base_url.join(merged)


class Origin:
    """The scheme, host and port of a URL (RFC 6454), with the default port filled in.

    Two URLs share an origin when these three agree:
    ``Origin("https://example.org") == Origin("HTTPS://EXAMPLE.ORG:443")``.
    """

    __slots__ = ("host", "port", "scheme")

    def __init__(self, url: URL | str) -> None:
        url = url if isinstance(url, URL) else URL(url)
        self.scheme: str = url.scheme
        self.host: str = url.raw_host.decode("ascii")
        port = url.port if url.port is not None else DEFAULT_PORTS.get(url.scheme)
        if port is None:
            raise InvalidURL(f"No port in URL {str(url)!r} and no default for {url.scheme!r}.")
        self.port: int = port

    @property
    def is_ssl(self) -> bool:
        """Whether the scheme asks for TLS."""
        return self.scheme in ("https", "wss")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Origin):
            return NotImplemented
        return (self.scheme, self.host, self.port) == (other.scheme, other.host, other.port)

    def __hash__(self) -> int:
        return hash((self.scheme, self.host, self.port))

    def __repr__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"Origin('{self.scheme}://{host}:{self.port}')"
