"""Streaming decoders: content codings (RFC 9110 section 8.4), text and lines.

Every decoder is fed one chunk at a time and yields output as it goes, so a
body is never held whole. Every decoder also bounds each output piece
(``CHUNK_LIMIT``), and the work of one step: a highly compressed chunk does
not turn into one huge ``bytes``. Errors from the codecs surface as :class:`DecodingError`.
"""

from __future__ import annotations

import codecs
import importlib
import re
import zlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from .._exceptions import DecodingError


def _optional_module(*names: str) -> Any:
    """The first of the modules ``names`` that is installed, or ``None``."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:  # try the next name (brotlicffi: the second run of nox -s tests)
            continue
    return None  # pragma: no cover


brotli = _optional_module("brotli", "brotlicffi")
zstandard = _optional_module("zstandard")
charset_normalizer = _optional_module("charset_normalizer")

CHUNK_LIMIT = 256 * 1024
"""The most bytes a decoder emits at once (br: give or take a block)."""


class ContentDecoder:
    """Undoes one content coding. The base class is ``identity``: bytes pass through."""

    def decode(self, data: bytes) -> Iterator[bytes]:
        """Decoded output of the next chunk of the encoded body."""
        if data:
            yield data

    def flush(self) -> Iterator[bytes]:
        """Output still held when the body has ended; raises if the body was cut short."""
        return iter(())


class ZlibDecoder(ContentDecoder):
    """``gzip`` (RFC 1952, members may follow each other) and ``deflate``.

    ``deflate`` is the zlib format (RFC 9110 section 8.4.1.2, RFC 1950), but
    some servers send raw DEFLATE (RFC 1951): when the first bytes are not a
    zlib header, they are decoded as raw DEFLATE instead.
    """

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._wbits = zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS
        self._decompressor = zlib.decompressobj(self._wbits)
        # deflate: the first bytes, held until the two of a zlib header are in.
        self._head: bytes | None = None if gzip else b""
        self._started = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        self._started = True
        if self._head is not None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, None
            if not _is_zlib_header(data):
                self._wbits = -zlib.MAX_WBITS
                self._decompressor = zlib.decompressobj(self._wbits)
        yield from self._drain(data)

    def _drain(self, data: bytes) -> Iterator[bytes]:
        decompressor = self._decompressor
        while True:
            try:
                out = decompressor.decompress(data, CHUNK_LIMIT)
            except zlib.error as exc:
                raise DecodingError(f"Invalid {self._name} body: {exc}") from exc
            if out:
                yield out
            data = decompressor.unconsumed_tail
            if decompressor.eof and decompressor.unused_data:
                if not self._gzip:
                    raise DecodingError(f"Data after the end of the {self._name} body.")
                # Another gzip member follows (RFC 1952 section 2.2).
                data = decompressor.unused_data
                decompressor = self._decompressor = zlib.decompressobj(self._wbits)
            elif not data:
                return

    @property
    def _name(self) -> str:
        return "gzip" if self._gzip else "deflate"

    def flush(self) -> Iterator[bytes]:
        if not self._started:
            return
        if self._head:
            yield from self._drain(self._head)
        try:
            out = self._decompressor.flush()
        except zlib.error as exc:  # pragma: no cover - zlib raises in decompress() instead
            raise DecodingError(f"Invalid {self._name} body: {exc}") from exc
        if out:
            yield out
        if not self._decompressor.eof:
            raise DecodingError(f"The {self._name} body ended before the compressed data did.")


def _is_zlib_header(data: bytes) -> bool:
    """Whether ``data`` starts with a zlib header: method 8, check bits (RFC 1950 2.2)."""
    return data[0] & 0x0F == 8 and data[0] >> 4 <= 7 and (data[0] << 8 | data[1]) % 31 == 0


class BrotliDecoder(ContentDecoder):
    """``br`` (RFC 7932), with the ``brotli`` or ``brotlicffi`` package.

    With ``brotli`` 1.2 or newer the output pieces are bounded like zlib's
    (give or take a block); older versions and brotlicffi return each chunk's
    output whole.
    """

    def __init__(self) -> None:
        self._decompressor: Any = brotli.Decompressor()
        self._bounded = hasattr(self._decompressor, "can_accept_more_data")
        self._started = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        self._started = True
        out = self._process(data)
        # With its output bounded, the decoder holds the rest until asked again.
        while out:
            yield out
            out = self._process(b"") if self._bounded else b""

    def _process(self, data: bytes) -> bytes:
        try:
            if self._bounded:
                return bytes(self._decompressor.process(data, output_buffer_limit=CHUNK_LIMIT))
            # Older brotli calls it process(), brotlicffi decompress().
            process = getattr(self._decompressor, "process", None)
            return bytes((process or self._decompressor.decompress)(data))
        except brotli.error as exc:
            raise DecodingError(f"Invalid br body: {exc}") from exc

    def flush(self) -> Iterator[bytes]:
        if self._started and not self._decompressor.is_finished():
            raise DecodingError("The br body ended before the compressed data did.")
        return iter(())


# zstandard's decompressobj has no output limit: a call returns all that its
# input decodes to (a 1 GiB frame of zeros is 32 KiB). So input goes in small
# pieces. A block decodes to at most 128 KiB and takes at least 4 bytes (a
# 3-byte header and one byte of RLE; RFC 8878 section 3.1.1.2), so a piece of
# ZSTD_PIECE bytes decodes to at most 66 blocks, 8.25 MiB, handed on in
# CHUNK_LIMIT slices. 256 bytes cost a third more time than whole chunks on
# ordinary text (64 bytes cost three times as much).
ZSTD_PIECE = 256


class ZstdDecoder(ContentDecoder):
    """``zstd`` (RFC 8878), with the ``zstandard`` package; frames may follow each other.

    Output comes in pieces of at most ``CHUNK_LIMIT`` bytes, and one step
    decodes at most ``ZSTD_PIECE`` bytes of input.
    """

    def __init__(self) -> None:
        self._decompressor = zstandard.ZstdDecompressor().decompressobj()
        self._started = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        view = memoryview(data)
        for start in range(0, len(view), ZSTD_PIECE):
            yield from self._feed(view[start : start + ZSTD_PIECE])

    def _feed(self, piece: memoryview) -> Iterator[bytes]:
        while piece:
            self._started = True
            try:
                out = self._decompressor.decompress(piece)
            except zstandard.ZstdError as exc:
                raise DecodingError(f"Invalid zstd body: {exc}") from exc
            if len(out) <= CHUNK_LIMIT:
                if out:
                    yield out
            else:
                for start in range(0, len(out), CHUNK_LIMIT):
                    yield out[start : start + CHUNK_LIMIT]
            piece = memoryview(b"")
            if self._decompressor.eof:
                # Another frame may follow (RFC 8878 section 3.1).
                piece = memoryview(self._decompressor.unused_data)
                self._decompressor = zstandard.ZstdDecompressor().decompressobj()
                self._started = False

    def flush(self) -> Iterator[bytes]:
        if self._started and not self._decompressor.eof:
            raise DecodingError("The zstd body ended before the compressed data did.")
        return iter(())


class MultiDecoder(ContentDecoder):
    """Stacked codings, e.g. ``Content-Encoding: gzip, br``: undone last-applied first."""

    def __init__(self, decoders: list[ContentDecoder]) -> None:
        # RFC 9110 section 8.4: codings are listed in the order they were applied.
        self._decoders = list(reversed(decoders))

    def decode(self, data: bytes) -> Iterator[bytes]:
        return self._through(1, self._decoders[0].decode(data))

    def flush(self) -> Iterator[bytes]:
        for index, decoder in enumerate(self._decoders):
            yield from self._through(index + 1, decoder.flush())

    def _through(self, index: int, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """Feed ``chunks``, output of decoder ``index - 1``, to decoder ``index`` onwards."""
        if index == len(self._decoders):
            yield from chunks
            return
        for chunk in chunks:
            yield from self._through(index + 1, self._decoders[index].decode(chunk))


def _decoder_factories() -> dict[str, Callable[[], ContentDecoder]]:
    factories: dict[str, Callable[[], ContentDecoder]] = {
        "identity": ContentDecoder,
        "gzip": lambda: ZlibDecoder(gzip=True),
        "x-gzip": lambda: ZlibDecoder(gzip=True),
        "deflate": lambda: ZlibDecoder(gzip=False),
    }
    if brotli is not None:
        factories["br"] = BrotliDecoder
    if zstandard is not None:
        factories["zstd"] = ZstdDecoder
    return factories


DECODERS = _decoder_factories()

ACCEPT_ENCODING = ", ".join(name for name in DECODERS if name not in ("identity", "x-gzip"))
"""The ``Accept-Encoding`` value offering every coding this installation can decode."""

_NEEDS_EXTRA = {"br": "brotli", "zstd": "zstandard"}


def content_decoder(content_encoding: list[str]) -> ContentDecoder:
    """The decoder for the ``Content-Encoding`` values ``content_encoding``.

    Unknown codings are left undone, as RFC 9110 section 8.4.1 lets a
    client that did not ask for them do; ``br`` or ``zstd`` without their
    package installed raise :class:`DecodingError` naming the extra to install.
    """
    decoders = []
    for value in content_encoding:
        for name in value.split(","):
            coding = name.strip().lower()
            if coding in DECODERS:
                decoders.append(DECODERS[coding]())
            elif coding in _NEEDS_EXTRA:  # pragma: no cover - depends on the extras
                extra = _NEEDS_EXTRA[coding]
                raise DecodingError(f"The body is {coding}-encoded: install {extra!r} to read it.")
    if not decoders:
        return ContentDecoder()
    if len(decoders) == 1:
        return decoders[0]
    return MultiDecoder(decoders)


# Text.

_DETECT_BYTES = 4096
"""How much of a body that is not UTF-8 and has no charset is held to guess its encoding."""


def _is_utf8(data: bytes, final: bool) -> bool:
    """Whether ``data`` is UTF-8 (with ``final=False``, possibly cut inside a character)."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(data: bytes, final: bool = True) -> str:
    """A best guess at the encoding of ``data``: UTF-8 if it fits, else charset_normalizer's.

    Without charset_normalizer installed, or when it has no answer, the guess
    is UTF-8 (RFC 8259 and WHATWG Encoding make it the web's default).
    """
    if _is_utf8(data, final):
        return "utf-8"
    if charset_normalizer is not None:
        best = charset_normalizer.from_bytes(data).best()
        if best is not None:
            return str(best.encoding)
    return "utf-8"


