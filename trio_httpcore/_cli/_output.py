"""Where the response goes: the body to stdout or ``-o FILE``, heads, colour, progress.

stdout gets the body byte for byte unless it is a terminal (then JSON is
pretty-printed and binary bytes are refused, as curl does); stderr gets the
progress bar and ``-v``'s heads, coloured only on a terminal. A failed write is
exit status 23.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, TextIO

from .._client import Response
from ._arguments import Options
from ._exits import CLIError, Exit


def wants_colour(stream: IO[Any], environ: Mapping[str, str]) -> bool:
    """Colour on a terminal, unless ``NO_COLOR`` is set (no-color.org) or TERM is dumb."""
    return stream.isatty() and "NO_COLOR" not in environ and environ.get("TERM") != "dumb"


class Style:
    """ANSI colours for heads on a terminal; with ``enabled=False`` text passes unchanged."""

    RESET = "\x1b[0m"
    BOLD = "\x1b[1m"
    DIM = "\x1b[2m"
    RED = "\x1b[31m"
    GREEN = "\x1b[32m"
    YELLOW = "\x1b[33m"
    CYAN = "\x1b[36m"

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, *codes: str) -> str:
        if not self.enabled or not codes:
            return text
        return "".join(codes) + text + self.RESET

    def status(self, status_code: int) -> str:
        """The colour of a status line: green 2xx, yellow 3xx, red 4xx/5xx."""
        if status_code >= 400:
            return self.RED
        return self.YELLOW if status_code >= 300 else self.GREEN


def format_head(
    marker: str,
    start_line: str,
    headers: Sequence[tuple[bytes, bytes]],
    style: Style,
    colour: str,
) -> str:
    """A message head as curl -v shows it: each line after ``marker``, then a bare marker."""
    prefix = style(marker, Style.DIM)
    lines = [f"{prefix} {style(start_line, Style.BOLD, colour)}"]
    for name, value in headers:
        name_text = style(name.decode("latin-1"), colour)
        lines.append(f"{prefix} {name_text}: {value.decode('latin-1')}")
    lines.append(prefix)
    return "\n".join(lines) + "\n"


def is_json_type(content_type: str | None) -> bool:
    """``application/json`` or any ``+json`` media type, whatever its parameters."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def pretty_json(body: bytes) -> bytes | None:
    """``body`` indented for reading, or ``None`` when it is not JSON."""
    try:
        document = json.loads(body)
    except ValueError:  # UnicodeDecodeError is a ValueError too
        return None
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def format_bytes(count: float) -> str:
    """``1536`` → ``"1.5 KiB"``; bytes without a decimal."""
    unit = 0
    while count >= 1024 and unit < len(_UNITS) - 1:
        count /= 1024
        unit += 1
    return f"{count:.0f} B" if unit == 0 else f"{count:.1f} {_UNITS[unit]}"


def format_duration(seconds: float) -> str:
    """``75`` → ``"1:15"``, ``3700`` → ``"1:01:40"``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render_progress(received: int, total: int | None, elapsed: float, width: int = 20) -> str:
    """One progress line: percent and bar (when the size is known), bytes, rate, ETA."""
    rate = received / elapsed if elapsed > 0 else 0.0
    speed = f"{format_bytes(rate)}/s"
    if total is None or total <= 0:
        return f"{format_bytes(received)}  {speed}"
    fraction = min(received / total, 1.0)
    filled = int(fraction * width)
    bar = "#" * filled + "-" * (width - filled)
    if received >= total:
        eta = f"in {format_duration(elapsed)}"
    elif rate > 0:
        eta = f"ETA {format_duration((total - received) / rate)}"
    else:
        eta = "ETA --:--"
    return (
        f"{fraction * 100:5.1f}% [{bar}] "
        f"{format_bytes(received)} / {format_bytes(total)}  {speed}  {eta}"
    )


class ProgressBar:
    """A download's progress on stderr, redrawn in place at most every ``interval`` seconds."""

    def __init__(
        self,
        stream: TextIO,
        total: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = 0.1,
    ) -> None:
        self._stream = stream
        self._total = total
        self._clock = clock
        self._interval = interval
        self._started = clock()
        self._drawn_at: float | None = None
        self._width = 0
        self.received = 0

    def advance(self, count: int) -> None:
        """``count`` more bytes arrived; redraw if the last drawing is old enough."""
        self.received += count
        now = self._clock()
        if self._drawn_at is None or now - self._drawn_at >= self._interval:
            self._draw(now)

    def finish(self) -> None:
        """Draw the final state and end the line."""
        self._draw(self._clock())
        self._stream.write("\n")
        self._stream.flush()

    def _draw(self, now: float) -> None:
        self._drawn_at = now
        line = render_progress(self.received, self._total, now - self._started)
        # Pad over what a longer previous line left on the terminal.
        self._stream.write("\r" + line.ljust(self._width))
        self._stream.flush()
        self._width = len(line)


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


class BodyWriter:
    """Where the body goes: stdout, or the ``-o`` file (opened once the response arrived)."""

    def __init__(self, options: Options, terminal: Terminal) -> None:
        self._path = None if options.output in (None, "-") else options.output
        self._terminal = terminal
        self._file: BinaryIO | None = None
        # As curl: binary bytes on a terminal can garble it, unless "-o -" asked for them.
        self._guard_terminal = options.output is None and terminal.stdout.isatty()

    @property
    def to_stdout(self) -> bool:
        return self._path is None

    async def write_all(self, response: Response) -> None:
        """Stream the body out; pretty-print it first if it is JSON bound for a terminal."""
        sink = self._open()
        progress = None
        if not self.to_stdout and self._terminal.stderr.isatty():
            progress = ProgressBar(self._terminal.stderr, _known_length(response))
        json_type = is_json_type(response.headers.get("content-type"))
        if self.to_stdout and self._terminal.stdout.isatty() and json_type:
            body = await response.aread()
            self._write(sink, pretty_json(body) or body)
            return
        try:
            async for chunk in response.aiter_bytes():
                if self._guard_terminal and b"\0" in chunk:
                    raise CLIError(
                        Exit.WRITE,
                        "binary output can mess up your terminal: "
                        "use -o FILE to save it, or -o - to print it anyway",
                    )
                self._write(sink, chunk)
                if progress is not None:
                    progress.advance(len(chunk))
        finally:
            if progress is not None:
                progress.finish()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def _open(self) -> BinaryIO:
        if self._path is None:
            return self._terminal.stdout
        try:
            self._file = open(self._path, "wb")  # noqa: SIM115 (closed by close())
        except OSError as exc:
            raise CLIError(Exit.WRITE, f"can't write {self._path!r}: {exc.strerror}") from exc
        return self._file

    def _write(self, sink: BinaryIO, data: bytes) -> None:
        try:
            sink.write(data)
            # Flushed per chunk, so a slow stream (events, logs) shows as it arrives.
            sink.flush()
        except OSError as exc:
            where = "stdout" if self._path is None else repr(self._path)
            raise CLIError(Exit.WRITE, f"can't write {where}: {exc.strerror}") from exc


def _known_length(response: Response) -> int | None:
    """The body's length for the progress bar: Content-Length, unless it counts encoded bytes."""
    length = response.headers.get("content-length")
    if length is None or not length.isdigit() or "content-encoding" in response.headers:
        return None
    return int(length)
