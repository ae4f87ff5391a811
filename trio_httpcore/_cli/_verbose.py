"""``-v``: the connect, TLS and heads of each exchange as they happen, and timings, on stderr.

The connect and TLS lines come from the transport's trace hook as each
phase ends; the heads from the client's event hooks, so an auth retry or a
redirect shows the fields really sent each time, and a failure still shows
what came before it; the body on stdout stays as it was.
"""

from __future__ import annotations

from typing import TextIO

from .._client import Request, Response
from ._output import show_verbose_head, status_line
from ._timings import Transfer


class Verbose:
    """``-v`` on stderr, fed by the run's request and response hooks."""

    def __init__(self, stream: TextIO, transfer: Transfer) -> None:
        self._stream = stream
        self._transfer = transfer
        self._sent: tuple[str, list[tuple[str, str]]] | None = None
        self._exchanges = 0

    def phase(self, name: str) -> None:
        """A connection phase ended (``"connect"`` or ``"tls"``): say so, with its time."""
        transfer = self._transfer
        if name == "connect":
            address = f" ({transfer.remote_ip})" if transfer.remote_ip else ""
            self._info(
                f"Connected to {transfer.host}{address} port {transfer.port} "
                f"after {transfer.since_start(transfer.connect) * 1000:.1f} ms"
            )
        else:
            self._info(
                f"SSL connection using {transfer.tls_version} / {transfer.tls_cipher} "
                f"after {transfer.since_start(transfer.appconnect) * 1000:.1f} ms"
            )

    def request_sent(self, request: Request) -> None:
        # Its protocol is known only once the response is: keep the head until then.
        fields = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in request.headers.raw]
        self._sent = (f"{request.method} {request.url.full_path}", fields)

    def response_received(self, response: Response) -> None:
        assert self._sent is not None, "the client calls the request hook first"
        start, fields = self._sent
        if not self._exchanges:
            tls = f", {self._transfer.tls_version}" if self._transfer.tls_version else ""
            self._info(f"{response.http_version}{tls}")
        self._exchanges += 1
        # Our HTTP/1.x requests always say HTTP/1.1, whatever version answers.
        answered = response.http_version
        sent_version = answered if answered in ("HTTP/2", "HTTP/3") else "HTTP/1.1"
        show_verbose_head(self._stream, ">", f"{start} {sent_version}", fields, None)
        received = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in response.headers.raw]
        show_verbose_head(
            self._stream, "<", status_line(response), received, int(response.status_code)
        )

    def finished(self) -> None:
        """Print the timings, once the body is written.

        Each is counted from the start, as curl's ``-w`` times are; a phase
        not seen (no name lookup for an address, no TLS on http) is left out.
        """
        transfer = self._transfer
        marks = [
            ("name lookup", transfer.namelookup),
            ("connect", transfer.connect),
            ("TLS", transfer.appconnect),
            ("first byte", transfer.starttransfer),
            ("total", transfer.finished),
        ]
        shown = [
            f"{name} {transfer.since_start(mark) * 1000:.1f} ms"
            for name, mark in marks
            if mark is not None
        ]
        self._info("timings: " + ", ".join(shown))

    def _info(self, text: str) -> None:
        self._stream.write(f"* {text}\n")
        self._stream.flush()
