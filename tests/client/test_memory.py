"""A 200 MiB gzip body is decoded in bounded memory: the body is never held whole."""

from __future__ import annotations

import gc
import re
import zlib

from trio_httpcore._client import AsyncClient

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


def reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


async def test_200_mib_gzip_stream_decoded_in_bounded_memory(client: AsyncClient) -> None:
    expected_crc = 0
    block = pattern(MIB)
    for _ in range(BODY_MIB):
        expected_crc = zlib.crc32(block, expected_crc)
    del block
    gc.collect()
    peak_was_reset = reset_peak_rss()
    baseline = status_kib("VmRSS")
    sampled_peak = baseline
    total = crc = 0
    async with client.stream("GET", f"/gzip-stream/{BODY_MIB}", timeout=120) as response:
        assert response.headers["content-encoding"] == "gzip"
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            crc = zlib.crc32(chunk, crc)
            sampled_peak = max(sampled_peak, status_kib("VmRSS"))
    peak = max(sampled_peak, status_kib("VmHWM") if peak_was_reset else 0)
    growth_mib = (peak - baseline) / 1024
    print(f"\npeak RSS growth decoding {BODY_MIB} MiB of gzip: {growth_mib:.1f} MiB")
    assert total == BODY_MIB * MIB
    assert crc == expected_crc
    assert growth_mib < LIMIT_MIB
