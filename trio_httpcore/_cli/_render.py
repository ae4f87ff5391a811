"""What a terminal shows: rich's colour, JSON and download bar (``cli`` extra), else plain text.

``rich`` is imported only when a stream is a terminal, so piped runs never
pay for it; when it is missing every renderer falls back to plain text and
nothing else changes. rich honours ``NO_COLOR`` and ``TERM=dumb`` itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID


def console_for(stream: TextIO) -> Console | None:
    """A rich console writing to ``stream`` when it is a terminal and rich is installed."""
    if not stream.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(file=stream, highlight=False, soft_wrap=True)


def _status_style(status_code: int) -> str:
    """Green 2xx, yellow 3xx, red 4xx and 5xx."""
    if status_code >= 400:
        return "bold red"
    return "bold yellow" if status_code >= 300 else "bold green"


def show_head(
    console: Console,
    marker: str,
    start_line: str,
    fields: Sequence[tuple[str, str]],
    status_code: int | None,
) -> None:
    """A head on a terminal, coloured: the start line by status, field names in cyan."""
    from rich.text import Text

    prefix = f"{marker} " if marker else ""
    style = "bold cyan" if status_code is None else _status_style(status_code)
    lines = [Text.assemble((prefix, "dim"), (start_line, style))]
    for name, value in fields:
        lines.append(Text.assemble((prefix, "dim"), (name, "cyan"), f": {value}"))
    lines.append(Text(marker, style="dim"))
    for line in lines:
        console.print(line)


def show_json(console: Console, body: bytes) -> bool:
    """``body`` pretty-printed and coloured if it is JSON; ``False`` (nothing shown) if not."""
    from rich.json import JSON

    try:
        document = JSON(body.decode())
    except ValueError:  # not UTF-8 (UnicodeDecodeError is one) or not JSON
        return False
    console.print(document)
    return True


class PlainBar:
    """curl's ``-#`` bar in plain text: ``###...   42.0%``, redrawn in place on stderr."""

    def __init__(self, stream: TextIO, total: int | None, width: int = 60) -> None:
        self._stream = stream
        self._total = total
        self._width = width
        self.received = 0

    def advance(self, count: int) -> None:
        self.received += count
        self._draw()

    def finish(self) -> None:
        self._draw()
        self._stream.write("\n")
        self._stream.flush()

    def _draw(self) -> None:
        if self._total:
            fraction = min(self.received / self._total, 1.0)
            filled = int(fraction * self._width)
            line = "#" * filled + " " * (self._width - filled) + f" {fraction * 100:5.1f}%"
        else:
            line = f"{self.received} bytes"
        self._stream.write("\r" + line)
        self._stream.flush()


class RichBar:
    """rich's download bar: bar, percent, bytes, speed and time left, on stderr.

    Refreshed by hand, at most ten times a second: rich's own refresh would
    run a thread, and this run has only trio's.
    """

    def __init__(
        self, console: Console, total: int | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TaskProgressColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress: RichProgress = Progress(
            BarColumn(),
            TaskProgressColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task: TaskID = self._progress.add_task("download", total=total)
        self._clock = clock
        self._drawn_at: float | None = None
        self._progress.start()

    def advance(self, count: int) -> None:
        self._progress.advance(self._task, count)
        now = self._clock()
        if self._drawn_at is None or now - self._drawn_at >= 0.1:
            self._drawn_at = now
            self._progress.refresh()

    def finish(self) -> None:
        self._progress.refresh()
        self._progress.stop()


Bar = PlainBar | RichBar


def download_bar(stream: TextIO, total: int | None) -> Bar:
    """rich's bar on ``stream`` if rich is installed, else the plain one."""
    console = console_for(stream)
    return PlainBar(stream, total) if console is None else RichBar(console, total)
