"""Where the response goes: heads and body to stdout, ``-o FILE`` or ``-O``, heads to ``-D FILE``.

Bytes are written as received (decoded only with ``--compressed``), byte
for byte when not on a terminal; on a terminal, with rich, heads are
coloured and JSON pretty-printed, and binary bytes are refused as curl does.
A file is created at its first write; a failed write is exit status 23.
"""

from __future__ import annotations

import io
import os
import sys
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO, TextIO

import trio

from .._client import Response
from ._exits import CLIError, Exit
from ._render import Bar, console_for, download_bar, show_head, show_json
from ._timings import Transfer


@dataclass
class Terminal:
    """The standard streams (binary stdin and stdout, text stderr) and the environment."""

    stdin: BinaryIO
    stdout: BinaryIO
    stderr: TextIO
    environ: Mapping[str, str]

    @classmethod
    def from_sys(cls) -> Terminal:
        # A closed stdin (``<&-``) leaves sys.stdin None: read it as empty.
        stdin = sys.stdin.buffer if sys.stdin is not None else io.BytesIO()
        return cls(stdin, sys.stdout.buffer, sys.stderr, os.environ)


def status_line(response: Response) -> str:
    """``HTTP/1.1 404 Not Found``; HTTP/2 carries no reason phrase (RFC 9113 8.3.2)."""
    status = f"{response.http_version} {int(response.status_code)}"
    if response.http_version == "HTTP/2" or not response.reason_phrase:
        return status
    return f"{status} {response.reason_phrase}"


def head_fields(response: Response) -> list[tuple[str, str]]:
    """The response's fields as received, in order."""
    return [
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in response.headers.raw
    ]


