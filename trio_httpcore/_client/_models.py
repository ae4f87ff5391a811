"""``Response``: the message a client receives; its body is read on demand, once.

A response's body is a stream, read whole (``read``/``aread``) or iterated
once (``iter_*``/``aiter_*``), decoded from its ``Content-Encoding`` unless
raw; a response built with its body in memory is read already. (``Request``
lives in ``_request.py`` and is re-exported here for the modules that take both.)
"""

from __future__ import annotations

import codecs
import datetime
import json as jsonlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator
from contextlib import aclosing, closing
from functools import partial
from typing import Any, Protocol, TypeVar

from .._exceptions import (
    HTTPStatusError,
    ResponseClosed,
    ResponseNotRead,
    StreamConsumed,
)
from .._streams import (
    AsyncByteStream,
    OneChunk,
    PlainByteStream,
    SyncByteStream,
)
from .._types import Extensions
from ._content import ByteStream, ResponseContent, encode_response
from ._cookies import Cookies
from ._decoders import (
    LineDecoder,
    Piece,
    Rechunker,
    TextDecoder,
    content_decoder,
    detect_encoding,
    parse_links,
)
from ._headers import Headers, HeaderTypes
from ._request import Request as Request
from ._status_codes import codes, status_of
from ._urls import URL

_NO_TIME = datetime.timedelta(0)  # immutable: every response starts with the same one

DefaultEncoding = str | Callable[[bytes], str | None]

_Item_co = TypeVar("_Item_co", covariant=True)


class ClosableAsyncIterator(Protocol[_Item_co]):
    """What ``aiter_raw``/``aiter_bytes``/``aiter_text`` return: an async iterator that,
    like an async generator, has ``aclose`` (so ``contextlib.aclosing`` takes it).

    Spelled out rather than based on ``AsyncIterator``: at run time a ``Protocol``
    can't inherit from ``collections.abc.AsyncIterator`` (Python 3.10-3.11).
    """

    def __aiter__(self) -> AsyncIterator[_Item_co]: ...

    async def __anext__(self) -> _Item_co: ...

    async def aclose(self) -> None: ...


