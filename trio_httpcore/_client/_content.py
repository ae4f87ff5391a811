"""Request bodies: ``content=``, ``data=``, ``files=``, ``json=`` as a stream and headers."""

from __future__ import annotations

import json as jsonlib
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from .._streams import (
    AsyncByteStream,
    AsyncIteratorByteStream,
    IteratorByteStream,
    PlainByteStream,
    SyncByteStream,
)
from ._multipart import MultipartStream, RequestFiles
from ._queryparams import flatten_items

RequestContent = str | bytes | Iterable[bytes] | AsyncIterable[bytes]
RequestData = Mapping[str, Any]
ByteStream = AsyncByteStream | SyncByteStream


def encode_content(content: RequestContent) -> tuple[dict[str, str], ByteStream]:
    """Raw content: ``str`` is sent as UTF-8. An iterator is streamed with no known length.

    A body of known length gets ``Content-Length``; one of unknown length
    gets none, so HTTP/1.1 sends it chunked (RFC 9112 section 7.1).
    """
    if isinstance(content, (bytes, bytearray, memoryview, str)):
        body = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        return {"Content-Length": str(len(body))}, PlainByteStream(body)
    if isinstance(content, (AsyncByteStream, SyncByteStream)):
        return {}, content
    if isinstance(content, AsyncIterable):
        return {}, AsyncIteratorByteStream(content)
    if isinstance(content, Iterable) and not isinstance(content, Mapping):
        return {}, IteratorByteStream(content)
    hint = " (a form is data=, a JSON body json=)" if isinstance(content, Mapping) else ""
    raise TypeError(
        f"content= takes bytes, str or an iterator of bytes, not {type(content).__name__}{hint}."
    )


def encode_urlencoded(data: RequestData) -> tuple[dict[str, str], ByteStream]:
    """A form as ``application/x-www-form-urlencoded``; a list value repeats its key."""
    body = urlencode(flatten_items(data)).encode("ascii")
    return {
        "Content-Length": str(len(body)),
        "Content-Type": "application/x-www-form-urlencoded",
    }, PlainByteStream(body)


def encode_multipart(
    data: RequestData | None, files: RequestFiles, boundary: bytes | None = None
) -> tuple[dict[str, str], ByteStream]:
    """A ``multipart/form-data`` body (RFC 7578): the ``data`` fields, then the ``files``.

    Files are streamed as the body is sent (:class:`MultipartStream`);
    ``Content-Length`` is given when every part's size is known. ``boundary``
    is the one a caller's ``Content-Type`` names, if it does.
    """
    stream = MultipartStream(data, files, boundary)
    return stream.headers(), stream


def encode_json(value: Any) -> tuple[dict[str, str], ByteStream]:
    """``value`` as compact UTF-8 JSON (RFC 8259 section 8.1); NaN and Infinity refused."""
    body = jsonlib.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )
    return {
        "Content-Length": str(len(body)),
        "Content-Type": "application/json",
    }, PlainByteStream(body)


def encode_request(
    content: RequestContent | None = None,
    data: RequestData | RequestContent | None = None,
    files: Any = None,
    json: Any = None,
    boundary: bytes | None = None,
) -> tuple[dict[str, str], ByteStream | None]:
    """The headers and stream of a request body given the ``request()`` arguments.

    ``data`` that is not a mapping is raw content, as the seed API took it,
    except with ``files``, which make a multipart form of ``data``'s fields
    (separated by ``boundary`` when the caller chose one).
    No body at all gives ``({}, None)``.
    """
    if content is not None:
        return encode_content(content)
    if files:
        if data is not None and not isinstance(data, Mapping):
            raise TypeError(
                f"With files=, data= must be a mapping of form fields, not {type(data).__name__}."
            )
        return encode_multipart(data, files, boundary)
    if data is not None:
        if isinstance(data, Mapping):
            return encode_urlencoded(data)
        return encode_content(data)
    if json is not None:
        return encode_json(json)
    return {}, None


def is_replayable(stream: ByteStream | None) -> bool:
    """Whether ``stream`` can be sent again, as a 307/308 redirect or an auth retry needs.

    Bytes can; so can a multipart body whose files are all seekable (each is
    rewound). An iterator can't: it is consumed by the first send.
    """
    if isinstance(stream, MultipartStream):
        return stream.is_replayable()
    return stream is None or isinstance(stream, PlainByteStream)


ResponseContent = str | bytes | Iterable[bytes] | AsyncIterable[bytes]


def encode_response(
    content: ResponseContent | None = None,
    text: str | None = None,
    html: str | None = None,
    json: Any = None,
) -> tuple[dict[str, str], ByteStream | None]:
    """The headers and stream of a response built in code (a mock's answer), as httpx has it.

    ``text`` is ``text/plain``, ``html`` ``text/html``, both UTF-8; ``json``
    is compact UTF-8 JSON. No body at all gives ``({}, None)``.
    """
    if content is not None:
        return encode_content(content)
    for value, media_type in ((text, "text/plain"), (html, "text/html")):
        if value is not None:
            body = value.encode("utf-8")
            return {
                "Content-Length": str(len(body)),
                "Content-Type": f"{media_type}; charset=utf-8",
            }, PlainByteStream(body)
    if json is not None:
        return encode_json(json)
    return {}, None
