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

import functools
import ipaddress
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import idna

from .._exceptions import InvalidURL
from .._types import URL4, a_label_error
from ._queryparams import QueryParams, QueryParamTypes

if TYPE_CHECKING:
    from typing_extensions import Self

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# RFC 3986 appendix B: the regular expression that splits any URI reference.
_URI_REFERENCE = re.compile(
    r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.S
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")
_PERCENT_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")

# RFC 3986 section 2.2 and 2.3.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = frozenset("!$&'()*+,;=")
# What each component may hold unescaped (section 3.2.1, 3.3, 3.4, 3.5), besides "%XX".
_USERINFO_SAFE = _UNRESERVED | _SUB_DELIMS | {":"}
_PATH_SAFE = _UNRESERVED | _SUB_DELIMS | {":", "@", "/"}
_QUERY_SAFE = _PATH_SAFE | {"?"}
# A reg-name (section 3.2.2) may hold unreserved, sub-delims and escapes; we
# decode escapes before IDNA, so only these remain legal in the encoded host.
_HOST_SAFE = _UNRESERVED | _SUB_DELIMS


def _fix_escape(match: re.Match[str]) -> str:
    """One ``%XX``: decoded when it stands for an unreserved character, else upper-cased."""
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else match.group(0).upper()


@functools.cache
def _only(safe: frozenset[str]) -> Callable[[str], re.Match[str] | None]:
    """``fullmatch`` of a text made of ``safe`` characters only (no ``%`` in any set)."""
    return re.compile("[" + "".join(re.escape(char) for char in sorted(safe)) + "]*").fullmatch


def quote(text: str, safe: frozenset[str]) -> str:
    """Percent-encode (UTF-8) each character of ``text`` that is not in ``safe``.

    Valid ``%XX`` escapes are kept and normalised (RFC 3986 section 6.2.2.1
    and 6.2.2.2); a ``%`` that starts no escape is encoded as ``%25``.
    """
    # Most components need nothing done: one regular-expression match tells, where
    # the character loop of quote_chars() costs a step per character.
    if _only(safe)(text):
        return text
    return quote_chars(text, safe)


def quote_chars(text: str, safe: frozenset[str]) -> str:
    """:func:`quote`, one character at a time."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        escape = _PERCENT_ESCAPE.match(text, i) if char == "%" else None
        if escape is not None:
            out.append(_fix_escape(escape))
            i += 3
            continue
        if char in safe:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(out)


def remove_dot_segments(path: str) -> str:
    """Resolve ``.`` and ``..`` segments of ``path`` (RFC 3986 section 5.2.4, step by step)."""
    if "." not in path:
        return path
    output: list[str] = []
    while path:
        if path.startswith("../"):
            path = path[3:]
        elif path.startswith(("./", "/./")):
            path = path[2:]
        elif path == "/.":
            path = "/"
        elif path.startswith("/../") or path == "/..":
            path = "/" + path[4:]
            if output:
                output.pop()
        elif path in (".", ".."):
            path = ""
        else:
            end = path.find("/", 1)
            end = len(path) if end < 0 else end
            output.append(path[:end])
            path = path[end:]
    return "".join(output)


def _ipv6_text(address: ipaddress.IPv6Address) -> str:
    """RFC 5952 section 4 text: lower-case hex groups, the longest run of zero groups as "::".

    Written out here because Python 3.13 began to print IPv4-mapped addresses
    with a dotted tail (``::ffff:1.2.3.4``): a URL must not change with the
    interpreter.
    """
    value = int(address)
    groups = [f"{(value >> shift) & 0xFFFF:x}" for shift in range(112, -1, -16)]
    best_start, best_length = -1, 1  # a single zero group is not shortened
    start = 0
    while start < len(groups):
        end = start
        while end < len(groups) and groups[end] == "0":
            end += 1
        if end - start > best_length:
            best_start, best_length = start, end - start
        start = max(end, start + 1)
    text = ":".join(groups)
    if best_start >= 0:
        head = ":".join(groups[:best_start])
        tail = ":".join(groups[best_start + best_length :])
        text = f"{head}::{tail}"
    return text if address.scope_id is None else f"{text}%{address.scope_id}"


def _encode_host(host: str) -> str:
    """The normalised ASCII form of a host: an IP literal, or an IDNA-encoded name."""
    if host.startswith("["):
        if not host.endswith("]"):
            raise InvalidURL(f"Invalid IPv6 address: {host!r} lacks its closing bracket.")
        literal = host[1:-1]
        try:
            return _ipv6_text(ipaddress.IPv6Address(literal))
        except ValueError as exc:
            raise InvalidURL(f"Invalid IPv6 address {literal!r}: {exc}") from exc
    if "%" in host:
        try:
            host = unquote(host, errors="strict")
        except UnicodeDecodeError as exc:
            raise InvalidURL(f"Invalid host {host!r}: its escapes are not UTF-8.") from exc
    if host.isascii():
        host = host.lower()
        if not all(char in _HOST_SAFE for char in host):
            raise InvalidURL(f"Invalid host {host!r}: it holds a character a host may not have.")
        if "xn--" in host and (error := a_label_error(host)) is not None:
            raise InvalidURL(f"Invalid host {host!r}: {error}.")
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidURL(f"Invalid IDNA host name {host!r}: {exc}") from exc


def _split_authority(authority: str) -> tuple[str, str, int | None]:
    """``userinfo``, ``host`` and ``port`` of an authority (RFC 3986 section 3.2)."""
    userinfo, _, hostport = authority.rpartition("@")
    if hostport.startswith("["):
        end = hostport.find("]")
        host, rest = (hostport, "") if end < 0 else (hostport[: end + 1], hostport[end + 1 :])
        if rest and not rest.startswith(":"):
            raise InvalidURL(f"Invalid authority {authority!r}: junk after the IPv6 address.")
        port_text = rest[1:]
    else:
        host, _, port_text = hostport.partition(":")
    port: int | None = None
    if port_text:
        if not port_text.isdigit() or not port_text.isascii() or int(port_text) > 65535:
            raise InvalidURL(f"Invalid port {port_text!r}: it must be a number 0-65535.")
        port = int(port_text)
    return userinfo, host, port


class URL:
    """A normalised URL: ``URL("https://example.org/path?q=1")``.

    ``params`` replaces the query. A URL with no scheme or no host raises
    :class:`~trio_httpcore.InvalidURL` unless ``allow_relative=True``.
    Components are ``str`` and stay percent-encoded, except ``username``,
    ``password`` and ``host``, which are decoded; ``port`` is ``None`` for
    the scheme's default port.
    """

    __slots__ = ("_fragment", "_host", "_path", "_port", "_query", "_scheme", "_userinfo")

    _scheme: str
    _userinfo: str
    _host: str | None
    _port: int | None
    _path: str
    _query: str | None
    _fragment: str | None

    def __init__(
        self,
        url: URL | str | bytes = "",
        params: QueryParamTypes | None = None,
        allow_relative: bool = False,
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
        if params is not None:
            self._query = str(QueryParams(params)) or None
        if not allow_relative:
            if not self._scheme:
                raise InvalidURL(f"No scheme in URL {str(self)!r}: an absolute URL is needed.")
            if not self._host:
                raise InvalidURL(f"No host in URL {str(self)!r}: an absolute URL is needed.")

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
        match = _URI_REFERENCE.match(url)
        assert match is not None  # the expression matches every string
        scheme, authority, path, query, fragment = match.groups()
        if scheme is not None and not _SCHEME.match(scheme):
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
            userinfo, host, port = _split_authority(authority)
            self._userinfo = quote(userinfo, _USERINFO_SAFE)
            self._host = _encode_host(host)
            self._port = None if port == DEFAULT_PORTS.get(self._scheme) else port
        self._path = self._normalise_path(path)
        self._query = None if query is None else quote(query, _QUERY_SAFE)
        self._fragment = None if fragment is None else quote(fragment, _QUERY_SAFE)

    def _normalise_path(self, path: str) -> str:
        path = quote(path, _PATH_SAFE)
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
        return (
            self._scheme.encode("ascii"),
            self.raw_host,
            self._port,
            self.full_path.encode("ascii"),
        )

    # Derived URLs.

    def copy_with(self, **kwargs: Any) -> URL:
        """A copy with some components replaced.

        Accepts ``scheme``, ``userinfo``, ``username``, ``password``, ``host``,
        ``port``, ``authority``, ``path``, ``query``, ``fragment`` and
        ``params``; the result is normalised like any URL.
        """
        allowed = {
            "scheme", "userinfo", "username", "password", "host", "port",
            "authority", "path", "query", "fragment", "params",
        }  # fmt: skip
        unknown = set(kwargs) - allowed
        if unknown:
            raise TypeError(f"copy_with() got unexpected arguments: {', '.join(sorted(unknown))}")
        scheme = kwargs.get("scheme", self._scheme)
        userinfo = kwargs.get("userinfo", self._userinfo)
        if "username" in kwargs or "password" in kwargs:
            username = quote(kwargs.get("username", self.username), _UNRESERVED | _SUB_DELIMS)
            password = quote(kwargs.get("password", self.password), _USERINFO_SAFE)
            userinfo = f"{username}:{password}" if password else username
        host = kwargs.get("host", self.host if self._host is not None else None)
        port = kwargs.get("port", self._port)
        if "authority" in kwargs:
            authority: str | None = kwargs["authority"]
        elif host is None:
            authority = None
        else:
            shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
            authority = f"{userinfo}@{shown}" if userinfo else shown
            if port is not None:
                authority += f":{port}"
        path = kwargs.get("path", self._path)
        if authority is not None and path and not path.startswith("/"):
            # After an authority the path is absolute or empty (RFC 3986 section 3.3).
            path = "/" + path
        query = kwargs.get("query", self._query)
        fragment = kwargs.get("fragment", self._fragment)
        text = f"{scheme}:" if scheme else ""
        if authority is not None:
            text += f"//{authority}"
        text += path.replace("?", "%3F").replace("#", "%23")
        if query is not None:
            text += f"?{query.replace('#', '%23')}"
        if fragment is not None:
            text += f"#{fragment}"
        return URL(text, params=kwargs.get("params"), allow_relative=True)

    def copy_merge_params(self, params: QueryParamTypes) -> URL:
        """A copy whose query has ``params`` appended to the parameters it has."""
        merged = self.params.merge(params)
        return self._with_query(str(merged) or None)

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
            merged = merged.copy_with(path=merged.path.lstrip("/"))
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
