"""The one place that leans on h11's internals: building request events without h11's second
check. Checked at import; should an h11 release drop the private flag, the public constructor is
used (slower, the same bytes)."""

from __future__ import annotations

import h11

from .._types import RawHeaders


def _h11_takes_parsed_requests() -> bool:
    """Whether ``h11.Request`` takes its private ``_parsed`` flag (h11 0.16 does)."""
    try:
        h11.Request(method=b"GET", target=b"/", headers=[(b"Host", b"h")], _parsed=True)
    except TypeError:
        return False
    return True


# h11.Request converts every header to bytes and checks each name and value
# against its grammar; check_request has refused whatever those checks refuse.
# So a request that went through it (every request a pool sends) is built the
# way h11 builds the requests it parses itself, with ``_parsed=True``:
# the fields are still normalized, and Content-Length, Transfer-Encoding, the
# Host count, the method and the target still checked, and the bytes h11
# writes are the same (tests/http11/test_http11_head.py). The flag is
# private: should an h11 release drop it, the public constructor is used.
H11_PARSED_REQUESTS = _h11_takes_parsed_requests()


def request_event(
    method: bytes, target: bytes, headers: RawHeaders, checked: bool = True
) -> h11.Request:
    """The h11 event of a request; ``checked``: it passed ``check_request``."""
    if checked and H11_PARSED_REQUESTS:
        return h11.Request(method=method, target=target, headers=headers, _parsed=True)
    return h11.Request(method=method, target=target, headers=headers)
