"""SOCKS5 proxies (RFC 1928), with optional username/password login (RFC 1929).

The proxy is asked to connect to the origin by name, so the proxy resolves
it and the client never does (``socks5h`` behaviour, for both ``socks5``
and ``socks5h`` URLs). The messages are built and read by the sans-IO
``socksio`` library (the ``socks`` extra); this module only moves bytes and
turns every refusal into :class:`ProxyError`.
"""

from __future__ import annotations

import enum
import ssl
from typing import TYPE_CHECKING

import trio

from .._exceptions import ExceptionMapping, ProxyError, UnsupportedProtocol, map_exceptions
from .._http import close_now
from .._transport import AsyncConnectionPool, AsyncHTTPConnection
from .._types import URL4, Extensions, Origin
from ._http import connect_target, open_proxy_stream, proxy_text

if TYPE_CHECKING:
    from socksio import socks5

SOCKS_SCHEMES = (b"socks5", b"socks5h")
DEFAULT_SOCKS_PORT = 1080

# RFC 1928 section 6: a reply is VER REP RSV ATYP BND.ADDR BND.PORT. These
# are the bytes after the first five (through the first byte of BND.ADDR),
# by ATYP; a domain name's length is that first byte.
_REPLY_HEAD = 5
_REPLY_REST_BY_ATYPE = {1: 4 - 1 + 2, 4: 16 - 1 + 2}


def _import_socksio() -> None:
    """Fail early, and clearly, when the ``socks`` extra is not installed."""
    try:
        import socksio  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "SOCKS proxies need the socksio package: pip install 'trio_httpcore[socks]'"
        ) from exc


def _name(member: enum.Enum) -> str:
    """``"connection refused"`` for ``SOCKS5ReplyCode.CONNECTION_REFUSED``."""
    return member.name.lower().replace("_", " ")


def _describe(code: socks5.SOCKS5ReplyCode) -> str:
    """``"connection refused (0x05)"`` for a SOCKS5 reply code (RFC 1928 section 6)."""
    return f"{_name(code)} (0x{code[0]:02x})"


async def _receive_exactly(stream: trio.abc.Stream, size: int, proxy: str) -> bytes:
    """Exactly ``size`` bytes: never more, so nothing after the handshake is read."""
    data = b""
    while len(data) < size:
        chunk = await stream.receive_some(size - len(data))
        if not chunk:
            raise ProxyError(f"{proxy} closed the connection during the SOCKS5 handshake")
        data += chunk
    return data


async def socks5_handshake(
    stream: trio.abc.Stream,
    origin: Origin,
    auth: tuple[bytes, bytes] | None,
    proxy: str,
) -> None:
    """Open a SOCKS5 tunnel on ``stream`` to ``origin``'s host and port.

    Method negotiation (RFC 1928 section 3), the username/password login if
    ``auth`` is given (RFC 1929 section 2), then CONNECT (RFC 1928 section 4)
    with the host as a domain name, or as an address when it is an IP
    literal. Every refusal raises :class:`ProxyError` naming the reply.
    """
    from socksio import SOCKSError, socks5

    connection = socks5.SOCKS5Connection()
    # A malformed reply, or the proxy dropping the connection, fails the handshake.
    errors: ExceptionMapping = {
        SOCKSError: ProxyError,
        OSError: ProxyError,
        trio.BrokenResourceError: ProxyError,
    }
    with map_exceptions(errors, proxy, "the SOCKS5 handshake with"):
        method = (
            socks5.SOCKS5AuthMethod.NO_AUTH_REQUIRED
            if auth is None
            else socks5.SOCKS5AuthMethod.USERNAME_PASSWORD
        )
        connection.send(socks5.SOCKS5AuthMethodsRequest([method]))
        await stream.send_all(connection.data_to_send())
        chosen = connection.receive_data(await _receive_exactly(stream, 2, proxy))
        assert isinstance(chosen, socks5.SOCKS5AuthReply)
        if chosen.method != method:
            raise ProxyError(
                f"{proxy} refused the SOCKS5 handshake: asked for "
                f"{_name(method)}, it answered {_name(chosen.method)}"
            )
        if auth is not None:
            await _login(connection, stream, auth, proxy)
        await _connect(connection, stream, origin, proxy)


