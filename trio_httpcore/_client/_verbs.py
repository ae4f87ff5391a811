"""The async client's request methods, each with its keywords spelt out.

Every keyword is explicit, so a misspelt one raises ``TypeError`` and
``help()`` and ``inspect.signature`` show them all; each method builds the
request and sends it through :meth:`AsyncClient.request`. The seed names
``query_params`` and ``allow_redirects`` are accepted beside httpx's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from ._config import UNSET, TimeoutTypes
from ._content import RequestContent, RequestData
from ._cookies import CookieTypes
from ._headers import HeaderTypes
from ._models import Request, Response
from ._options import AuthTypes, seed_alias
from ._queryparams import QueryParamTypes
from ._urls import URL

if TYPE_CHECKING:
    from .._types import Extensions

USE_CLIENT_DEFAULT: Any = UNSET
"""A request argument left to the client's setting."""


class AsyncRequestMethods:
    """``request``, ``stream`` and the method shorthands of :class:`AsyncClient`."""

    # What the methods call, defined by AsyncClient, the one class built on
    # them (naming it here would make the two modules import each other).
    build_request: Callable[..., Request]
    send: Callable[..., Awaitable[Response]]

    async def request(
        self,
        method: str,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | RequestContent | None = None,
        files: Any = None,
        json: Any = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
        extensions: Extensions | None = None,
        stream: bool = False,
        query_params: QueryParamTypes | None = None,
        allow_redirects: bool = USE_CLIENT_DEFAULT,
    ) -> Response:
        """Build and send a request; the body is read unless ``stream=True``.

        The arguments are those of :meth:`build_request` and :meth:`send`;
        ``query_params`` and ``allow_redirects`` are the seed names of
        ``params`` and ``follow_redirects``.
        """
        request = self.build_request(
            method,
            url,
            params=seed_alias("params", params, "query_params", query_params),
            headers=headers,
            content=content,
            data=data,
            files=files,
            json=json,
            cookies=cookies,
            timeout=timeout,
            extensions=extensions,
        )
        return await self.send(
            request,
            stream=stream,
            auth=auth,
            follow_redirects=follow_redirects,
            allow_redirects=allow_redirects,
        )

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | RequestContent | None = None,
        files: Any = None,
        json: Any = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
        extensions: Extensions | None = None,
        query_params: QueryParamTypes | None = None,
        allow_redirects: bool = USE_CLIENT_DEFAULT,
    ) -> AsyncIterator[Response]:
        """``async with client.stream("GET", url) as response:``: the body is left unread.

        Read it with ``aiter_bytes()`` and friends inside the block; leaving
        the block closes the response and frees its connection.
        """
        response = await self.request(
            method,
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
            stream=True,
            query_params=query_params,
            allow_redirects=allow_redirects,
        )
        try:
            yield response
        finally:
            await response.aclose()

    async def _without_body(
        self,
        method: str,
        url: URL | str,
        params: QueryParamTypes | None,
        headers: HeaderTypes | None,
        cookies: CookieTypes | None,
        auth: AuthTypes | None,
        follow_redirects: bool,
        timeout: TimeoutTypes,
        extensions: Extensions | None,
        stream: bool,
        query_params: QueryParamTypes | None,
        allow_redirects: bool,
    ) -> Response:
        return await self.request(
            method,
            url,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
            stream=stream,
            query_params=query_params,
            allow_redirects=allow_redirects,
        )

    async def get(
        self,
        url: URL | str,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
        extensions: Extensions | None = None,
        stream: bool = False,
        query_params: QueryParamTypes | None = None,
        allow_redirects: bool = USE_CLIENT_DEFAULT,
    ) -> Response:
        """Send a GET request."""
        return await self._without_body(
            "GET", url, params, headers, cookies, auth, follow_redirects, timeout,
            extensions, stream, query_params, allow_redirects,
        )  # fmt: skip

    async def head(
        self,
        url: URL | str,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
        extensions: Extensions | None = None,
        stream: bool = False,
        query_params: QueryParamTypes | None = None,
        allow_redirects: bool = USE_CLIENT_DEFAULT,
    ) -> Response:
        """Send a HEAD request; redirects are not followed unless ``follow_redirects=True``."""
        return await self._without_body(
            "HEAD", url, params, headers, cookies, auth, follow_redirects, timeout,
            extensions, stream, query_params, allow_redirects,
        )  # fmt: skip

    async def options(
        self,
        url: URL | str,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
        extensions: Extensions | None = None,
        stream: bool = False,
        query_params: QueryParamTypes | None = None,
        allow_redirects: bool = USE_CLIENT_DEFAULT,
    ) -> Response:
        """Send an OPTIONS request."""
        return await self._without_body(
            "OPTIONS", url, params, headers, cookies, auth, follow_redirects, timeout,
            extensions, stream, query_params, allow_redirects,
        )  # fmt: skip

    async def delete(
        self,
        url: URL | str,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
        extensions: Extensions | None = None,
        stream: bool = False,
        query_params: QueryParamTypes | None = None,
        allow_redirects: bool = USE_CLIENT_DEFAULT,
    ) -> Response:
        """Send a DELETE request."""
        return await self._without_body(
            "DELETE", url, params, headers, cookies, auth, follow_redirects, timeout,
            extensions, stream, query_params, allow_redirects,
        )  # fmt: skip

    async def post(
        self,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | RequestContent | None = None,
        files: Any = None,
        json: Any = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
        extensions: Extensions | None = None,
        stream: bool = False,
        query_params: QueryParamTypes | None = None,
        allow_redirects: bool = USE_CLIENT_DEFAULT,
    ) -> Response:
        """Send a POST request."""
        return await self.request(
            "POST", url, content=content, data=data, files=files, json=json,
            params=params, headers=headers, cookies=cookies, auth=auth,
            follow_redirects=follow_redirects, timeout=timeout, extensions=extensions,
            stream=stream, query_params=query_params, allow_redirects=allow_redirects,
        )  # fmt: skip

    async def put(
        self,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | RequestContent | None = None,
        files: Any = None,
        json: Any = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
        extensions: Extensions | None = None,
        stream: bool = False,
        query_params: QueryParamTypes | None = None,
        allow_redirects: bool = USE_CLIENT_DEFAULT,
    ) -> Response:
        """Send a PUT request."""
        return await self.request(
            "PUT", url, content=content, data=data, files=files, json=json,
            params=params, headers=headers, cookies=cookies, auth=auth,
            follow_redirects=follow_redirects, timeout=timeout, extensions=extensions,
            stream=stream, query_params=query_params, allow_redirects=allow_redirects,
        )  # fmt: skip

    async def patch(
        self,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | RequestContent | None = None,
        files: Any = None,
        json: Any = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
        extensions: Extensions | None = None,
        stream: bool = False,
        query_params: QueryParamTypes | None = None,
        allow_redirects: bool = USE_CLIENT_DEFAULT,
    ) -> Response:
        """Send a PATCH request."""
        return await self.request(
            "PATCH", url, content=content, data=data, files=files, json=json,
            params=params, headers=headers, cookies=cookies, auth=auth,
            follow_redirects=follow_redirects, timeout=timeout, extensions=extensions,
            stream=stream, query_params=query_params, allow_redirects=allow_redirects,
        )  # fmt: skip
