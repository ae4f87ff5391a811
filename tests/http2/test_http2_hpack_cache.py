"""The connection's header block caches (``CachingEncoder``, ``CachingDecoder``) against hpack.

A remembered block may only be reused while the dynamic table is as it was
(RFC 7541 section 2.3.2): header lists repeat, tables fill and evict, and the
peer's side must decode every block to exactly the fields sent.
"""

from __future__ import annotations

import random

import hpack
import pytest

from trio_httpcore._http2._hpack import CachingDecoder, CachingEncoder

FIELDS = [
    (b":method", b"GET"),
    (b":path", b"/"),
    (b":path", b"/other"),
    (b"x-a", b"1"),
    (b"x-b", b"2" * 40),
    (b"x-c", b"3" * 40),
    (b"server", b"test"),
]


def _header_lists(seed: int, count: int = 300) -> list[list[tuple[bytes, bytes]]]:
    """Header lists drawn from a few fields, so that they repeat, in a random order."""
    rng = random.Random(seed)
    lists = [rng.sample(FIELDS, rng.randint(1, 4)) for _ in range(8)]
    return [rng.choice(lists) for _ in range(count)]


@pytest.mark.parametrize("table_size", [0, 64, 150, 4096])
@pytest.mark.parametrize("seed", range(3))
def test_encoder_blocks_decode_to_the_fields_sent(seed: int, table_size: int) -> None:
    encoder = CachingEncoder()
    encoder.header_table_size = table_size  # a small table evicts all the time
    peer = hpack.Decoder()
    peer.max_allowed_table_size = table_size
    for fields in _header_lists(seed):
        assert peer.decode(encoder.encode(fields), raw=True) == fields


@pytest.mark.parametrize("table_size", [0, 64, 150, 4096])
@pytest.mark.parametrize("seed", range(3))
def test_decoder_reads_what_the_peer_sent(seed: int, table_size: int) -> None:
    peer = hpack.Encoder()
    peer.header_table_size = table_size
    decoder = CachingDecoder()
    decoder.max_allowed_table_size = table_size
    for fields in _header_lists(seed):
        assert decoder.decode(peer.encode(fields), raw=True) == fields


def test_never_indexed_field_is_not_confused_with_an_indexed_one() -> None:
    """The same name and value, once never-indexed (RFC 7541 section 6.2.3), once not."""
    encoder = CachingEncoder()
    secret = hpack.NeverIndexedHeaderTuple(b"authorization", b"secret")
    plain = (b"authorization", b"secret")
    first = encoder.encode([secret])
    assert encoder.encode([secret]) == first
    assert not encoder.header_table.dynamic_entries  # never indexed
    assert encoder.encode([plain]) != first


def test_a_bad_block_fails_every_time() -> None:
    decoder = CachingDecoder()
    for _ in range(2):
        with pytest.raises(hpack.HPACKError):
            decoder.decode(b"\xff\xff\xff\xff\xff\xff")
