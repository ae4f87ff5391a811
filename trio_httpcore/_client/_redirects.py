"""Following redirects: the next request a 3xx response asks for (RFC 9110 section 15.4).

303 (and 301/302 after a POST) become GET without a body; 307 and 308 repeat the method and body,
which must be replayable. ``Authorization`` is dropped when the redirect leaves the origin (scheme,
host or port changes), except an upgrade from ``http`` to ``https`` on default ports.
"""

from __future__ import annotations

from .._exceptions import (
    InvalidURL,
    RedirectBodyUnavailable,
    RemoteProtocolError,
    UnsupportedProtocol,
)
from ._content import is_replayable
from ._models import Response
from ._request import Request
from ._urls import URL

# Fields that describe the body: dropped with it when a redirect turns the method into GET.
_BODY_FIELDS = ("Content-Length", "Content-Type", "Transfer-Encoding")


def redirect_method(request: Request, response: Response) -> str:
    """The method of the redirected request.

    301, 302 and 303 turn anything but GET and HEAD into GET, as browsers do
    (RFC 9110 sections 15.4.2-15.4.4 allow it for 301/302 and ask it for
    303); 307 and 308 keep the method (sections 15.4.8, 15.4.9).
    """
    if response.status_code in (301, 302, 303) and request.method not in ("GET", "HEAD"):
        return "GET"
    return request.method


def redirect_url(request: Request, response: Response) -> URL:
    """The ``Location`` of ``response``, resolved against the request's URL.

    A relative ``Location`` is resolved per RFC 3986 section 5, and one with
    a scheme but no host gets the request's host; one without a fragment
    keeps the request's (RFC 9110 section 10.2.2).
    """
    location = response.headers["location"]
    try:
        url = request.url.join(URL(location, allow_relative=True))
        if url.scheme and not url.raw_host:
            # "https://:443/": an absolute form with no host; browsers and httpx
            # take the request's host.
            url = url.copy_with(host=request.url.raw_host.decode("ascii"))
    except InvalidURL as exc:
        raise RemoteProtocolError(f"Invalid Location {location!r} in a redirect: {exc}") from exc
    if url.scheme not in ("http", "https"):
        raise UnsupportedProtocol(f"A redirect to {url}: the scheme must be http or https.")
    if not url.fragment and request.url.fragment:
        url = url.copy_with(fragment=request.url.fragment)
    return url


def _keeps_authorization(old: URL, new: URL) -> bool:
    """Whether credentials may follow a redirect from ``old`` to ``new``.

    Only to the same origin, or from ``http`` to ``https`` on the same host
    with default ports (an upgrade, which exposes nothing more). A redirect
    from ``https`` to ``http`` never carries them.
    """
    if old.origin == new.origin:
        return True
    return (
        old.scheme == "http"
        and new.scheme == "https"
        and old.raw_host == new.raw_host
        and old.port is None
        and new.port is None
    )


def build_redirect_request(request: Request, response: Response) -> Request:
    """The request that follows the redirect ``response`` to ``request``.

    Raises :class:`RedirectBodyUnavailable` when a 307/308 needs a body
    again that was a one-shot stream.
    """
    method = redirect_method(request, response)
    url = redirect_url(request, response)
    headers = request.headers.copy()
    headers["Host"] = url.host_field.decode("ascii")
    if not _keeps_authorization(request.url, url):
        headers.pop("Authorization", None)
    stream = request.stream
    if method != request.method:
        stream = None
        for name in _BODY_FIELDS:
            headers.pop(name, None)
    elif not is_replayable(stream):
        raise RedirectBodyUnavailable(
            f"A {int(response.status_code)} redirect to {url} needs the request body again, but "
            "it was a one-shot stream: pass the body as bytes, or call request.aread() first."
        )
    return Request(method, url, headers=headers, stream=stream)
