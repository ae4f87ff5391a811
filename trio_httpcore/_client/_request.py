"""``Request``: the message a client sends; its body is built from the request arguments.

The body comes from exactly one of ``content``, ``data``, ``files``, ``json``
or a ready ``stream``, and is checked when the request is built: a wrong
type fails here, before any byte leaves.
"""

from __future__ import annotations

from typing import Any

from .._exceptions import LocalProtocolError
from .._streams import PlainByteStream, SyncByteStream, as_async_stream
from .._types import Extensions
from ._content import ByteStream, RequestContent, RequestData, encode_request
from ._headers import Headers, HeaderTypes
from ._multipart import boundary_of
from ._queryparams import QueryParamTypes
from ._urls import URL

# Methods whose requests carry a body by convention: without one they say
# "Content-Length: 0", as some servers insist (411 Length Required).
_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class Request:
    """An HTTP request: method, URL, headers and an optional body stream.

    The body comes from one of ``content`` (bytes, str or an iterator of
    bytes), ``data`` (a form) or ``json``, or a ready ``stream``. ``Host``
    is filled in from the URL, and the body's ``Content-Length`` and
    ``Content-Type`` unless the headers already say.
    """

    def __init__(
        self,
        method: str | bytes,
        url: URL | str,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        content: RequestContent | None = None,
        data: RequestData | RequestContent | None = None,
        files: Any = None,
        json: Any = None,
        stream: ByteStream | None = None,
        extensions: Extensions | None = None,
    ) -> None:
        if isinstance(method, bytes):
            method = method.decode("latin-1")
        if not method.isascii():
            raise LocalProtocolError(f"invalid request method {method!r}: not an HTTP token")
        self.method: str = method.upper()
        if params is None and type(url) is URL and url.is_absolute_url:
            # Shared, not copied: a URL is immutable (the client hands over cached ones).
            self.url: URL = url
        else:
            self.url = URL(url) if params is None else URL(url).copy_merge_params(params)
        self.headers: Headers = Headers(headers)
        if not self.headers._has(b"host") and self.url.raw_host:
            # First, where RFC 9110 section 7.2 wants it for HTTP/1.1.
            self.headers._prepend(b"Host", self.url.host_field)
        if stream is None:
            boundary = boundary_of(self.headers.get("content-type")) if files else None
            body_headers, stream = encode_request(content, data, files, json, boundary)
            for name, value in body_headers.items():
                self.headers.setdefault(name, value)
        if stream is None and self.method in _METHODS_WITH_BODY:
            self.headers.setdefault("Content-Length", "0")
        self.stream: ByteStream | None = stream
        self.ext: Extensions = {} if extensions is None else dict(extensions)
        """Extensions for the transport, e.g. ``"timeout"`` (docs/transport.rst)."""

    @property
    def extensions(self) -> Extensions:
        """httpx's name of :attr:`ext`."""
        return self.ext

    @property
    def content(self) -> bytes:
        """The body, when it is held in memory (always so after :meth:`read`)."""
        if self.stream is None:
            return b""
        if isinstance(self.stream, PlainByteStream):
            return self.stream.content
        raise RuntimeError("The request body is a stream: call read() or aread() first.")

    def read(self) -> bytes:
        """Read a streamed body into memory, so it can be sent again."""
        if isinstance(self.stream, SyncByteStream) and not isinstance(self.stream, PlainByteStream):
            self.stream = PlainByteStream(b"".join(self.stream))
        return self.content

    async def aread(self) -> bytes:
        """Read a streamed body into memory, so it can be sent again.

        A blocking stream (a file, a generator) is read in a worker thread,
        never in the trio thread.
        """
        if self.stream is not None and not isinstance(self.stream, PlainByteStream):
            stream = as_async_stream(self.stream)
            assert stream is not None
            self.stream = PlainByteStream(b"".join([chunk async for chunk in stream]))
        return self.content

    def __repr__(self) -> str:
        return f"<{type(self).__name__}({self.method!r}, {str(self.url)!r})>"
