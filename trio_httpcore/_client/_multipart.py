"""``multipart/form-data`` request bodies (RFC 7578), streamed from files, never read whole."""

from __future__ import annotations

import io
import mimetypes
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

from .._streams import SyncByteStream

# Read files in chunks of this size: large enough to be cheap per byte, small
# enough that a huge upload never sits in memory. The async client pulls each
# chunk of a blocking stream in a worker thread (a round trip of 0.1 to 1 ms,
# more on a busy machine), so a chunk is big enough to make that negligible.
CHUNK_SIZE = 1024 * 1024

FileContent = IO[bytes] | bytes | str
FileValue = (
    FileContent
    | tuple[str | None, FileContent]
    | tuple[str | None, FileContent, str | None]
    | tuple[str | None, FileContent, str | None, Mapping[str, str]]
)
RequestFiles = Mapping[str, FileValue] | Sequence[tuple[str, FileValue]]

# HTML5's multipart/form-data encoding escapes these in names and filenames
# (RFC 7578 section 4.2 defers to it); everything else goes as UTF-8.
_ESCAPES = {ord('"'): "%22", ord("\r"): "%0D", ord("\n"): "%0A"}


def _quoted(value: str) -> bytes:
    return b'"' + value.translate(_ESCAPES).encode("utf-8") + b'"'


def boundary_of(content_type: str | None) -> bytes | None:
    """The ``boundary`` parameter of a ``multipart/form-data`` media type (RFC 7578 4.1)."""
    if not content_type or not content_type.lower().startswith("multipart/form-data"):
        return None
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary" and value.strip('"'):
            return value.strip('"').encode("latin-1")
    return None


def _size(file: IO[bytes]) -> int | None:
    """The size of a seekable ``file``, which is sent from its start (as httpx does).

    Measured by seeking to the end, which flushes what a buffered file holds
    of its writes: ``os.fstat`` would miss them. A file that can't seek has
    no known size, and its body is sent chunked.
    """
    try:
        if not file.seekable():
            return None
        return file.seek(0, io.SEEK_END)
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None


class _DataField:
    """A plain form field."""

    def __init__(self, name: str, value: Any) -> None:
        if isinstance(value, bytes):
            self._value = value
        elif isinstance(value, str):
            self._value = value.encode("utf-8")
        elif isinstance(value, bool) or value is None:
            self._value = {True: b"true", False: b"false", None: b""}[value]
        elif isinstance(value, (int, float)):
            self._value = str(value).encode("ascii")
        else:
            raise TypeError(f"form field {name!r} must be str, bytes, int or float, not {value!r}")
        self._head = b"Content-Disposition: form-data; name=%s\r\n\r\n" % _quoted(name)

    def size(self) -> int:
        return len(self._head) + len(self._value)

    def is_replayable(self) -> bool:
        return True

    def chunks(self) -> Iterator[bytes]:
        yield self._head
        yield self._value


class _FileField:
    """A file upload: its part head, then the file's bytes read in chunks."""

    def __init__(self, name: str, value: FileValue) -> None:
        filename: str | None
        content_type: str | None = None
        headers: Mapping[str, str] = {}
        if isinstance(value, tuple):
            filename, content = value[0], value[1]
            if len(value) > 2:
                content_type = value[2]
            if len(value) > 3:
                headers = value[3]
        else:
            content = value
            # A file's name, when it has a path for one (os.fdopen() files have a number).
            path = getattr(value, "name", None)
            filename = (os.path.basename(path) if isinstance(path, str) else "") or "upload"
        if isinstance(content, str):
            content = content.encode("utf-8")
        self._content: bytes | IO[bytes] = content
        # Measured now, before any sending moves the file's position.
        self._start: int | None
        self._length: int | None
        if isinstance(content, bytes):
            self._start, self._length = None, len(content)
        else:
            self._length = _size(content)
            self._start = None if self._length is None else 0
        if content_type is None and filename:
            content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        disposition = b"Content-Disposition: form-data; name=%s" % _quoted(name)
        if filename is not None:
            disposition += b"; filename=%s" % _quoted(filename)
        lines = [disposition]
        if content_type is not None and not any(k.lower() == "content-type" for k in headers):
            lines.append(b"Content-Type: " + content_type.encode("latin-1"))
        lines += [f"{key}: {val}".encode("latin-1") for key, val in headers.items()]
        self._head = b"\r\n".join(lines) + b"\r\n\r\n"

    def size(self) -> int | None:
        return None if self._length is None else len(self._head) + self._length

    def is_replayable(self) -> bool:
        """Bytes, or a file that can be rewound to where it started."""
        return isinstance(self._content, bytes) or self._start is not None

    def chunks(self) -> Iterator[bytes]:
        yield self._head
        content = self._content
        if isinstance(content, bytes):
            yield content
            return
        if self._start is not None:
            content.seek(self._start)  # from the start, each time it is sent
        while chunk := content.read(CHUNK_SIZE):
            yield chunk if isinstance(chunk, bytes) else chunk.encode("utf-8")


class MultipartStream(SyncByteStream):
    """A ``multipart/form-data`` body: form fields first, then files (RFC 7578).

    Files are read :data:`CHUNK_SIZE` bytes at a time as the body is sent.
    When every part's size is known the body has a ``Content-Length``; else
    it is sent chunked. Seekable files are rewound if the body is sent again.
    """

    def __init__(
        self,
        data: Mapping[str, Any] | None,
        files: RequestFiles,
        boundary: bytes | None = None,
    ) -> None:
        self.boundary = boundary or secrets.token_hex(16).encode("ascii")
        self._fields: list[_DataField | _FileField] = [
            _DataField(name, item)
            for name, value in (data or {}).items()
            for item in (value if isinstance(value, (list, tuple)) else [value])
        ]
        items = files.items() if isinstance(files, Mapping) else files
        self._fields += [_FileField(name, value) for name, value in items]

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary.decode('ascii')}"

    def content_length(self) -> int | None:
        """The body's length, or ``None`` when some file can't tell its size."""
        total = 0
        for field in self._fields:
            size = field.size()
            if size is None:
                return None
            total += len(self.boundary) + 6 + size  # b"--" boundary b"\r\n" ... b"\r\n"
        return total + len(self.boundary) + 6  # b"--" boundary b"--\r\n"

    def is_replayable(self) -> bool:
        """Whether the body can be sent again: every file part is bytes or seekable."""
        return all(field.is_replayable() for field in self._fields)

    def headers(self) -> dict[str, str]:
        """``Content-Type`` with the boundary, and ``Content-Length`` when it is known."""
        headers = {"Content-Type": self.content_type}
        length = self.content_length()
        if length is not None:
            headers["Content-Length"] = str(length)
        return headers

    def __iter__(self) -> Iterator[bytes]:
        for field in self._fields:
            yield b"--%s\r\n" % self.boundary
            yield from field.chunks()
            yield b"\r\n"
        yield b"--%s--\r\n" % self.boundary
