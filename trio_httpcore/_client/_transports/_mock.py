"""``MockTransport``: every request answered by a function of the test's, as in httpx.

The handler takes a :class:`Request` (its body in memory, so ``request.content``
works) and returns a :class:`Response`, or is a coroutine function that does.
Nothing touches the network.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from ..._http import AsyncHTTPTransport, AsyncResponse
from ..._streams import AsyncByteStream
from ..._types import URL4, Extensions, RawHeaders
from .._models import Response
from .._request import Request
from ._wire import wire_request, wire_response

Handler = Callable[[Request], Response | Awaitable[Response]]


class MockTransport(AsyncHTTPTransport):
    """A transport that answers each request with ``handler(request)``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def arequest(
        self,
        method: bytes,
        url: URL4,
        headers: RawHeaders | None = None,
        stream: AsyncByteStream | None = None,
        ext: Extensions | None = None,
    ) -> AsyncResponse:
        request = await wire_request(method, url, headers, stream, ext)
        response = self.handler(request)
        if inspect.isawaitable(response):
            response = await response
        if not isinstance(response, Response):
            raise TypeError(
                f"A MockTransport handler returns a Response, not {type(response).__name__}."
            )
        return wire_response(response)