async def _login(
    connection: socks5.SOCKS5Connection,
    stream: trio.abc.Stream,
    auth: tuple[bytes, bytes],
    proxy: str,
) -> None:
    from socksio import socks5

    connection.send(socks5.SOCKS5UsernamePasswordRequest(*auth))
    await stream.send_all(connection.data_to_send())
    reply = connection.receive_data(await _receive_exactly(stream, 2, proxy))
    assert isinstance(reply, socks5.SOCKS5UsernamePasswordReply)
    if not reply.success:
        raise ProxyError(f"{proxy} refused the SOCKS5 login for user {auth[0]!r}")


async def _connect(
    connection: socks5.SOCKS5Connection, stream: trio.abc.Stream, origin: Origin, proxy: str
) -> None:
    from socksio import socks5

    _, host, port = origin
    target = connect_target(origin).decode("ascii")
    connection.send(
        socks5.SOCKS5CommandRequest.from_address(
            socks5.SOCKS5Command.CONNECT, (host.strip(b"[]"), port)
        )
    )
    await stream.send_all(connection.data_to_send())
    head = await _receive_exactly(stream, _REPLY_HEAD, proxy)
    rest = _REPLY_REST_BY_ATYPE.get(head[3], head[4] + 2)
    reply = connection.receive_data(head + await _receive_exactly(stream, rest, proxy))
    assert isinstance(reply, socks5.SOCKS5Reply)
    if reply.reply_code != socks5.SOCKS5ReplyCode.SUCCEEDED:
        raise ProxyError(f"{proxy} could not connect to {target}: {_describe(reply.reply_code)}")


class AsyncSOCKSProxy(AsyncConnectionPool):
    """A connection pool whose connections go through a SOCKS5 proxy.

    Each connection opens a TCP stream to the proxy and has it connect to the
    origin by name (remote DNS); then TLS for ``https`` origins and HTTP/1.1
    or HTTP/2 run over it as over a direct connection. Connections are pooled
    per origin. ``proxy_auth=(username, password)`` logs in (RFC 1929).
    Needs the ``socks`` extra (``socksio``).
    """

    def __init__(
        self,
        proxy_url: URL4,
        proxy_auth: tuple[bytes, bytes] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int | None = None,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = None,
        http1: bool = True,
        http2: bool = False,
        backend: str = "trio",
    ) -> None:
        scheme, host, port, _ = proxy_url
        if scheme not in SOCKS_SCHEMES:
            raise UnsupportedProtocol(
                f"unsupported proxy URL scheme {scheme.decode('ascii', 'replace')!r}: "
                "AsyncSOCKSProxy takes 'socks5' or 'socks5h' (HTTP proxies are AsyncHTTPProxy)"
            )
        if proxy_auth is not None and not all(0 < len(part) < 256 for part in proxy_auth):
            raise ValueError("SOCKS5 username and password must be 1 to 255 bytes (RFC 1929)")
        _import_socksio()
        super().__init__(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_expiry,
            http1=http1,
            http2=http2,
            backend=backend,
        )
        self._proxy = (scheme, host.lower(), DEFAULT_SOCKS_PORT if port is None else port)
        self._proxy_text = proxy_text(self._proxy)
        self._proxy_auth = proxy_auth
        self._opener = self._open_via_socks

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._proxy_text}>"

    async def _open_via_socks(
        self, connection: AsyncHTTPConnection, ext: Extensions
    ) -> trio.abc.Stream:
        """The pool's opener: a stream to the proxy, tunnelled to the connection's origin."""
        stream = await open_proxy_stream(
            self._proxy, self._options.ssl_context, self._options.local_address
        )
        try:
            await socks5_handshake(stream, connection.origin, self._proxy_auth, self._proxy_text)
        except BaseException:
            close_now(stream)
            raise
        return stream
