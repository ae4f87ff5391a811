"""``-v``: the heads of each exchange as it happens, the protocol, TLS and timings.

The heads come from the client's event hooks and the TLS details from the
``SSLContext``'s handshakes, since the transport reports no phases; all of it
goes to stderr, so the body on stdout stays as it was.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._client import Request, Response
from ._output import Style, Terminal, format_head, status_line, wants_colour


@dataclass
class Timings:
    """What ``-v`` reports about the exchange; times are ``time.perf_counter()`` readings.

    The transport does not report its phases (yet), so TLS is observed through
    the ``SSLContext`` (see :func:`observe_tls`); the handshake starts right
    after the TCP connect, which dates the connect too. On plain ``http`` the
    connect can't be seen from here: only first byte and total are shown.
    """

    started: float = field(default_factory=time.perf_counter)
    tls_started: float | None = None
    tls_done: float | None = None
    tls_version: str | None = None
    first_byte: float | None = None
    finished: float | None = None

    def summary(self) -> str:
        """``timings: connect 1.0 ms, TLS 3.1 ms, first byte 4.2 ms, total 5.0 ms``.

        Each is counted from the start, as curl's ``-w`` times are; "TLS" is
        when the handshake ended, "first byte" when the response head arrived.
        """
        marks = [
            ("connect", self.tls_started),
            ("TLS", self.tls_done),
            ("first byte", self.first_byte),
            ("total", self.finished),
        ]
        shown = [
            f"{name} {(mark - self.started) * 1000:.1f} ms"
            for name, mark in marks
            if mark is not None
        ]
        return "timings: " + ", ".join(shown)


def observe_tls(context: ssl.SSLContext, timings: Timings) -> None:
    """Have ``context``'s TLS handshakes record their start, end and version in ``timings``.

    ``SSLContext.sslobject_class`` is the documented way to customise what
    ``wrap_bio`` (which ``trio.SSLStream`` uses) returns. Only the first
    connection of the run is recorded: the one that made the first request.
    """

    class ObservedSSLObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            if timings.tls_started is None:
                timings.tls_started = time.perf_counter()
            super().do_handshake()  # raises SSLWantReadError until the handshake is done
            if timings.tls_done is None:
                timings.tls_done = time.perf_counter()
                timings.tls_version = self.version()

    context.sslobject_class = ObservedSSLObject


class Verbose:
    """``-v`` on stderr: each exchange's heads as it happens, then the timings.

    The heads come from the client's event hooks, so an auth retry or a
    redirect shows the fields really sent each time (an auth flow edits the
    request it sends again), and a failure still shows what came before it.
    """

    def __init__(self, terminal: Terminal, timings: Timings) -> None:
        self._stream = terminal.stderr
        self._style = Style(wants_colour(terminal.stderr, terminal.environ))
        self._timings = timings
        self._sent: tuple[str, list[tuple[bytes, bytes]]] | None = None
        self._exchanges = 0

    def hooks(self) -> dict[str, list[Callable[[Any], None]]]:
        """The ``event_hooks=`` of the client."""
        return {"request": [self.request_sent], "response": [self.response_received]}

    def request_sent(self, request: Request) -> None:
        # Its protocol is known only once the response is: keep the head until then.
        self._sent = (f"{request.method} {request.url.full_path}", list(request.headers.raw))

    def response_received(self, response: Response) -> None:
        assert self._sent is not None, "the client calls the request hook first"
        start, headers = self._sent
        style = self._style
        text = []
        if not self._exchanges:
            tls = f", {self._timings.tls_version}" if self._timings.tls_version else ""
            text.append(f"{self._info} {response.http_version}{tls}\n")
        self._exchanges += 1
        # Our HTTP/1.x requests always say HTTP/1.1, whatever version answers.
        sent_version = "HTTP/2" if response.http_version == "HTTP/2" else "HTTP/1.1"
        request_line = f"{start} {sent_version}"
        text.append(format_head(">", request_line, headers, style, Style.CYAN))
        colour = style.status(int(response.status_code))
        text.append(format_head("<", status_line(response), response.headers.raw, style, colour))
        self._write("".join(text))

    def finished(self) -> None:
        """Print the timings, once the body is written."""
        self._write(f"{self._info} {self._timings.summary()}\n")

    @property
    def _info(self) -> str:
        return self._style("*", Style.DIM)

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()
