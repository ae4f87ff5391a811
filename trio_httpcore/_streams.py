"""Byte streams: the bodies of requests and responses, async and sync."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager


class AsyncByteStream:
    """The body of a request or response, read with ``async for``.

    ``aclose()`` releases whatever the stream holds (for a response body: its
    connection). The base class is an empty body.
    """

    async def __aiter__(self) -> AsyncIterator[bytes]:
        return
        yield  # pragma: no cover

    async def aclose(self) -> None:
        """Release what the stream holds; the base class holds nothing."""


class SyncByteStream:
    """The body of a request or response, read with a plain ``for``.

    ``close()`` releases whatever the stream holds. The base class is an empty body.
    """

    def __iter__(self) -> Iterator[bytes]:
        return iter(())

    def close(self) -> None:
        """Release what the stream holds; the base class holds nothing."""


class OneChunk(AsyncIterator[bytes]):
    """Yields one chunk. Not an async generator: nothing to finalise if left unfinished."""

    def __init__(self, chunk: bytes) -> None:
        self._chunk = chunk

    async def __anext__(self) -> bytes:
        chunk, self._chunk = self._chunk, b""
        if not chunk:
            raise StopAsyncIteration
        return chunk


class PlainByteStream(AsyncByteStream, SyncByteStream):
    """A body held in memory: usable as both a sync and an async stream, any number of times."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    def __aiter__(self) -> AsyncIterator[bytes]:
        return OneChunk(self.content)

    def __iter__(self) -> Iterator[bytes]:
        if self.content:
            yield self.content

    def __len__(self) -> int:
        return len(self.content)


class AsyncIteratorByteStream(AsyncByteStream):
    """A body produced by an async iterator; ``aclose_func`` runs on :meth:`aclose`."""

    def __init__(
        self,
        aiterator: AsyncIterable[bytes],
        aclose_func: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._aiterator = aiterator
        self._aclose_func = aclose_func

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._aiterator:
            yield chunk

    async def aclose(self) -> None:
        if self._aclose_func is not None:
            await self._aclose_func()


class IteratorByteStream(SyncByteStream):
    """A body produced by an iterator; ``close_func`` runs on :meth:`close`."""

    def __init__(
        self, iterator: Iterable[bytes], close_func: Callable[[], None] | None = None
    ) -> None:
        self._iterator = iterator
        self._close_func = close_func

    def __iter__(self) -> Iterator[bytes]:
        yield from self._iterator

    def close(self) -> None:
        if self._close_func is not None:
            self._close_func()


@asynccontextmanager
async def body_chunks(stream: AsyncByteStream) -> AsyncIterator[AsyncIterator[bytes]]:
    """Iterate a request body so that an interrupted send still closes its iterator.

    A body's iterator is often an async generator; one abandoned mid-way (a
    write timeout, a cancelled request) would be finalised by the garbage
    collector, late and with a ResourceWarning, so it is closed here at once.
    """
    iterator = aiter(stream)
    try:
        yield iterator
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
