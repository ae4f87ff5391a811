"""multipart/form-data framing, lengths and file streaming, without a network."""

from __future__ import annotations

import email.parser
import email.policy
import io
from pathlib import Path
from typing import IO, cast

import pytest

from trio_httpcore._client._multipart import CHUNK_SIZE, MultipartStream


def _parse(stream: MultipartStream, body: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Parse the body with the standard library's MIME parser: an independent check."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + stream.content_type.encode() + b"\r\n\r\n" + body
    )
    return [
        (dict(part.items()), cast(bytes, part.get_payload(decode=True) or b""))
        for part in message.iter_parts()
    ]


def test_fields_and_files_parse_back(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_bytes(b"a,b\n1,2\n")
    with path.open("rb") as file:
        stream = MultipartStream(
            {"name": "ünï", "n": 3, "flag": True, "many": ["x", "y"], "raw": b"\x00\x01"},
            {"upload": file, "inline": ("data.bin", b"\xff" * 10, "application/x-thing")},
        )
        headers = stream.headers()
        body = b"".join(stream)
    assert headers["Content-Length"] == str(len(body))
    parts = _parse(stream, body)
    assert [payload for _, payload in parts] == [
        "ünï".encode(),
        b"3",
        b"true",
        b"x",
        b"y",
        b"\x00\x01",
        b"a,b\n1,2\n",
        b"\xff" * 10,
    ]
    upload_head = parts[6][0]
    assert upload_head["Content-Disposition"] == 'form-data; name="upload"; filename="report.csv"'
    assert upload_head["Content-Type"] == "text/csv"
    assert parts[7][0]["Content-Type"] == "application/x-thing"


def test_names_and_filenames_are_escaped_as_html5_says() -> None:
    stream = MultipartStream(None, [('we"ird\r\n', ('a"b\nc.txt', b"x"))], boundary=b"B")
    body = b"".join(stream)
    assert b'name="we%22ird%0D%0A"; filename="a%22b%0Ac.txt"' in body
    assert body.startswith(b"--B\r\n") and body.endswith(b"\r\n--B--\r\n")


def test_custom_part_headers_and_no_filename() -> None:
    stream = MultipartStream(None, {"f": (None, b"v", None, {"X-Part": "1"})}, boundary=b"B")
    body = b"".join(stream)
    assert b'Content-Disposition: form-data; name="f"\r\nX-Part: 1\r\n\r\nv' in body


def test_unsized_file_means_no_content_length_and_chunked_reads() -> None:
    class Pipe(io.RawIOBase):
        """A non-seekable source that counts how much is asked of it at once."""

        def __init__(self, size: int) -> None:
            self.left = size
            self.largest_read = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            self.largest_read = max(self.largest_read, size)
            n = min(self.left, size)
            self.left -= n
            return b"z" * n

    pipe = Pipe(5 * CHUNK_SIZE + 7)
    stream = MultipartStream(None, {"f": ("p", cast(IO[bytes], pipe))})  # read() is enough
    assert "Content-Length" not in stream.headers()
    total = sum(len(chunk) for chunk in stream)
    assert pipe.largest_read == CHUNK_SIZE
    assert total > 5 * CHUNK_SIZE


def test_seekable_files_are_rewound_when_sent_again() -> None:
    stream = MultipartStream(None, {"f": ("a", io.BytesIO(b"payload"))})
    assert b"".join(stream) == b"".join(stream)
    assert stream.content_length() == len(b"".join(stream))


def test_bad_field_value() -> None:
    with pytest.raises(TypeError, match="form field 'x'"):
        MultipartStream({"x": object()}, {})
