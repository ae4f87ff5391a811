"""Decompression bombs: a 1 GiB body in each content coding comes out of ``aiter_bytes`` in
bounded pieces and bounded memory (issue 19).

Each bomb is 1 GiB of zeros, a few hundred KiB to a few bytes per MiB on the wire, served
by a scripted trio server. An unbounded decoder turns the first chunk off the wire into
hundreds of MiB in one step; the test reads the first ``READ`` bytes of output (the step
where an unbounded decoder blows up; reading on to the end adds seconds, not information)
and checks the largest piece and the peak of traced memory.
"""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

import pytest

from tests.support.raw import RawConn
from trio_httpcore._client import AsyncClient

brotli = pytest.importorskip("brotli")
zstandard = pytest.importorskip("zstandard")

MIB = 1024 * 1024
BOMB = 1024 * MIB  # zeros, decoded
READ = 64 * MIB  # output read before the response is closed
LARGEST_PIECE = MIB
MEMORY_GROWTH = 16 * MIB


def _zlib_bomb(wbits: int) -> bytes:
    """gzip (``wbits=31``) or zlib (15) of ``BOMB`` zeros, one stream.

    After a full flush the compressor starts afresh, so every further MiB of zeros
    compresses to the same bytes: one MiB is compressed, its bytes repeated, and the
    trailer (check value and, for gzip, length: RFC 1952, RFC 1950) computed.
    """
    zeros = bytes(MIB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush(zlib.Z_FINISH)[: -8 if wbits > 15 else -4]  # final empty block
    check = 0 if wbits > 15 else 1
    for _ in range(BOMB // MIB):
        check = (zlib.crc32 if wbits > 15 else zlib.adler32)(zeros, check)
    trailer = struct.pack("<II", check, BOMB % 2**32) if wbits > 15 else struct.pack(">I", check)
    return first + repeated * (BOMB // MIB - 1) + end + trailer


def _streamed(compress: Callable[[bytes], bytes], finish: Callable[[], bytes]) -> bytes:
    zeros = bytes(MIB)
    return b"".join(compress(zeros) for _ in range(BOMB // MIB)) + finish()


def _br_bomb() -> bytes:
    compressor = brotli.Compressor(quality=1)
    return _streamed(compressor.process, compressor.finish)


def _zstd_bomb() -> bytes:
    compressor = zstandard.ZstdCompressor(level=1).compressobj()
    return _streamed(compressor.compress, compressor.flush)


def _gzip(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


BOMBS: dict[str, Callable[[], bytes]] = {
    "gzip": lambda: _zlib_bomb(31),
    "deflate": lambda: _zlib_bomb(15),
    "br": _br_bomb,
    "zstd": _zstd_bomb,
    # Stacked: zstd applied first, then gzip (RFC 9110 section 8.4: in the order applied).
    "zstd, gzip": lambda: _gzip(_zstd_bomb()),
}


def test_the_bombs_are_valid() -> None:
    """The crafted zlib streams decode to exactly ``BOMB`` zeros, checksums included."""
    for wbits in (31, 15):
        decompressor = zlib.decompressobj(wbits)
        data, total = _zlib_bomb(wbits), 0
        while data:
            out = decompressor.decompress(data, 64 * MIB)
            assert not out.strip(b"\0")
            total += len(out)
            data = decompressor.unconsumed_tail
        assert decompressor.eof and total == BOMB


@pytest.mark.parametrize("coding", list(BOMBS))
async def test_a_1_gib_bomb_comes_out_in_bounded_pieces_and_memory(
    start_raw_server: Callable[..., Any], coding: str
) -> None:
    body = BOMBS[coding]()
    assert len(body) < BOMB // 1000

    async def serve_bomb(conn: RawConn) -> None:
        await conn.read_request()
        head = b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n"
        await conn.send(head % (coding.encode(), len(body)) + body)
        await conn.wait_closed_by_peer()

    server = await start_raw_server(serve_bomb)
    async with AsyncClient() as client:
        tracemalloc.start()
        try:
            baseline, _ = tracemalloc.get_traced_memory()
            largest = read = 0
            async with (
                client.stream("GET", server.url + "/") as response,
                aclosing(response.aiter_bytes()) as pieces,
            ):
                async for piece in pieces:
                    largest = max(largest, len(piece))
                    read += len(piece)
                    if read >= READ:
                        break
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert read >= READ
    assert largest < LARGEST_PIECE, largest
    assert peak - baseline < MEMORY_GROWTH, peak - baseline