class TextDecoder:
    """Bytes to ``str`` incrementally; a character split across chunks comes out whole.

    With ``encoding=None`` the encoding is guessed (:func:`detect_encoding`)
    from the first chunk: UTF-8 if it is UTF-8, so a stream of text flows at
    once. Otherwise the first few KiB are held, for a better guess, before
    any text comes out. Undecodable bytes become U+FFFD rather than an error.
    """

    def __init__(self, encoding: str | None = None) -> None:
        self._decoder: codecs.IncrementalDecoder | None = None
        self._held = b""
        if encoding is not None:
            self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self.encoding = encoding

    def decode(self, data: bytes) -> str:
        """Text of the next chunk; may hold back the bytes of a split character."""
        if self._decoder is not None:
            return self._decoder.decode(data)
        self._held += data
        if not self._held:
            return ""
        if len(self._held) >= _DETECT_BYTES or _is_utf8(self._held, final=False):
            return self._start(final=False)
        return ""

    def flush(self) -> str:
        """The rest of the text, once the body has ended."""
        text = self._start(final=True) if self._decoder is None else ""
        assert self._decoder is not None
        return text + self._decoder.decode(b"", True)

    def _start(self, final: bool) -> str:
        self.encoding = detect_encoding(self._held, final)
        self._decoder = codecs.getincrementaldecoder(self.encoding)(errors="replace")
        held, self._held = self._held, b""
        return self._decoder.decode(held)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class LineDecoder:
    """Text to lines, splitting on ``\\r\\n``, ``\\n`` or ``\\r`` even across chunks.

    Lines come out without their line break. Only these three break a line
    (not the other Unicode separators ``str.splitlines`` knows).
    """

    def __init__(self) -> None:
        self._buffer = ""

    def decode(self, text: str) -> list[str]:
        """Whole lines completed by ``text``."""
        text = self._buffer + text
        # A trailing "\r" may be the first half of "\r\n": wait for the next chunk.
        end = len(text) - 1 if text.endswith("\r") else len(text)
        lines = []
        start = 0
        for match in _LINE_BREAK.finditer(text, 0, end):
            lines.append(text[start : match.start()])
            start = match.end()
        self._buffer = text[start:]
        return lines

    def flush(self) -> list[str]:
        """The last line, once the text has ended (none if it ended with a line break)."""
        text, self._buffer = self._buffer, ""
        if not text:
            return []
        return [text[:-1]] if text.endswith("\r") else [text]