def head_bytes(response: Response) -> bytes:
    """The head as curl writes it for ``-i`` and ``-D``: as received, CRLF lines, an empty one.

    An HTTP/1.x status line keeps the reason the server sent (none is none);
    curl ends an HTTP/2 one, which has no reason, with a space too.
    """
    reason = "" if response.http_version == "HTTP/2" else response.ext.get("reason", "")
    start = f"{response.http_version} {int(response.status_code)} {reason}"
    lines = [start, *(f"{name}: {value}" for name, value in head_fields(response)), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def remote_name(url: str) -> str:
    """``-O``'s file name: the URL path's last segment, as curl takes it."""
    path = urllib.parse.urlsplit(url).path
    name = path.rsplit("/", 1)[-1]
    if not name:
        raise CLIError(Exit.WRITE, "Remote file name has no length!")
    return name


class Sink:
    """One destination, stdout or a file created at the first write; failures are status 23."""

    def __init__(self, path: str | None, stdout: BinaryIO) -> None:
        self.path = path
        self._stdout = stdout
        self._file: BinaryIO | None = None

    @property
    def is_stdout(self) -> bool:
        return self.path is None

    def write(self, data: bytes) -> None:
        try:
            self._open().write(data)
            # Flushed per chunk, so a slow stream (events, logs) shows as it arrives.
            self._open().flush()
        except OSError as exc:
            raise CLIError(Exit.WRITE, "Failure writing output to destination") from exc

    def touch(self) -> None:
        """Create the file even if no byte came (curl leaves an empty file too)."""
        self._open()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def _open(self) -> BinaryIO:
        if self.path is None:
            return self._stdout
        if self._file is None:
            try:
                self._file = open(self.path, "wb")  # noqa: SIM115 (closed by close())
            except OSError as exc:
                raise CLIError(
                    Exit.WRITE, f"Failed to open the file {self.path}: {exc.strerror}"
                ) from exc
        return self._file


class RateLimit:
    """``--limit-rate``: after each chunk, wait until the average is back under the rate."""

    def __init__(self, rate: int, clock: Callable[[], float] = trio.current_time) -> None:
        self._rate = rate
        self._clock = clock
        self._started: float | None = None
        self._sent = 0

    async def pace(self, count: int) -> None:
        if self._started is None:
            self._started = self._clock()
        self._sent += count
        await trio.sleep_until(self._started + self._sent / self._rate)


_BINARY_WARNING = (
    'Binary output can mess up your terminal. Use "--output -" to tell trio-httpcore '
    'to output it to your terminal anyway, or consider "--output <FILE>" to save to a file.'
)


def _is_json_type(content_type: str | None) -> bool:
    """``application/json`` or any ``+json`` media type, whatever its parameters."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _known_length(response: Response, decoded: bool) -> int | None:
    """The body's length, from Content-Length, unless it counts bytes that get decoded."""
    length = response.headers.get("content-length")
    if length is None or not length.isdigit():
        return None
    if decoded and "content-encoding" in response.headers:
        return None
    return int(length)


class Output:
    """Every byte the run writes: heads (``-i``, ``-I``, ``-D``) and the body."""

    def __init__(
        self,
        terminal: Terminal,
        transfer: Transfer,
        *,
        path: str | None,
        dump_header: str | None,
        include_heads: bool,
        decoded: bool,
        progress: bool,
        limit_rate: int | None,
        refuse_binary: bool,
    ) -> None:
        self._terminal = terminal
        self.transfer = transfer
        self.body = Sink(path, terminal.stdout)
        self._dump: Sink | None = None
        if dump_header is not None:
            self._dump = Sink(None if dump_header == "-" else dump_header, terminal.stdout)
        self._include_heads = include_heads
        self._decoded = decoded
        self._progress = progress
        self._rate = None if limit_rate is None else RateLimit(limit_rate)
        self._on_terminal = self.body.is_stdout and terminal.stdout.isatty()
        # As curl: binary bytes can garble a terminal, unless "-o -" asked for them.
        self._refuse_binary = refuse_binary and self._on_terminal

    def head(self, response: Response) -> None:
        """Write ``response``'s head where ``-i``/``-I`` and ``-D`` send heads."""
        data = head_bytes(response)
        if self._dump is not None:
            self._dump.write(data)
        if not self._include_heads:
            return
        console = console_for(sys.stdout) if self._on_terminal else None
        if console is None:
            self.body.write(data)
            return
        show_head(console, "", status_line(response), head_fields(response), response.status_code)

    async def write_body(self, response: Response) -> None:
        """Stream the body out (pretty JSON on a terminal with rich), paced by ``--limit-rate``."""
        transfer = self.transfer
        transfer.expected = _known_length(response, self._decoded)
        if self._on_terminal and _is_json_type(response.headers.get("content-type")):
            console = console_for(sys.stdout)
            if console is not None:
                body = await response.aread() if self._decoded else await self._raw(response)
                transfer.received = len(body)
                if not show_json(console, body):
                    self.body.write(body)
                return
        bar = self._bar()
        try:
            chunks = response.aiter_bytes() if self._decoded else response.aiter_raw()
            async for chunk in chunks:
                if self._refuse_binary and b"\0" in chunk:
                    raise CLIError(Exit.WRITE, _BINARY_WARNING)
                self.body.write(chunk)
                transfer.received += len(chunk)
                if bar is not None:
                    bar.advance(len(chunk))
                if self._rate is not None:
                    await self._rate.pace(len(chunk))
        finally:
            if bar is not None:
                bar.finish()
        self.body.touch()

    def close(self) -> None:
        self.body.close()
        if self._dump is not None:
            self._dump.close()

    async def _raw(self, response: Response) -> bytes:
        return b"".join([chunk async for chunk in response.aiter_raw()])

    def _bar(self) -> Bar | None:
        if not self._progress or self.body.is_stdout or not self._terminal.stderr.isatty():
            return None
        return download_bar(self._terminal.stderr, self.transfer.expected)


def show_verbose_head(
    stream: TextIO,
    marker: str,
    start_line: str,
    fields: Sequence[tuple[str, str]],
    code: int | None,
) -> None:
    """A head as ``-v`` shows it on stderr: each line after ``marker``, then a bare marker."""
    console = console_for(stream)
    if console is not None:
        show_head(console, marker, start_line, fields, code)
        return
    lines = [f"{marker} {start_line}", *(f"{marker} {n}: {v}" for n, v in fields), marker]
    stream.write("\n".join(lines) + "\n")
    stream.flush()
