"""What the request carries: its body (``-d`` and kin, ``--json``, ``-F``, ``-T``), URL and fields.

Each flag reads its argument as curl does: ``-d @FILE`` drops CR and LF,
``--data-binary @FILE`` keeps every byte, ``--data-raw`` takes ``@`` as is,
``--data-urlencode`` percent-encodes, ``-G`` moves the data into the query,
``-T`` streams a file (or stdin). A local file that can't be read is exit
status 26, raised before any byte is sent.
"""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import trio

from ._arguments import DataKind, Options
from ._exits import CLIError, Exit

_CHUNK = 64 * 1024


def unreadable(path: str, exc: OSError) -> CLIError:
    """curl's line for a local file that can't be read, with the system's reason."""
    return CLIError(
        Exit.READ_FILE,
        f"Failed to open/read local data from file/application ({path}: {exc.strerror})",
    )


def read_local(argument: str, stdin: BinaryIO) -> bytes:
    """An ``@``-argument's bytes: ``@FILE`` reads FILE, ``@-`` stdin, else the text itself."""
    if not argument.startswith("@"):
        return argument.encode()
    path = argument[1:]
    if path == "-":
        return stdin.read()
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise unreadable(path, exc) from exc


def _urlencoded(argument: str, stdin: BinaryIO) -> bytes:
    """``--data-urlencode``: ``TEXT``, ``=TEXT``, ``NAME=TEXT``, ``@FILE`` or ``NAME@FILE``.

    The name, if any, is sent as given; the text (or the file's content) is
    percent-encoded, everything but letters, digits and ``-._~`` (RFC 3986 2.3),
    with a space as ``+``, as curl and HTML forms write it.
    """
    equals, at = argument.find("="), argument.find("@")
    if at != -1 and (equals == -1 or at < equals):
        name, content = argument[:at], read_local(argument[at:], stdin)
    elif equals != -1:
        name, content = argument[:equals], argument[equals + 1 :].encode()
    else:
        name, content = "", argument.encode()
    encoded = urllib.parse.quote_plus(content, safe="").encode("ascii")
    return f"{name}=".encode() + encoded if name else encoded


def data_item(kind: DataKind, argument: str, stdin: BinaryIO) -> bytes:
    """One ``-d``-family argument's bytes, read as its flag says."""
    if kind == "raw":
        return argument.encode()
    if kind == "urlencode":
        return _urlencoded(argument, stdin)
    content = read_local(argument, stdin)
    if kind == "data" and argument.startswith("@"):
        # curl's -d @FILE sends the file as one line: carriage returns and newlines go.
        content = content.replace(b"\r", b"").replace(b"\n", b"")
    return content


FormPart = tuple[str, tuple[str | None, BinaryIO | bytes, str | None]]
"""One ``-F`` part: ``(name, (filename or None, file or value, content type or None))``."""


class FileChunks:
    """An open file's bytes as the client streams a body: read in a thread, chunk by chunk.

    Each iteration starts from where the file was first found, as curl rewinds
    an upload for ``--retry``: a second attempt sends the whole file again
    under the same ``Content-Length``. A pipe (``-T -``) can't be rewound.
    """

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._start = file.tell() if file.seekable() else None

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._start is not None:
            self._file.seek(self._start)
        return self

    async def __anext__(self) -> bytes:
        chunk = await trio.to_thread.run_sync(self._file.read, _CHUNK)
        if not chunk:
            raise StopAsyncIteration
        return chunk


@dataclass
class Body:
    """The request body the options describe, in the shape the client's arguments take."""

    content: bytes | FileChunks | None = None
    # Every -F part in command-line order, as ``files=`` takes them: a plain field is a
    # part without a filename, so a form of fields only is still multipart, as in curl.
    parts: list[FormPart] = field(default_factory=list)
    # Headers the body implies, each sent only if no -H gives the same name.
    headers: list[tuple[str, str]] = field(default_factory=list)
    # -G: the -d data, for the URL's query rather than the body.
    query: bytes | None = None


def _upload(path: str, stdin: BinaryIO, files: contextlib.ExitStack, body: Body) -> None:
    """``-T``: the file streamed, with its length when it has one (stdin goes chunked)."""
    if path == "-":
        body.content = FileChunks(stdin)
        return
    try:
        file = files.enter_context(open(path, "rb"))  # noqa: SIM115 (the stack closes it)
    except OSError as exc:
        raise unreadable(path, exc) from exc
    body.content = FileChunks(file)
    body.headers.append(("Content-Length", str(os.fstat(file.fileno()).st_size)))


@contextlib.contextmanager
def request_body(options: Options, stdin: BinaryIO) -> Iterator[Body]:
    """The body of the -d flags, ``--json``, ``-F`` or ``-T``; files stay open for the block."""
    body = Body()
    if options.data:
        data = b"&".join(data_item(kind, item, stdin) for kind, item in options.data)
        if options.get:
            body.query = data
        else:
            body.content = data
            body.headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    elif options.json:
        body.content = b"".join(read_local(item, stdin) for item in options.json)
        body.headers.append(("Content-Type", "application/json"))
        body.headers.append(("Accept", "application/json"))
    with contextlib.ExitStack() as files:
        if options.upload_file is not None:
            _upload(options.upload_file, stdin, files, body)
        for name, value in options.form:
            if value.startswith("@"):
                path, _, content_type = value[1:].partition(";type=")
                try:
                    file = files.enter_context(open(path, "rb"))
                except OSError as exc:
                    raise unreadable(path, exc) from exc
                body.parts.append((name, (os.path.basename(path), file, content_type or None)))
            else:
                body.parts.append((name, (None, value.encode(), None)))
        yield body


def request_url(options: Options, body: Body) -> str:
    """The URL to ask for: ``-G``'s query added, ``-T``'s file name after a bare ``/``."""
    url = options.request_url
    if options.upload_file not in (None, "-"):
        _, _, path = url.partition("://")[2].partition("/")
        if not path or path.endswith("/"):
            url = url + ("" if url.endswith("/") else "/")
            url += urllib.parse.quote(os.path.basename(options.upload_file))
    if body.query is not None:
        base, hash_mark, fragment = url.partition("#")
        url = base + ("&" if "?" in base else "?") + body.query.decode("latin-1")
        url += hash_mark + fragment
    return url


def merge_headers(
    given: Sequence[tuple[str, str]], defaults: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """``given`` (from ``-H``), then each default whose name ``given`` doesn't have."""
    names = {name.lower() for name, _ in given}
    return [*given, *(item for item in defaults if item[0].lower() not in names)]