Piece = TypeVar("Piece", bytes, str)


class Rechunker(Generic[Piece]):
    """Cuts and joins pieces of a body into pieces of ``size`` (the last may be shorter).

    ``size=None`` passes each piece on as it comes, empty ones left out.
    """

    def __init__(self, size: int | None) -> None:
        if size is not None and size <= 0:
            raise ValueError(f"chunk_size must be a positive number, not {size!r}.")
        self._size = size
        self._held: list[Piece] = []

    def feed(self, piece: Piece) -> list[Piece]:
        """The whole pieces ``piece`` completes."""
        if self._size is None:
            return [piece] if piece else []
        self._held.append(piece)
        if sum(map(len, self._held)) < self._size:
            return []
        joined = piece[:0].join(self._held)
        cut = len(joined) - len(joined) % self._size
        self._held = [joined[cut:]]
        return [joined[start : start + self._size] for start in range(0, cut, self._size)]

    def flush(self) -> list[Piece]:
        """What is left at the end of the body."""
        rest = [piece for piece in self._held if piece]
        self._held = []
        return [rest[0][:0].join(rest)] if rest else []


def parse_links(field: str) -> list[dict[str, str]]:
    """The links of a ``Link`` field (RFC 8288 section 3), as httpx parses them."""
    links: list[dict[str, str]] = []
    strip = " '\""
    for value in re.split(r", *<", field.strip(strip)):
        target, _, params = value.partition(";")
        link = {"url": target.strip("<> '\"")}
        for param in params.split(";"):
            key, equals, param_value = param.partition("=")
            if not equals:
                break
            link[key.strip(strip)] = param_value.strip(strip)
        links.append(link)
    return links
