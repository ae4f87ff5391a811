"""HPACK (RFC 7541) for an HTTP/2 connection: hpack's encoder and decoder, remembering blocks.

A header block encodes, and decodes, the same as before as long as the
dynamic table and the limits are as they were (RFC 7541 section 2.3.2):
:class:`CachingEncoder` and :class:`CachingDecoder` reuse such blocks
instead of working them out field by field in Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import hpack
import hpack.table

# How many header blocks a connection remembers in each of its caches
# (CachingEncoder, CachingDecoder, _headers.ResponseFieldsChecker). A
# server's blocks change with its Date header, once a second.
HEADER_BLOCK_CACHE_SIZE = 64


def _table_state(table: hpack.table.HeaderTable) -> tuple[object, ...]:
    """What an HPACK dynamic table holds, in a form to compare later (RFC 7541 section 2.3.2).

    Entries are only ever added at the front, each a new object, and evicted
    from the back: the front entry's identity (the state holds the entry, so
    its id is not reused), the number of entries and the size limit tell
    whether the table changed in between.
    """
    entries = table.dynamic_entries
    front = entries[0] if entries else None
    return (id(front), front, len(entries), table.maxsize, table.resized)


def remember(cache: dict[Any, Any], key: object, value: object) -> None:
    """Put ``key`` in a header block cache, emptied first when full (one step, no trimming)."""
    if len(cache) >= HEADER_BLOCK_CACHE_SIZE:
        cache.clear()
    cache[key] = value


class CachingEncoder(hpack.Encoder):
    """hpack's encoder, remembering each header block it made without changing its table.

    A request that repeats an earlier one's fields finds all of them in the
    table (RFC 7541 section 2.3.3): its block is only indexes, the same bytes
    as long as the table stays as it was, which hpack would otherwise work
    out field by field each time.
    """

    def __init__(self) -> None:
        super().__init__()
        self._blocks: dict[tuple[object, ...], tuple[tuple[object, ...], bytes]] = {}

    def encode(self, headers: Iterable[Any], huffman: bool = True) -> bytes:
        fields = tuple(headers)
        # A never-indexed field (RFC 7541 section 6.2.3) equals the plain
        # tuple of its name and value: the types are part of the key.
        key = (huffman, fields, tuple(map(type, fields)))
        state = _table_state(self.header_table)
        cached = self._blocks.get(key)
        if cached is not None and cached[0] == state:
            return cached[1]
        block = super().encode(fields, huffman)
        if _table_state(self.header_table) == state:
            remember(self._blocks, key, (state, block))
        return block


class CachingDecoder(hpack.Decoder):
    """hpack's decoder, remembering each header block it decoded without changing its table.

    Servers repeat their response header blocks (nginx's differ only when
    its Date does, once a second), and decoding one in Python, Huffman
    strings above all, costs more than the rest of a small response. A block
    decodes to the same fields as long as the table and the limits are as
    they were; errors are not remembered, so a bad block fails every time.
    """

    def __init__(self) -> None:
        super().__init__()
        self._headers: dict[tuple[bytes, bool], tuple[tuple[object, ...], list[Any]]] = {}

    def _state(self) -> tuple[object, ...]:
        limits = (self.max_allowed_table_size, self.max_header_list_size)
        return (*_table_state(self.header_table), *limits)

    def decode(self, data: bytes, raw: bool = False) -> list[Any]:
        key = (bytes(data), raw)
        state = self._state()
        cached = self._headers.get(key)
        if cached is not None and cached[0] == state:
            return list(cached[1])
        headers = list(super().decode(data, raw))
        if self._state() == state:
            remember(self._headers, key, (state, headers))
        return list(headers)
