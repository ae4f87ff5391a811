"""Request bodies: ``-d``, ``--json`` and ``-F`` read into the shapes the client takes.

``@FILE`` reads a local file and ``@-`` stdin; a file that can't be read is
exit status 26, raised before any byte is sent. ``-F`` files stay open only
for the request that streams them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from ._arguments import Options
from ._exits import CLIError, Exit


def read_local(argument: str, stdin: BinaryIO) -> bytes:
    """A ``-d``/``--json`` argument's bytes: ``@FILE`` reads FILE, ``@-`` stdin, else itself."""
    if not argument.startswith("@"):
        return argument.encode()
    path = argument[1:]
    if path == "-":
        return stdin.read()
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise _unreadable(path, exc) from exc


def _unreadable(path: str, exc: OSError) -> CLIError:
    return CLIError(Exit.READ_FILE, f"can't read {path!r}: {exc.strerror}")


FormPart = tuple[str, tuple[str | None, BinaryIO | bytes, str | None]]
"""One ``-F`` part: ``(name, (filename or None, file or value, content type or None))``."""


@dataclass
class Body:
    """The request body the options describe, in the shape the client's arguments take."""

    content: bytes | None = None
    # Every -F part in command-line order, as ``files=`` takes them: a plain field is a
    # part without a filename, so a form of fields only is still multipart, as in curl.
    parts: list[FormPart] = field(default_factory=list)
    # Headers the body implies, each sent only if no -H gives the same name.
    headers: list[tuple[str, str]] = field(default_factory=list)


@contextlib.contextmanager
def request_body(options: Options, stdin: BinaryIO) -> Iterator[Body]:
    """The body of ``-d``, ``--json`` or ``-F``; ``-F`` files stay open until the block ends."""
    body = Body()
    if options.data:
        body.content = b"&".join(read_local(item, stdin) for item in options.data)
        body.headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    elif options.json:
        body.content = b"".join(read_local(item, stdin) for item in options.json)
        body.headers.append(("Content-Type", "application/json"))
        body.headers.append(("Accept", "application/json"))
    with contextlib.ExitStack() as files:
        for name, value in options.form:
            if value.startswith("@"):
                path, _, content_type = value[1:].partition(";type=")
                try:
                    file = files.enter_context(open(path, "rb"))
                except OSError as exc:
                    raise _unreadable(path, exc) from exc
                body.parts.append((name, (os.path.basename(path), file, content_type or None)))
            else:
                body.parts.append((name, (None, value.encode(), None)))
        yield body


def merge_headers(
    given: Sequence[tuple[str, str]], defaults: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """``given`` (from ``-H``), then each default whose name ``given`` doesn't have."""
    names = {name.lower() for name, _ in given}
    return [*given, *(item for item in defaults if item[0].lower() not in names)]
