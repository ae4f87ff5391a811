"""Multipart uploads (``files=``) through the client, parsed by a streaming server.

:class:`UploadApp` parses ``multipart/form-data`` as the body arrives and
keeps only a hash and a size per part, so a 1 GiB upload costs the server no
memory either: the memory the test measures is the client's.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from tests.support.servers import Server
from trio_httpcore import AsyncClient, Client, RedirectBodyUnavailable, Timeout

from .conftest import ClientApp, Receive, Scope, Send

GiB = 1 << 30
MiB = 1 << 20


class MultipartParser:
    """A streaming ``multipart/form-data`` parser (RFC 7578, RFC 2046 section 5.1.1).

    :meth:`feed` takes the body in pieces of any size; a part's content is
    hashed as it goes, holding back only what could be the start of a
    delimiter. ``parts`` gets one dict per part: its head fields, ``size``
    and ``sha256``.
    """

    def __init__(self, boundary: bytes) -> None:
        # The first delimiter may have no CRLF before it: start as if one came.
        self.delimiter = b"\r\n--" + boundary
        self.buffer = b"\r\n"
        self.state = "preamble"
        self.parts: list[dict[str, Any]] = []
        self.peak_buffer = 0
        self._hash = hashlib.sha256()
        self._size = 0

    def feed(self, data: bytes) -> None:
        self.buffer += data
        self.peak_buffer = max(self.peak_buffer, len(self.buffer))
        while self._step():
            pass

    def _step(self) -> bool:
        """Parse what the buffer allows; ``False`` when more data is needed."""
        keep = len(self.delimiter) - 1
        if self.state in ("preamble", "content"):
            index = self.buffer.find(self.delimiter)
            if index < 0:
                if self.state == "content" and len(self.buffer) > keep:
                    self._content(self.buffer[:-keep])
                self.buffer = self.buffer[-keep:]
                return False
            if self.state == "content":
                self._content(self.buffer[:index])
                self.parts[-1].update(size=self._size, sha256=self._hash.hexdigest())
            self.buffer = self.buffer[index + len(self.delimiter) :]
            self.state = "delimiter"
            return True
        if self.state == "delimiter":
            if len(self.buffer) < 2:
                return False
            if self.buffer.startswith(b"--"):
                self.state = "end"
                return False
            assert self.buffer.startswith(b"\r\n"), self.buffer[:20]
            self.buffer = self.buffer[2:]
            self.state = "head"
            return True
        if self.state == "head":
            index = self.buffer.find(b"\r\n\r\n")
            if index < 0:
                assert len(self.buffer) < 64 * 1024, "a part head that never ends"
                return False
            head = self.buffer[:index].decode("utf-8")
            fields = dict(line.split(": ", 1) for line in head.split("\r\n"))
            self.parts.append({name.lower(): value for name, value in fields.items()})
            self.buffer = self.buffer[index + 4 :]
            self._hash, self._size = hashlib.sha256(), 0
            self.state = "content"
            return True
        return False  # "end": the epilogue is ignored

    def _content(self, data: bytes) -> None:
        self._hash.update(data)
        self._size += len(data)


class UploadApp(ClientApp):
    """``/upload`` parses a multipart body as it streams in; other routes are ClientApp's.

    The answer is JSON: ``parts`` (head fields, size, sha256), ``received``
    (body bytes), ``content_length`` and ``transfer_encoding`` as sent.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/upload":
            await super().__call__(scope, receive, send)
            return
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        content_type = headers["content-type"]
        assert content_type.startswith("multipart/form-data; boundary="), content_type
        parser = MultipartParser(content_type.partition("boundary=")[2].encode())
        received = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            received += len(chunk)
            parser.feed(chunk)
            if not message.get("more_body", False):
                break
        assert parser.state == "end", parser.state
        answer = {
            "parts": parser.parts,
            "received": received,
            "peak_buffer": parser.peak_buffer,
            "content_length": headers.get("content-length"),
            "transfer_encoding": headers.get("transfer-encoding"),
        }
        await self.respond(send, 200, json.dumps(answer).encode())


