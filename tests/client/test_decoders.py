"""Content, text and line decoders: every coding, any chunking, corrupt input, bounded output."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_httpcore._client._decoders import (
    CHUNK_LIMIT,
    ContentDecoder,
    LineDecoder,
    TextDecoder,
    brotli,
    content_decoder,
    detect_encoding,
)
from trio_httpcore._exceptions import DecodingError, RemoteProtocolError

from .conftest import encode, pattern

CODINGS = ["gzip", "deflate", "rawdeflate", "br", "zstd"]


def header_for(codings: list[str]) -> list[str]:
    return [", ".join("deflate" if c == "rawdeflate" else c for c in codings)]


def decode_in_chunks(decoder: ContentDecoder, data: bytes, size: int) -> bytes:
    out = b"".join(
        piece for i in range(0, len(data), size) for piece in decoder.decode(data[i : i + size])
    )
    return out + b"".join(decoder.flush())


@given(
    codings=st.lists(st.sampled_from(CODINGS), min_size=1, max_size=3),
    size=st.integers(min_value=0, max_value=20_000),
    chunk=st.integers(min_value=1, max_value=5000),
)
def test_any_coding_stack_any_chunking(codings: list[str], size: int, chunk: int) -> None:
    data = pattern(size)
    encoded = data
    for coding in codings:
        encoded = encode(encoded, coding)
    assert decode_in_chunks(content_decoder(header_for(codings)), encoded, chunk) == data


@pytest.mark.parametrize("coding", CODINGS)
def test_corrupt_and_truncated_bodies(coding: str) -> None:
    encoded = encode(pattern(50_000), coding)
    with pytest.raises(DecodingError, match="ended before") as info:
        decode_in_chunks(content_decoder(header_for([coding])), encoded[: len(encoded) // 2], 999)
    assert isinstance(info.value, RemoteProtocolError)
    corrupt = encoded[:10] + bytes(b ^ 0x55 for b in encoded[10:40]) + encoded[40:]
    with pytest.raises(DecodingError):
        decode_in_chunks(content_decoder(header_for([coding])), corrupt, 999)


def test_empty_body_with_a_coding_is_fine() -> None:
    # HEAD responses and 204s say Content-Encoding but have no body at all.
    for coding in CODINGS:
        assert decode_in_chunks(content_decoder(header_for([coding])), b"", 1) == b""


def test_gzip_members_and_trailing_data() -> None:
    two = encode(b"first ", "gzip") + encode(b"second", "gzip")
    assert decode_in_chunks(content_decoder(["gzip"]), two, 7) == b"first second"
    with pytest.raises(DecodingError, match="after the end"):
        decode_in_chunks(content_decoder(["deflate"]), encode(b"x", "deflate") + b"junk", 100)
    zstd_frames = encode(b"one ", "zstd") + encode(b"two", "zstd")
    assert decode_in_chunks(content_decoder(["zstd"]), zstd_frames, 5) == b"one two"


@pytest.mark.timeout(180)  # a long test: see pyproject's timeout
# brotli may overshoot its output limit by up to a block.
@pytest.mark.parametrize(
    ("coding", "bound"),
    [
        ("gzip", CHUNK_LIMIT),
        ("deflate", CHUNK_LIMIT),
        ("br", 2 * CHUNK_LIMIT),
        ("zstd", CHUNK_LIMIT),
    ],
)
def test_output_pieces_are_bounded(coding: str, bound: int) -> None:
    # 64 MiB of zeros compress to ~64 KiB or less: one input chunk must not become
    # one huge bytes.
    bomb = encode(bytes(64 * 1024 * 1024), coding)
    decoder = content_decoder([coding])
    sizes = [len(piece) for piece in decoder.decode(bomb)]
    sizes += [len(piece) for piece in decoder.flush()]
    assert sum(sizes) == 64 * 1024 * 1024
    # brotli before 1.2 and brotlicffi before 1.2 cannot bound their output (the
    # decoder's docstring says so): with those, each chunk's output comes whole.
    bounded = coding != "br" or hasattr(brotli.Decompressor(), "can_accept_more_data")
    assert max(sizes) <= bound if bounded else len(sizes) == 1


def test_unknown_codings_pass_through() -> None:
    decoder = content_decoder(["x-custom", "identity"])
    assert decode_in_chunks(decoder, b"as is", 2) == b"as is"
    assert type(content_decoder([])) is ContentDecoder


@given(st.text(), st.sampled_from(["utf-8", "utf-16", "cp1252", "shift_jis"]), st.data())
def test_text_decoder_any_split(text: str, encoding: str, data: st.DataObject) -> None:
    try:
        encoded = text.encode(encoding)
    except UnicodeEncodeError:
        return
    whole = encoded.decode(encoding)  # not always ``text``: "¥" is b"\\" in shift_jis
    cuts = sorted(data.draw(st.lists(st.integers(0, len(encoded)), max_size=5)))
    pieces = [encoded[a:b] for a, b in zip([0, *cuts], [*cuts, len(encoded)], strict=True)]
    decoder = TextDecoder(encoding)
    assert "".join(decoder.decode(piece) for piece in pieces) + decoder.flush() == whole


def test_text_decoder_detects_the_encoding() -> None:
    text = "Příliš žluťoučký kůň úpěl ďábelské ódy. " * 200
    encoded = text.encode("cp1250")
    decoder = TextDecoder()
    out = "".join(decoder.decode(encoded[i : i + 100]) for i in range(0, len(encoded), 100))
    out += decoder.flush()
    assert out == text
    assert decoder.encoding is not None and decoder.encoding != "utf-8"
    # UTF-8 text flows at once, even a character split across chunks.
    streaming = TextDecoder()
    assert streaming.decode("data: ☃".encode()[:-1]) == "data: "
    assert streaming.encoding == "utf-8"
    assert streaming.decode("☃\n".encode()[-2:]) == "☃\n"
    assert streaming.flush() == ""
    short = TextDecoder()
    assert short.decode(b"\xe9t\xe9") == ""  # not UTF-8, and too short to guess yet
    assert short.flush() != ""
    assert TextDecoder().flush() == ""
    assert detect_encoding(b"plain ascii") == "utf-8"


_LINE_PARTS = st.sampled_from(["a", "bc", "\r", "\n", "\r\n", "x\ry", ""])


@given(st.lists(_LINE_PARTS, max_size=12), st.data())
def test_line_decoder_any_split(parts: list[str], data: st.DataObject) -> None:
    text = "".join(parts)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=5)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    decoder = LineDecoder()
    lines = [line for piece in pieces for line in decoder.decode(piece)] + decoder.flush()
    # The reference: split on the three HTTP line breaks; a final break ends the last line.
    expected = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if expected[-1] == "":
        expected.pop()
    assert lines == expected


@given(st.lists(st.sampled_from(CODINGS), min_size=1, max_size=2), st.data())
def test_mangled_bodies_decode_or_raise_decoding_error(
    codings: list[str], data: st.DataObject
) -> None:
    encoded = pattern(3000)
    for coding in codings:
        encoded = encode(encoded, coding)
    mangled = bytearray(encoded)
    for _ in range(data.draw(st.integers(0, 3))):
        mangled[data.draw(st.integers(0, len(mangled) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mangled)))
    body = bytes(mangled[:cut]) + data.draw(st.binary(max_size=5))
    # Any other error (zlib.error, brotli.error, ZstdError) fails the test.
    try:
        decoded = decode_in_chunks(content_decoder(header_for(codings)), body, 7)
    except DecodingError:
        assert body != encoded
    else:
        assert decoded == pattern(3000) or body != encoded
