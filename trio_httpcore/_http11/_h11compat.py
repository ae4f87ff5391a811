"""The one place that leans on h11's internals: building request events without h11's second
check, letting a response body bypass h11's receive buffer once h11 has chosen its framing, and
having the optional accelerator parse response heads. Each is probed at import; should an h11
release change what they lean on, the public API is used instead (slower, the same results)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import h11
from h11._readers import READERS, ChunkedReader, ContentLengthReader, Http10Reader
from h11._receivebuffer import ReceiveBuffer

from .._types import RawHeaders
from ._httptoolscompat import parse_head


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


# -- The body bypass.
#
# h11 reads a body by copying every byte into its receive buffer and out
# again as a Data event: two copies of a 64 MiB download, and most of the
# time it takes. Once h11 has parsed the response head it has chosen the
# body's framing (RFC 9112 section 6.3), as a reader object: Content-Length,
# chunked, or read until the server closes. From the reader's state the
# driver knows how many of the next bytes are body and nothing else (the
# rest of the Content-Length, the rest of the current chunk, or all of them
# until the close): those it reads into its own buffer and hands to the
# caller without h11, and it moves the reader's count on as if h11 had read
# them. Everything else (chunk sizes, the CRLF after a chunk, trailers, the
# end of file, bytes past the body) still goes through h11, which so decides
# where the body ends and what state the connection is in.

UNBOUNDED_BODY = sys.maxsize


def _body_room(connection: h11.Connection) -> int:
    """How many of the next bytes from the server are body h11 need not see (0: none).

    None while h11 holds unread bytes (those come first, through h11) or has
    seen the end of file.
    """
    if (
        connection.their_state is not h11.SEND_BODY
        or connection._receive_buffer
        or connection._receive_buffer_closed
    ):
        return 0
    reader: Any = connection._reader
    kind = type(reader)
    if kind is ContentLengthReader:
        remaining: int = reader._remaining
        return remaining
    if kind is ChunkedReader:
        if reader._reading_trailer or reader._bytes_to_discard:
            return 0
        in_chunk: int = reader._bytes_in_chunk
        return in_chunk
    if kind is Http10Reader:
        return UNBOUNDED_BODY
    return 0  # pragma: no cover - no other reader reads a response body in h11 0.16


def _skip_body(connection: h11.Connection, size: int) -> None:
    """Count ``size`` body bytes (at most :func:`body_room`'s) as read by h11's reader."""
    reader: Any = connection._reader
    kind = type(reader)
    if kind is ContentLengthReader:
        reader._remaining -= size
    elif kind is ChunkedReader:
        reader._bytes_in_chunk -= size
        if not reader._bytes_in_chunk:
            # What h11's reader expects after a chunk's data (RFC 9112 section 7.1).
            reader._bytes_to_discard = b"\r\n"


def _take_held_body(connection: h11.Connection) -> bytes | None:
    """The body bytes h11 holds of a Content-Length body, taken as its reader takes them; or None.

    What h11's next event would be as Data, without the event: h11's reader
    takes up to the rest of the Content-Length from its buffer and counts
    them, and a Data event changes no state (RFC 9112 section 6.2). None
    when the body has another framing, or h11 holds none of it.
    """
    reader: Any = connection._reader
    if type(reader) is not ContentLengthReader or connection.their_state is not h11.SEND_BODY:
        return None
    remaining: int = reader._remaining
    buffer = connection._receive_buffer
    if not remaining or not buffer:
        return None
    data = buffer.maybe_extract_at_most(remaining)
    assert data is not None
    reader._remaining = remaining - len(data)
    return bytes(data)


def _probe(field: bytes, before: bytes, body: bytes, after: bytes) -> bool:
    """Whether bypassing h11 for ``body`` leaves h11 where reading ``body`` through it would.

    ``before`` and ``after`` are the framing around ``body`` on the wire.
    """
    connection = h11.Connection(h11.CLIENT)
    connection.send(h11.Request(method=b"GET", target=b"/", headers=[(b"Host", b"h")]))
    connection.send(h11.EndOfMessage())
    connection.receive_data(b"HTTP/1.1 200 OK\r\n" + field + b"\r\n\r\n" + before)
    if not isinstance(connection.next_event(), h11.Response):
        return False  # pragma: no cover - depends on the h11 release
    if connection.next_event() is not h11.NEED_DATA or _body_room(connection) != len(body):
        return False  # pragma: no cover - depends on the h11 release
    _skip_body(connection, len(body))
    connection.receive_data(after)
    return (
        isinstance(connection.next_event(), h11.EndOfMessage) and connection.their_state is h11.DONE
    )


def _h11_body_bypass_works() -> bool:
    """Whether h11's readers have the shape :func:`body_room` and :func:`skip_body` expect."""
    try:
        return _probe(b"Content-Length: 3", b"", b"abc", b"") and _probe(
            b"Transfer-Encoding: chunked", b"3\r\n", b"abc", b"\r\n0\r\n\r\n"
        )
    except (AttributeError, TypeError, h11.ProtocolError):  # pragma: no cover - h11 release
        return False


def _h11_held_body_works() -> bool:
    """Whether :func:`_take_held_body` takes a Content-Length body as h11's reader would."""
    connection = h11.Connection(h11.CLIENT)
    connection.send(h11.Request(method=b"GET", target=b"/", headers=[(b"Host", b"h")]))
    connection.send(h11.EndOfMessage())
    try:
        connection.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc")
        if not isinstance(connection.next_event(), h11.Response):
            return False  # pragma: no cover - depends on the h11 release
        first = _take_held_body(connection)
        connection.receive_data(b"de")
        second = _take_held_body(connection)
        return (
            (first, second, _take_held_body(connection)) == (b"abc", b"de", None)
            and isinstance(connection.next_event(), h11.EndOfMessage)
            and connection.their_state is h11.DONE
        )
    except (AttributeError, TypeError, h11.ProtocolError):  # pragma: no cover - h11 release
        return False


H11_BODY_BYPASS = _h11_body_bypass_works()
H11_HELD_BODY = _h11_held_body_works()


def body_room(connection: h11.Connection) -> int:
    """How many of the next bytes from the server are body that need not go through h11.

    0 while h11 must see them (it holds unread bytes; between chunks;
    trailers; after the end of file), or when this h11 release cannot be
    bypassed; while it is not 0, h11 could make no event without a read;
    :data:`UNBOUNDED_BODY` for a body that ends when the server closes.
    """
    return _body_room(connection) if H11_BODY_BYPASS else 0


skip_body = _skip_body


def _no_held_body(connection: h11.Connection) -> None:
    """What :func:`take_held_body` is where h11's reader cannot be bypassed: nothing taken."""
    return None


# The body bytes h11 holds (Content-Length framing), taken without an event; None if not that.
take_held_body = _take_held_body if H11_HELD_BODY else _no_held_body


# -- The response head, parsed by the accelerator.
#
# h11 reads a response head with a regular expression per line, and that
# parse was a seventh of the instructions of a small keep-alive request.
# When the accelerator is there, a connection's reader for the response head
# (the one h11 picks when the server's state turns SEND_RESPONSE) is swapped
# for one that finds the whole head, has the accelerator parse it, and builds
# the event as h11's reader does (``_parsed=True``: h11 still normalizes the
# fields and checks Content-Length, Transfer-Encoding and the status code).
# A head the accelerator leaves alone, and an incomplete one, go to h11's
# reader on the same bytes: h11 decides what is refused and with what error,
# what an incomplete head awaits, and every state after the head.

_H11_HEAD_READER: Any = READERS[(h11.SERVER, h11.SEND_RESPONSE)]


def _read_head(buf: ReceiveBuffer) -> h11.Response | h11.InformationalResponse | None:
    """h11's response head reader, with the head parsed by the accelerator when it can."""
    data = buf._data
    end = data.find(b"\r\n\r\n") + 4
    parsed = None if end < 4 or parse_head is None else parse_head(data[:end])
    if parsed is None:
        event: h11.Response | h11.InformationalResponse | None = _H11_HEAD_READER(buf)
        return event
    status_code, reason, http_version, headers = parsed
    buf._extract(end)
    head_class = h11.InformationalResponse if status_code < 200 else h11.Response
    return head_class(
        headers=headers,
        _parsed=True,
        status_code=status_code,
        reason=reason,
        http_version=http_version,
    )


def _send_accelerated(connection: h11.Connection, event: h11.Request) -> bytes:
    """``connection.send(event)``; the response head is then read by :func:`_read_head`.

    h11 picks the head's reader as the request goes out (the server's state
    turns SEND_RESPONSE) and keeps it until the final response: 1xx
    responses change no state.
    """
    data = connection.send(event)
    if connection._reader is _H11_HEAD_READER:
        connection._reader = _read_head
    return data


def _exchange(accelerated: bool, response: bytes) -> list[object]:
    """Whether :func:`_read_head` reads the response to a GET; the heads made of ``response``."""
    connection = h11.Connection(h11.CLIENT)
    request = h11.Request(method=b"GET", target=b"/", headers=[(b"Host", b"h")])
    if accelerated:
        _send_accelerated(connection, request)
    else:
        connection.send(request)
    connection.send(h11.EndOfMessage())
    seen: list[object] = [connection._reader is _read_head]
    connection.receive_data(response)
    while True:
        event = connection.next_event()
        if not isinstance(event, (h11.Response, h11.InformationalResponse)):
            return seen
        seen.append((event.status_code, event.reason, event.headers.raw_items()))


def _accelerated_heads_work() -> bool:
    """Whether the swapped reader is used, and makes the events h11 makes of a head."""
    if parse_head is None:
        return False
    response = b"HTTP/1.1 103 Early\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nA-B: c\r\n\r\n"
    try:
        ours = _exchange(True, response)
        theirs = _exchange(False, response)
    except (AttributeError, TypeError, h11.ProtocolError):  # pragma: no cover - h11 release
        return False
    return ours == [True, *theirs[1:]]


ACCELERATED_HEADS = _accelerated_heads_work()

# Sends a request event on an h11 connection; the response head is then
# parsed by the accelerator when there is one.
send_request: Callable[[h11.Connection, h11.Request], bytes]
send_request = _send_accelerated if ACCELERATED_HEADS else h11.Connection.send
