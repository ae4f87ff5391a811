"""``WSGITransport``: requests answered by a WSGI app (PEP 3333), called in-process.

A WSGI app is blocking code: it runs in a worker thread, so the trio thread
goes on serving other tasks meanwhile. Its answer is read whole before the
response returns, as in httpx.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Protocol, TextIO
from urllib.parse import unquote_to_bytes

import trio

from ..._http import AsyncHTTPTransport, AsyncResponse
from ..._streams import AsyncByteStream, PlainByteStream
from ..._types import URL4, Extensions, RawHeaders
from .._urlparse import DEFAULT_PORTS
from ._wire import read_body

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
OptExcInfo = ExcInfo | tuple[None, None, None]


class StartResponse(Protocol):
    """PEP 3333's ``start_response(status, response_headers, exc_info=None)``.

    ``exc_info`` is optional (apps call it with two arguments), and is what
    ``sys.exc_info()`` returned, so possibly ``(None, None, None)``.
    """

    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = ..., /
    ) -> Callable[[bytes], object]: ...


WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class WSGITransport(AsyncHTTPTransport):
    """A transport that hands each request to the WSGI app ``app``.

    ``raise_app_exceptions``: an error the app reports through
    ``start_response(..., exc_info)`` is raised to the caller. ``script_name``
    and ``remote_addr`` go into the environ; ``wsgi_errors`` is its
    ``wsgi.errors`` stream (standard error by default).
    """

    def __init__(
        self,
        app: WSGIApp,
        raise_app_exceptions: bool = True,
        script_name: str = "",
        remote_addr: str = "127.0.0.1",
        wsgi_errors: TextIO | None = None,
    ) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self.script_name = script_name
        self.remote_addr = remote_addr
        self.wsgi_errors = wsgi_errors

    async def arequest(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders | None = None,
        stream: AsyncByteStream | None = None,
        ext: Extensions | None = None,
    ) -> AsyncResponse:
        body = await read_body(stream)
        environ = self._environ(method, url, headers or [], body)
        status, fields, content = await trio.to_thread.run_sync(self._call, environ)
        return status, fields, PlainByteStream(content), {"http_version": "HTTP/1.1"}

    def _environ(
        self, method: bytes, url: URL4, headers: RawHeaders, body: bytes
    ) -> dict[str, Any]:
        scheme, host, port, target = url
        path, _, query = target.partition(b"?")
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scheme.decode("ascii"),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": self.wsgi_errors or sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "REQUEST_METHOD": method.decode("ascii"),
            "SCRIPT_NAME": self.script_name,
            # PEP 3333: the path decoded from its escapes, as latin-1 "bytes in a str".
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query.decode("ascii"),
            "SERVER_NAME": host.decode("ascii"),
            "SERVER_PORT": str(port or DEFAULT_PORTS[scheme.decode("ascii")]),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.remote_addr,
        }
        for raw_name, raw_value in headers:
            name = raw_name.decode("latin-1").upper().replace("-", "_")
            if name not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                name = f"HTTP_{name}"
            value = raw_value.decode("latin-1")
            environ[name] = f"{environ[name]},{value}" if name in environ else value
        return environ

    def _call(self, environ: dict[str, Any]) -> tuple[int, RawHeaders, bytes]:
        """Run the app (in a worker thread) and read its whole answer."""
        started: list[tuple[str, list[tuple[str, str]]]] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            if exc_info is not None and exc_info[1] is not None and self.raise_app_exceptions:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [(status, headers)]
            return written.append

        result = self.app(environ, start_response)
        try:
            chunks = [*written, *(bytes(chunk) for chunk in result)]
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if not started:
            raise RuntimeError("The WSGI app returned without calling start_response.")
        status, headers = started[0]
        fields = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        return int(status.split(" ", 1)[0]), fields, b"".join(chunks)
