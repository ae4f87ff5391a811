"""Byte streams: the bodies of requests and responses, async and sync.

A stream is read once (except one held in memory) and closed by its owner.
A sync stream reaches async code only through :func:`as_async_stream`, which
pulls each chunk in a worker thread: a blocking iterator never runs in the
trio thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from typing_extensions import Self


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


class ThreadedByteStream(AsyncByteStream):
    """A sync stream read from async code, each chunk pulled by ``trio.to_thread``
    (trio's cached threads).

    The iterator may block (a file read, a generator computing the body): it
    must not stall the trio thread, where every other request runs. A
    cancelled read (Ctrl-C in a blocking client) does not wait for a blocked
    step: the thread finishes it in the background and its chunk is dropped.
    Closing the sync stream stays its owner's job. (An iterator class, not an
    async generator: one abandoned mid-upload would be left to the garbage
    collector, where trio warns.)
    """

    def __init__(self, stream: SyncByteStream) -> None:
        self._stream = stream
        self._chunks: Iterator[bytes] = iter(())

    def __aiter__(self) -> Self:
        self._chunks = iter(self._stream)
        return self

    async def __anext__(self) -> bytes:
        chunk = await trio.to_thread.run_sync(next, self._chunks, None, abandon_on_cancel=True)
        if chunk is None:
            raise StopAsyncIteration
        return chunk


def as_async_stream(stream: AsyncByteStream | SyncByteStream | None) -> AsyncByteStream | None:
    """``stream`` as an async stream: itself if it is one (:class:`PlainByteStream` is both),
    else a :class:`ThreadedByteStream`."""
    if stream is None or isinstance(stream, AsyncByteStream):
        return stream
    return ThreadedByteStream(stream)


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