@pytest.fixture
def client_app() -> UploadApp:
    return UploadApp()


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` memory figure (``VmRSS``, ``VmHWM``) in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> None:
    """Set ``VmHWM`` (the peak RSS) to the current RSS (proc(5), ``/proc/pid/clear_refs``)."""
    Path("/proc/self/clear_refs").write_text("5")


def _sha256_of(file: BinaryIO) -> str:
    digest = hashlib.sha256()
    file.seek(0)
    while chunk := file.read(4 * MiB):
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


@pytest.mark.timeout(180)  # a long test: see pyproject's timeout
async def test_one_gib_upload_in_bounded_memory(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """1 GiB from a sparse file: peak RSS grows < 50 MiB, the server's part is identical.

    Client and server share this process, so the peak (VmHWM, reset through
    /proc/self/clear_refs before the upload) covers both. Marks at the start,
    the middle and the end make the hash see every region in place.
    """
    path = tmp_path / "sparse.bin"
    with path.open("wb") as file:
        file.truncate(GiB)
        for offset, mark in ((0, b"start"), (GiB // 2 + 1, b"middle"), (GiB - 3, b"end")):
            file.seek(offset)
            file.write(mark)
    with path.open("rb") as file:
        expected = _sha256_of(file)
        async with AsyncClient(base_url=server.url, timeout=Timeout(60.0)) as client:
            await client.get("/status/200")  # the connection is open, the pool warmed up
            _reset_peak_rss()
            before = _status_kib("VmRSS")
            started = time.perf_counter()
            response = await client.post("/upload", data={"note": "sparse"}, files={"upload": file})
            elapsed = time.perf_counter() - started
            growth = _status_kib("VmHWM") - before
    response.raise_for_status()
    answer = response.json()
    with capsys.disabled():
        print(f"\n1 GiB multipart upload: peak RSS growth {growth / 1024:.1f} MiB, {elapsed:.1f} s")
    note, upload = answer["parts"]
    assert note["content-disposition"] == 'form-data; name="note"' and note["size"] == 6
    assert upload["content-disposition"] == 'form-data; name="upload"; filename="sparse.bin"'
    assert upload["content-type"] == "application/octet-stream"
    assert (upload["size"], upload["sha256"]) == (GiB, expected)
    # Sent with its length known (every part's size was), not chunked.
    assert answer["content_length"] == str(answer["received"])
    assert answer["transfer_encoding"] is None
    assert growth < 50 * 1024, f"peak RSS grew by {growth} KiB"


async def test_fields_files_and_names(client: AsyncClient) -> None:
    files = [
        ("a", ("notes.txt", io.BytesIO(b"text body"))),
        ("a", ('we"ird\r\nname ☃.json', b'{"x": 1}', "application/json")),
        ("b", (None, b"no filename", None, {"X-Extra": "1"})),
    ]
    response = await client.post("/upload", data={"k": ["1", "2"], "n": 3}, files=files)
    parts = response.json()["parts"]
    heads = [{k: v for k, v in p.items() if k not in ("size", "sha256")} for p in parts]
    assert heads == [
        {"content-disposition": 'form-data; name="k"'},
        {"content-disposition": 'form-data; name="k"'},
        {"content-disposition": 'form-data; name="n"'},
        {
            "content-disposition": 'form-data; name="a"; filename="notes.txt"',
            "content-type": "text/plain",
        },
        {
            "content-disposition": 'form-data; name="a"; filename="we%22ird%0D%0Aname ☃.json"',
            "content-type": "application/json",
        },
        {"content-disposition": 'form-data; name="b"', "x-extra": "1"},
    ]
    contents = [b"1", b"2", b"3", b"text body", b'{"x": 1}', b"no filename"]
    assert [p["sha256"] for p in parts] == [hashlib.sha256(c).hexdigest() for c in contents]


async def test_unknown_size_is_chunked(client: AsyncClient) -> None:
    """A file that can't tell its size (a pipe) goes chunked, no Content-Length."""
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb") as pipe:
        with os.fdopen(write_fd, "wb") as writer:
            writer.write(b"from a pipe")
        response = await client.post("/upload", files={"p": ("p.bin", pipe)})
    answer = response.json()
    assert (answer["content_length"], answer["transfer_encoding"]) == (None, "chunked")
    assert answer["parts"][0]["sha256"] == hashlib.sha256(b"from a pipe").hexdigest()


async def test_307_resends_a_seekable_file_and_refuses_a_pipe(
    client: AsyncClient, tmp_path: Path
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 300_000)
    with path.open("rb") as file:
        response = await client.post(
            "/redirect/307", params={"location": "/upload"}, files={"f": file}
        )
    assert [r.status_code for r in response.history] == [307]
    assert response.json()["parts"][0]["size"] == 300_000  # rewound, sent whole again
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe, pytest.raises(RedirectBodyUnavailable):
        await client.post("/redirect/307", params={"location": "/upload"}, files={"p": pipe})


def test_blocking_client_upload(serve_in_thread: Callable[..., Server], tmp_path: Path) -> None:
    server = serve_in_thread()
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(3 * MiB))
    with Client(base_url=server.url) as client, path.open("rb") as file:
        answer = client.post("/upload", files={"f": file}).json()
        expected = _sha256_of(file)
    assert answer["parts"][0]["sha256"] == expected


def test_the_parser_handles_any_split() -> None:
    """UploadApp's parser: the same parts whatever the sizes of the pieces fed to it."""
    near_miss = b"\r\n-XyZ\r\n--Xy"  # delimiter-like, but not one
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n' + near_miss + b"\r\n"
        b'--XyZ\r\nContent-Disposition: form-data; name="b"\r\n\r\nb\r\n--XyZ--\r\n'
    )
    for size in (1, 2, 3, 7, len(body)):
        parser = MultipartParser(b"XyZ")
        for start in range(0, len(body), size):
            parser.feed(body[start : start + size])
        assert parser.state == "end"
        hashes = [p["sha256"] for p in parser.parts]
        assert hashes == [hashlib.sha256(c).hexdigest() for c in (near_miss, b"b")]