def _charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a ``Content-Type`` (RFC 9110 8.3.2), if it names a codec."""
    if not content_type:
        return None
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').strip("'")
            try:
                return codecs.lookup(charset).name
            except LookupError:
                return None
    return None


class Response:
    """An HTTP response: status, headers and a body that is read on demand.

    A response from ``client.get()`` and friends has its body read already
    (:attr:`content`). One from ``client.stream()`` or with ``stream=True``
    has not: read it with :meth:`aread`/:meth:`read`, or iterate it once with
    the ``aiter_*``/``iter_*`` methods; then close it. The body is decoded
    from its ``Content-Encoding`` by everything except the ``*_raw`` forms.
    """

    def __init__(
        self,
        status_code: int,
        *,
        headers: HeaderTypes | None = None,
        content: ResponseContent | None = None,
        text: str | None = None,
        html: str | None = None,
        json: Any = None,
        stream: ByteStream | None = None,
        request: Request | None = None,
        extensions: Extensions | None = None,
        history: list[Response] | None = None,
        default_encoding: DefaultEncoding | None = None,
        http_version: str | None = None,
        reason_phrase: str | None = None,
        ext: Extensions | None = None,
    ) -> None:
        self.status_code = status_of(status_code)
        self.headers = Headers(headers)
        self.ext: Extensions = ext or extensions or {}
        self.http_version = http_version or self.ext.get("http_version") or "HTTP/1.1"
        self.reason_phrase = (
            reason_phrase or self.ext.get("reason") or codes.get_reason_phrase(status_code)
        )
        self.history: list[Response] = list(history or ())
        # The elapsed time, or its seconds as the client measured them (a timedelta is
        # made only when asked for: most responses are never asked).
        self._elapsed: datetime.timedelta | float = _NO_TIME
        self.next_request: Request | None = None
        """The request a redirect asks for, when the client did not follow it."""
        self.default_encoding = default_encoding
        """How :attr:`text` is decoded without a charset: a codec name, or a callable
        ``(body) -> name``; ``None`` detects it (UTF-8 if valid, else a guess)."""
        self._request = request
        self._encoding: str | None = None
        self._content: bytes | None = None
        self._num_bytes_downloaded = 0
        if stream is None:
            body_headers, stream = encode_response(content, text, html, json)
            for name, value in body_headers.items():
                self.headers.setdefault(name, value)
            if stream is None:
                # Built with no body: there is nothing to read, so it is read.
                self._content = b""
            elif isinstance(stream, PlainByteStream):
                # In memory: read now, decoded by its Content-Encoding as httpx does. The
                # stream stays unread, the raw body a mock transport hands on.
                self._content = stream.content
                if "content-encoding" in self.headers:
                    decoder = content_decoder(self.headers.get_list("content-encoding"))
                    self._content = b"".join([*decoder.decode(stream.content), *decoder.flush()])
        self._stream: ByteStream = PlainByteStream(b"") if stream is None else stream
        self.is_stream_consumed = False
        """Whether the body was iterated; it can't be iterated twice."""
        self.is_closed = False
        """Whether :meth:`close`/:meth:`aclose` ran; the connection is released."""
        # Set by the client: how to follow next_request (a blocking client sets both).
        self._follow: Callable[[], Awaitable[Response]] | None = None
        self._follow_blocking: Callable[[], Response] | None = None
        self._cookies: Cookies | None = None

    # The head.

    @property
    def request(self) -> Request:
        """The request this response answers."""
        if self._request is None:
            raise RuntimeError("This response has no request: it was built without one.")
        return self._request

    @request.setter
    def request(self, request: Request) -> None:
        self._request = request

    @property
    def elapsed(self) -> datetime.timedelta:
        """Time from sending the request to the arrival of the response's head."""
        elapsed = self._elapsed
        if type(elapsed) is float:
            elapsed = self._elapsed = datetime.timedelta(seconds=elapsed)
        return elapsed  # type: ignore[return-value]

    @elapsed.setter
    def elapsed(self, elapsed: datetime.timedelta) -> None:
        self._elapsed = elapsed

    @property
    def protocol(self) -> str:
        """The seed name of :attr:`http_version`."""
        return self.http_version

    @property
    def url(self) -> URL:
        """The URL of the request this response answers."""
        return self.request.url

    @property
    def cookies(self) -> Cookies:
        """The cookies this response sets (``Set-Cookie``) that the jar's rules accept.

        They are judged against :attr:`request` (RFC 6265 section 5.3): a
        cookie for another domain, say, is not among them.
        """
        if self._cookies is None:
            self._cookies = Cookies()
            self._cookies.extract_cookies(self)
        return self._cookies

    @property
    def is_success(self) -> bool:
        """A 2xx status."""
        return codes.is_success(self.status_code)

    @property
    def is_informational(self) -> bool:
        """A 1xx status."""
        return codes.is_informational(self.status_code)

    @property
    def has_redirect_location(self) -> bool:
        """A 301, 302, 303, 307 or 308 with a ``Location`` (httpx's name of :attr:`is_redirect`)."""
        return self.is_redirect

    @property
    def extensions(self) -> Extensions:
        """httpx's name of :attr:`ext`: ``http_version``, ``reason``, and the transport's."""
        return self.ext

    @property
    def links(self) -> dict[str | None, dict[str, str]]:
        """The ``Link`` field (RFC 8288) by ``rel`` (else URL): ``{"next": {"url": ...}}``."""
        field = self.headers.get("link")
        links = parse_links(field) if field else []
        return {link.get("rel") or link.get("url"): link for link in links}

    @property
    def num_bytes_downloaded(self) -> int:
        """How many bytes of the body arrived so far, as sent (before any decoding)."""
        return self._num_bytes_downloaded

    @property
    def is_error(self) -> bool:
        """A 4xx or 5xx status."""
        return codes.is_error(self.status_code)

    @property
    def is_redirect(self) -> bool:
        """A redirect the client can follow: 301, 302, 303, 307 or 308 with a ``Location``."""
        return self.status_code in (301, 302, 303, 307, 308) and "location" in self.headers

    def raise_for_status(self) -> Response:
        """Raise :class:`HTTPStatusError` for a 4xx or 5xx status; else return ``self``."""
        status = int(self.status_code)
        if not codes.is_error(status):
            return self
        kind = "Client error" if codes.is_client_error(status) else "Server error"
        message = (
            f"{kind} '{status} {self.reason_phrase}' for url '{self.url}'\n"
            f"For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/{status}"
        )
        raise HTTPStatusError(message, request=self.request, response=self)

    # The body, whole.

    @property
    def content(self) -> bytes:
        """The decoded body; raises :class:`ResponseNotRead` before it was read."""
        if self._content is None:
            raise ResponseNotRead(
                "The response body was not read: call read() or aread() first, "
                "or use the iter_*/aiter_* methods."
            )
        return self._content

    @property
    def charset_encoding(self) -> str | None:
        """The ``charset`` of the ``Content-Type`` header, if it names a known codec."""
        return _charset(self.headers.get("content-type"))

    @property
    def encoding(self) -> str:
        """How :attr:`text` is decoded: set by you, else the charset, else detected, else UTF-8.

        Detection (UTF-8 if the body is valid UTF-8, else charset_normalizer's
        guess when it is installed) needs the body read.
        """
        if self._encoding is not None:
            return self._encoding
        charset = self.charset_encoding
        if charset is not None:
            return charset
        default = self.default_encoding
        if isinstance(default, str):
            return codecs.lookup(default).name
        if self._content is not None:
            chosen = default(self._content) if default is not None else None
            return chosen or detect_encoding(self._content)
        return "utf-8"

    @encoding.setter
    def encoding(self, value: str) -> None:
        self._encoding = codecs.lookup(value).name

    @property
    def text(self) -> str:
        """The body decoded with :attr:`encoding`; bytes that don't decode become U+FFFD."""
        return self.content.decode(self.encoding, errors="replace")

    def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON; ``kwargs`` go to :func:`json.loads`.

        Without a charset the bytes are parsed as they are, so JSON in UTF-16
        or UTF-32 is recognised too (RFC 8259 section 8.1).
        """
        if self._encoding is None and self.charset_encoding is None:
            return jsonlib.loads(self.content, **kwargs)
        return jsonlib.loads(self.text, **kwargs)

    def _text_decoder(self) -> TextDecoder:
        default = self.default_encoding if isinstance(self.default_encoding, str) else None
        return TextDecoder(self._encoding or self.charset_encoding or default)

    def _check_streamable(self) -> None:
        if self.is_stream_consumed:
            raise StreamConsumed(
                "The response body was already iterated: it can be iterated only once "
                "(read() keeps it in memory for repeated use)."
            )
        if self.is_closed:
            raise ResponseClosed("The response was closed before its body was read.")

    def _sync_stream(self) -> SyncByteStream:
        if not isinstance(self._stream, SyncByteStream):
            raise RuntimeError(
                "This response came from an AsyncClient: use aread(), aiter_*() and aclose()."
            )
        return self._stream

    def _is_sync(self) -> bool:
        return not isinstance(self._stream, AsyncByteStream)

    # The body, blocking.

    def read(self) -> bytes:
        """Read the whole body, decode it, keep it (:attr:`content`) and close."""
        if self._content is None:
            with closing(self._iter_bytes()) as chunks:
                self._content = b"".join(chunks)
        return self._content

    def iter_raw(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The body as it arrives, not decoded, in pieces of ``chunk_size`` if given;
        closes the response at the end."""
        return _rechunked(self._iter_raw(), chunk_size)

    def _iter_raw(self) -> Generator[bytes, None, None]:
        self._check_streamable()
        stream = self._sync_stream()
        self.is_stream_consumed = True
        try:
            for chunk in stream:
                self._num_bytes_downloaded += len(chunk)
                yield chunk
        finally:
            self.close()

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The body, decoded from its ``Content-Encoding``, in pieces as they arrive
        (or of ``chunk_size``)."""
        return _rechunked(self._iter_bytes(), chunk_size)

    def _iter_bytes(self) -> Generator[bytes, None, None]:
        if self._content is not None:
            if self._content:
                yield self._content
            return
        decoder = content_decoder(self.headers.get_list("content-encoding"))
        with closing(self._iter_raw()) as chunks:
            for chunk in chunks:
                yield from decoder.decode(chunk)
            yield from decoder.flush()

    def iter_text(self, chunk_size: int | None = None) -> Iterator[str]:
        """The body as text, decoded incrementally (see :attr:`encoding`), in pieces of
        ``chunk_size`` characters if given."""
        return _rechunked(self._iter_text(), chunk_size)

    def _iter_text(self) -> Generator[str, None, None]:
        decoder = self._text_decoder()
        with closing(self._iter_bytes()) as chunks:
            for chunk in chunks:
                text = decoder.decode(chunk)
                if text:
                    yield text
        text = decoder.flush()
        if text:
            yield text

    def iter_lines(self) -> Generator[str, None, None]:
        """The body as lines without their breaks; ``\\r\\n``, ``\\n`` and ``\\r`` all break."""
        decoder = LineDecoder()
        with closing(self._iter_text()) as texts:
            for text in texts:
                yield from decoder.decode(text)
        yield from decoder.flush()

    def close(self) -> None:
        """Release the connection; the body can't be read after this unless it was read."""
        if self.is_closed:
            return
        self._sync_stream().close()
        self.is_closed = True  # once closed: a blocking client's stream refuses a trio run

    # The body, async.

    async def aread(self) -> bytes:
        """Read the whole body, decode it, keep it (:attr:`content`) and close."""
        if self._content is None:
            chunks = BodyIterator(self, decoded=True)
            try:
                self._content = b"".join([chunk async for chunk in chunks])
            finally:
                # What aclosing() does, without its two extra coroutine calls per response.
                await chunks.aclose()
        return self._content

    def aiter_raw(self, chunk_size: int | None = None) -> ClosableAsyncIterator[bytes]:
        """The body as it arrives, not decoded, in pieces of ``chunk_size`` if given;
        closes the response at the end."""
        chunks = BodyIterator(self, decoded=False)
        return chunks if chunk_size is None else _arechunked(chunks, Rechunker(chunk_size))

    def aiter_bytes(self, chunk_size: int | None = None) -> ClosableAsyncIterator[bytes]:
        """The body, decoded from its ``Content-Encoding``, in pieces as they arrive
        (or of ``chunk_size``)."""
        chunks = BodyIterator(self, decoded=True)
        return chunks if chunk_size is None else _arechunked(chunks, Rechunker(chunk_size))

    async def _decoded_chunks(self) -> AsyncGenerator[bytes, None]:
        """The raw body through the decoders its ``Content-Encoding`` lists."""
        decoder = content_decoder(self.headers.get_list("content-encoding"))
        async with aclosing(BodyIterator(self, decoded=False)) as chunks:
            async for chunk in chunks:
                for piece in decoder.decode(chunk):
                    yield piece
            for piece in decoder.flush():
                yield piece

    def aiter_text(self, chunk_size: int | None = None) -> ClosableAsyncIterator[str]:
        """The body as text, decoded incrementally (see :attr:`encoding`), in pieces of
        ``chunk_size`` characters if given."""
        texts = self._aiter_text()
        return texts if chunk_size is None else _arechunked(texts, Rechunker(chunk_size))

    async def _aiter_text(self) -> AsyncGenerator[str, None]:
        decoder = self._text_decoder()
        async with aclosing(BodyIterator(self, decoded=True)) as chunks:
            async for chunk in chunks:
                text = decoder.decode(chunk)
                if text:
                    yield text
        text = decoder.flush()
        if text:
            yield text

    async def aiter_lines(self) -> AsyncGenerator[str, None]:
        """The body as lines without their breaks; ``\\r\\n``, ``\\n`` and ``\\r`` all break."""
        decoder = LineDecoder()
        async with aclosing(self._aiter_text()) as texts:
            async for text in texts:
                for line in decoder.decode(text):
                    yield line
        for line in decoder.flush():
            yield line

    async def aclose(self) -> None:
        """Release the connection; the body can't be read after this unless it was read."""
        if self.is_closed:
            return
        self.is_closed = True
        if isinstance(self._stream, AsyncByteStream):
            await self._stream.aclose()
        else:
            self._stream.close()

    # Seed names.

    def stream(self) -> Iterator[bytes] | AsyncIterator[bytes]:
        """The seed name of :meth:`aiter_bytes` (async client) or :meth:`iter_bytes` (blocking)."""
        return self.iter_bytes() if self._is_sync() else self.aiter_bytes()

    def raw(self) -> Iterator[bytes] | AsyncIterator[bytes]:
        """The seed name of :meth:`aiter_raw` (async client) or :meth:`iter_raw` (blocking)."""
        return self.iter_raw() if self._is_sync() else self.aiter_raw()

    # Redirects not followed.

    def next(self) -> Response:
        """Follow the redirect this response asks for, one step (blocking client)."""
        self._next_step()
        if self._follow_blocking is None:
            raise RuntimeError("This response came from an AsyncClient: use 'await anext()'.")
        return self._follow_blocking()

    async def anext(self) -> Response:
        """Follow the redirect this response asks for, one step (async client)."""
        return await self._next_step()()

    def _next_step(self) -> Callable[[], Awaitable[Response]]:
        if self._follow is None:
            raise ValueError(f"{self!r} is not a redirect the client left unfollowed.")
        return self._follow

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{int(self.status_code)} {self.reason_phrase}]>"


