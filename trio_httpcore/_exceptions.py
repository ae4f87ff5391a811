"""The exception hierarchy, and the one place that maps other libraries' errors onto it.

Every boundary that calls into h11, h2, ssl, the socket layer or trio does so
inside :func:`map_exceptions`, so a user only ever sees an :class:`HTTPError`,
with the original error as ``__cause__`` and a message naming the origin.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator, Mapping
from typing import Any

import h2.exceptions
import h11
import trio


class HTTPError(Exception):
    """Base class of every error this library raises."""


class RequestError(HTTPError):
    """An error while sending a request; :attr:`request` is the request a client sent.

    The base of every error a request can end in: transport errors, a body
    that can't be decoded, too many redirects.
    """

    def __init__(self, message: str = "", *, request: Any = None) -> None:
        super().__init__(message)
        self._request = request

    @property
    def request(self) -> Any:
        """The :class:`~trio_httpcore.Request` being sent when the error happened."""
        if self._request is None:
            raise RuntimeError(f"This {type(self).__name__} was raised outside a client request.")
        return self._request

    @request.setter
    def request(self, request: Any) -> None:
        self._request = request


class TransportError(RequestError):
    """Something went wrong below the HTTP message: network, protocol, timeout or proxy."""


class TimeoutException(TransportError):
    """A phase of the request took longer than its timeout allowed."""


class ConnectTimeout(TimeoutException):
    """TCP connect, the proxy step and the TLS handshake did not finish in time."""


class ReadTimeout(TimeoutException):
    """No data arrived from the server within the read timeout."""


class WriteTimeout(TimeoutException):
    """The request could not be written within the write timeout."""


class PoolTimeout(TimeoutException):
    """No connection of the pool became free within the pool timeout."""


class NetworkError(TransportError):
    """The network failed: refused, reset, unreachable, unknown host."""


class ConnectError(NetworkError):
    """The connection could not be established (TCP, proxy step or TLS handshake)."""


class ReadError(NetworkError):
    """Reading from an established connection failed."""


class WriteError(NetworkError):
    """Writing to an established connection failed."""


class CloseError(NetworkError):
    """Closing a connection failed."""


class ProtocolError(TransportError):
    """One side broke the rules of HTTP."""


class RemoteProtocolError(ProtocolError):
    """The server broke the rules of HTTP, or closed before a complete response."""


class LocalProtocolError(ProtocolError):
    """The request would break the rules of HTTP; nothing of it was sent."""


class UnsupportedProtocol(TransportError):
    """The URL's scheme is not ``http`` or ``https``, or the protocol can't be spoken."""


class ProxyError(TransportError):
    """The proxy refused or failed to forward the request.

    ``status_code`` and ``reason`` hold the proxy's answer to CONNECT; both are
    ``None`` when the failure was not an HTTP status (a SOCKS reply, say).
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.reason = reason


ExceptionMapping = Mapping[type[BaseException], type[HTTPError]]


def _describe(exc: BaseException) -> str:
    """A one-line account of ``exc``, reaching through trio's wrappers to the cause."""
    cause = exc.__cause__
    if isinstance(exc, trio.BrokenResourceError) and cause is not None:
        exc = cause
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextlib.contextmanager
def map_exceptions(mapping: ExceptionMapping, origin: str, doing: str) -> Iterator[None]:
    """Translate a dependency's exception into ours: ``raise Mapped(msg) from exc``.

    ``mapping`` is looked up in order, the first class that ``exc`` is an instance
    of wins. ``doing`` and ``origin`` name what failed and where, e.g. ``"reading
    the response"`` and ``"https://example.org:443"``. Our own errors, and
    anything not in the mapping (``trio.Cancelled`` above all), pass unchanged.
    """
    try:
        yield
    except HTTPError:
        raise
    except Exception as exc:
        for source, target in mapping.items():
            if isinstance(exc, source):
                what = _TIMEOUT_NAMES.get(target) or _describe(exc)
                raise target(f"{doing} {origin}: {what}") from exc
        raise


_TIMEOUT_NAMES: dict[type[HTTPError], str] = {
    ConnectTimeout: "the connect timeout expired",
    ReadTimeout: "the read timeout expired",
    WriteTimeout: "the write timeout expired",
}

# The mappings each phase of a request uses. Order matters: the first match wins.
CONNECT_ERRORS: ExceptionMapping = {
    trio.TooSlowError: ConnectTimeout,
    OSError: ConnectError,
    trio.BrokenResourceError: ConnectError,
    trio.ClosedResourceError: ConnectError,
}
READ_ERRORS: ExceptionMapping = {
    trio.TooSlowError: ReadTimeout,
    h11.RemoteProtocolError: RemoteProtocolError,
    h2.exceptions.ProtocolError: RemoteProtocolError,
    OSError: ReadError,
    trio.BrokenResourceError: ReadError,
    trio.ClosedResourceError: ReadError,
}
WRITE_ERRORS: ExceptionMapping = {
    trio.TooSlowError: WriteTimeout,
    h11.LocalProtocolError: LocalProtocolError,
    h2.exceptions.ProtocolError: LocalProtocolError,
    OSError: WriteError,
    trio.BrokenResourceError: WriteError,
    trio.ClosedResourceError: WriteError,
}


# The client layer's errors: requests, responses and their bodies.


class InvalidURL(HTTPError):
    """A URL could not be parsed or is not usable; the message gives the reason."""


class TooManyRedirects(RequestError):
    """More redirects than ``max_redirects`` were followed."""


class RedirectBodyUnavailable(RequestError):
    """A 307/308 redirect needs the request body again, but it was a one-shot stream."""


class HTTPStatusError(HTTPError):
    """``raise_for_status()`` found a 4xx or 5xx response; ``.request``, ``.response``."""

    def __init__(self, message: str, *, request: Any, response: Any) -> None:
        super().__init__(message)
        self.request = request
        self.response = response


class DecodingError(RemoteProtocolError):
    """The body could not be decoded with its ``Content-Encoding``."""


class StreamConsumed(HTTPError):
    """The body was already iterated; it can't be iterated again."""


class ResponseNotRead(HTTPError):
    """``content`` or ``text`` was asked for before the streamed body was read."""


class ResponseClosed(HTTPError):
    """The body was read after the response was closed."""


class CookieConflict(HTTPError):
    """``Cookies.get(name)`` found several cookies of that name and nothing to choose by."""
