"""A 200 MiB gzip body is decoded in bounded memory: the body is never held whole.

The server compresses on the fly, so the whole body exists nowhere; the
client decodes chunk by chunk. Peak RSS is measured as the kernel's
high-water mark (``VmHWM``, reset first through ``/proc/self/clear_refs``)
and, as a cross-check, by sampling ``VmRSS`` after every chunk.
"""

from __future__ import annotations

import gc
import re
import zlib
from collections.abc import Callable

import pytest

from tests.support.servers import Server
from trio_httpcore import AsyncClient, Client

from .conftest import pattern

MIB = 1024 * 1024
BODY_MIB = 200
LIMIT_MIB = 50


def status_kib(field: str) -> int:
    """A ``VmRSS``-style field of ``/proc/self/status``, in KiB."""
    with open("/proc/self/status") as status:
        match = re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.MULTILINE)
    assert match is not None
    return int(match.group(1))


class PeakRSS:
    """Tracks the growth of the process's resident memory from its creation on."""

    def __init__(self) -> None:
        gc.collect()
        try:
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
            self._hwm_reset = True
        except OSError:
            self._hwm_reset = False
        self.baseline = status_kib("VmRSS")
        self._sampled = self.baseline

    def sample(self) -> None:
        self._sampled = max(self._sampled, status_kib("VmRSS"))

    def growth_mib(self) -> float:
        peak = max(self._sampled, status_kib("VmHWM") if self._hwm_reset else 0)
        return (peak - self.baseline) / 1024


class Tally:
    """Counts and checksums the decoded chunks as they come, keeping none of them."""

    def __init__(self) -> None:
        self.rss = PeakRSS()
        self.total = self.crc = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.crc = zlib.crc32(chunk, self.crc)
        self.rss.sample()

    def check(self, label: str) -> None:
        growth = self.rss.growth_mib()
        print(f"\n{label}: peak RSS growth decoding {BODY_MIB} MiB of gzip: {growth:.1f} MiB")
        crc = 0
        block = pattern(MIB)
        for _ in range(BODY_MIB):
            crc = zlib.crc32(block, crc)
        assert self.total == BODY_MIB * MIB
        assert self.crc == crc
        assert growth < LIMIT_MIB


@pytest.mark.timeout(180)  # a long test: see pyproject's timeout
async def test_aiter_bytes_in_bounded_memory(client: AsyncClient) -> None:
    tally = Tally()
    async with client.stream("GET", f"/gzip-stream/{BODY_MIB}", timeout=120) as response:
        assert response.headers["content-encoding"] == "gzip"
        async for chunk in response.aiter_bytes():
            tally.add(chunk)
    tally.check("aiter_bytes (AsyncClient)")


@pytest.mark.timeout(180)  # a long test: see pyproject's timeout
def test_iter_bytes_in_bounded_memory(serve_in_thread: Callable[..., Server]) -> None:
    server = serve_in_thread()
    with Client(base_url=server.url, timeout=120) as client:
        tally = Tally()
        with client.stream("GET", f"/gzip-stream/{BODY_MIB}") as response:
            for chunk in response.iter_bytes():
                tally.add(chunk)
        tally.check("iter_bytes (blocking Client)")