class BodyIterator(AsyncIterator[bytes]):
    """What :meth:`Response.aiter_raw` and :meth:`Response.aiter_bytes` return.

    An iterator class rather than an async generator, because it sits on the
    path of every chunk of every body: a body without ``Content-Encoding``
    goes from the transport's stream to the caller through this one
    ``__anext__``, with no decoder stage (its bytes are its raw chunks, empty
    ones left out as the decoders leave them out). Dropped half-way, it
    needs no finalising: the transport's stream frees its connection then.

    It behaves as the async generators it replaces: nothing is checked or
    read before the first ``__anext__``; the body's end, an error or a
    cancellation while reading closes the response; :meth:`aclose` before
    the first ``__anext__`` leaves the response alone.
    """

    def __init__(self, response: Response, *, decoded: bool) -> None:
        self._response = response
        self._decoded = decoded
        self._chunks: AsyncIterator[bytes] | None = None
        # What ends the iteration early: the response's aclose, a decoding generator's, or
        # nothing (a body already in memory).
        self._close: Callable[[], Awaitable[None]] | None = None
        self._finished = False
        self._counted = False  # whether the chunks are the stream's, counted as downloaded

    def __aiter__(self) -> BodyIterator:
        return self

    async def __anext__(self) -> bytes:
        if self._finished:
            raise StopAsyncIteration
        chunks = self._chunks
        if chunks is None:
            try:
                chunks = self._chunks = await self._start()
            except BaseException:
                self._finished = True
                raise
        try:
            chunk = await chunks.__anext__()
            if self._decoded:
                while not chunk:
                    chunk = await chunks.__anext__()
            if self._counted:
                self._response._num_bytes_downloaded += len(chunk)
        except BaseException:
            # The end of the body (StopAsyncIteration) included.
            await self.aclose()
            raise
        return chunk

    async def _start(self) -> AsyncIterator[bytes]:
        """The chunks to pass on, once the response is checked and marked consumed."""
        response = self._response
        if self._decoded:
            if response._content is not None:
                return OneChunk(response._content)
            if response.headers._has(b"content-encoding"):
                decoding = response._decoded_chunks()
                self._close = decoding.aclose
                return decoding
        response._check_streamable()
        response.is_stream_consumed = True
        self._close = response.aclose
        stream = response._stream
        if not isinstance(stream, AsyncByteStream):
            await self.aclose()
            raise RuntimeError("This response's body is blocking: use read() and iter_*().")
        chunks = aiter(stream)
        self._counted = True
        if not isinstance(chunks, AsyncByteStream):
            # Not a stream that is its own iterator, as the transport's are: an async
            # generator (the stream's __aiter__), closed at once along with the
            # stream rather than left to the garbage collector.
            self._close = partial(_aclose_both, chunks, response)
        return chunks

    async def aclose(self) -> None:
        """Stop: the response is closed if its body was being read."""
        self._finished = True
        close, self._close = self._close, None
        if close is not None:
            await close()


def _rechunked(pieces: Generator[Piece, None, None], size: int | None) -> Iterator[Piece]:
    """``pieces`` in pieces of ``size`` (or as they come); closing it closes ``pieces``."""
    if size is None:
        return pieces
    return _cut(pieces, Rechunker(size))


def _cut(pieces: Generator[Piece, None, None], chunker: Rechunker[Piece]) -> Iterator[Piece]:
    with closing(pieces):
        for piece in pieces:
            yield from chunker.feed(piece)
    yield from chunker.flush()


async def _arechunked(
    pieces: AsyncIterator[Piece], chunker: Rechunker[Piece]
) -> AsyncGenerator[Piece, None]:
    """The async form of :func:`_cut`."""
    async with aclosing(pieces) as opened:  # type: ignore[type-var]
        async for piece in opened:
            for whole in chunker.feed(piece):
                yield whole
    for whole in chunker.flush():
        yield whole


async def _aclose_both(chunks: AsyncIterator[bytes], response: Response) -> None:
    """Close the iterator ``chunks`` of ``response``'s stream, then the response."""
    try:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
    finally:
        await response.aclose()
