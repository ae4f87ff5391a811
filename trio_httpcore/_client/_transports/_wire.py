"""Between the transport interface's raw request and response and the client's models.

An in-process transport gets ``(method, url, headers, stream, ext)``: it
reads the body whole (it is all in memory already, or a test's small body)
and hands its app a :class:`Request`; what the app answers goes back as
``(status, headers, stream, ext)``, the body raw, as a server would send it.
"""

from __future__ import annotations

from ..._http import AsyncResponse
from ..._streams import AsyncByteStream, PlainByteStream, as_async_stream
from ..._types import URL4, Extensions, RawHeaders
from .._models import Response
from .._request import Request
from .._urls import URL


async def read_body(stream: AsyncByteStream | None) -> bytes:
    """The whole request body (``b""`` for none), the stream closed after."""
    if stream is None:
        return b""
    try:
        return b"".join([chunk async for chunk in stream])
    finally:
        await stream.aclose()


def wire_url(url: URL4) -> URL:
    """The :class:`URL` of a transport request's ``(scheme, host, port, target)``."""
    scheme, host, port, target = url
    return URL(
        scheme=scheme.decode("ascii"),
        host=host.decode("ascii"),
        port=port,
        raw_path=target,
    )


async def wire_request(
    method: bytes,
    url: URL4,
    headers: RawHeaders | None,
    stream: AsyncByteStream | None,
    ext: Extensions | None,
) -> Request:
    """The request a transport was given, its body read into memory."""
    body = await read_body(stream)
    return Request(
        method,
        wire_url(url),
        headers=headers,
        stream=PlainByteStream(body) if stream is not None else None,
        extensions=ext,
    )


def wire_response(response: Response) -> AsyncResponse:
    """``response`` as a transport returns it: the raw (not decoded) body as a stream."""
    stream = as_async_stream(response._stream)
    assert stream is not None
    ext = {**response.ext, "http_version": response.http_version, "reason": response.reason_phrase}
    return int(response.status_code), response.headers.raw, stream, ext
