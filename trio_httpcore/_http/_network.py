"""Opening and closing the byte streams connections run over, and reading them into buffers.

A body is read into buffers that are reused, not allocated per read: through ``recv_into`` where
the stream is a plain socket, else through ``receive_some``."""

from __future__ import annotations

import select
import ssl
from collections.abc import Awaitable, Callable
from typing import Protocol

import trio

from .._tls import client_tls_stream
from ._tlssocket import TLSSocketStream

TLSStream = TLSSocketStream | trio.SSLStream[trio.abc.Stream]
"""A TLS connection: on its own socket, or over another stream (through a TLS proxy)."""


class RawSocket(Protocol):
    """The socket under a stream, as far as polling and closing it go."""

    def fileno(self) -> int: ...

    def close(self) -> None: ...


ReceiveInto = Callable[[bytearray | memoryview], Awaitable[int]]
"""Reads what has arrived (at least one byte; 0 at end of file) into a buffer; returns the count."""


def receive_into(stream: trio.abc.Stream) -> ReceiveInto | None:
    """How to read ``stream`` into a buffer, where it can be: ``None`` for ``receive_some`` only.

    A plain ``trio.SocketStream`` is read with its socket's ``recv_into``
    (trio's checkpoints and waits included), TLS on its own socket with
    OpenSSL's. Others allocate each read.
    """
    if type(stream) is trio.SocketStream:
        return stream.socket.recv_into
    if type(stream) is TLSSocketStream:
        return stream.receive_into
    return None


def raw_socket(stream: trio.abc.Stream) -> RawSocket | None:
    """The socket under ``stream``, reached through any wrapping layers, or ``None``.

    TLS on its own socket is its own; ``trio.SSLStream`` and our other
    wrappers expose what they wrap as ``transport_stream``; a stream with
    none of these has none.
    """
    while not isinstance(stream, trio.SocketStream):
        if isinstance(stream, TLSSocketStream):
            return stream
        inner = getattr(stream, "transport_stream", None)
        if not isinstance(inner, trio.abc.Stream):
            return None
        stream = inner
    return stream.socket


def readable_now(sock: RawSocket) -> bool:
    """Whether bytes, or an end of file, are waiting on ``sock`` right now (no waiting).

    One zero-timeout ``poll`` of one socket: cheap enough to do before each
    reuse of a connection, unlike a sweep over every idle one.
    """
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def close_now(stream: trio.abc.Stream) -> None:
    """Close ``stream``'s socket at once, without an await.

    Used where a connection is in an unknown state (a cancelled request) or is
    being torn down: no TLS close_notify is owed to a connection we abandon,
    and not awaiting means a cancelled task can never skip the close. Tasks
    blocked on the socket are woken with ``trio.ClosedResourceError``. A
    stream with no socket under it is closed as soon as the loop can.
    """
    sock = raw_socket(stream)
    if sock is None:
        trio.lowlevel.spawn_system_task(trio.aclose_forcefully, stream)
    else:
        sock.close()


async def open_stream(
    host: str,
    port: int,
    *,
    uds: str | None,
    local_address: str | None,
) -> trio.abc.Stream:
    """A TCP stream to ``host:port`` (happy eyeballs), or to the Unix socket ``uds``."""
    if uds is not None:
        return await trio.open_unix_socket(uds)
    return await trio.open_tcp_stream(host, port, local_address=local_address)


async def start_tls(
    stream: trio.abc.Stream,
    ssl_context: ssl.SSLContext,
    server_hostname: str,
    alpn: tuple[list[str], list[str]] | None = None,
) -> TLSStream:
    """Wrap ``stream`` in TLS and complete the handshake, for ``server_hostname``.

    A plain socket stream gets TLS on the socket itself (:class:`TLSSocketStream`,
    which takes the socket over); any other stream (a TLS proxy's) gets
    ``trio.SSLStream``. Either way a server's close without close_notify
    reads as the end of the stream: servers often close so, and HTTP
    framing already tells where a message ends (RFC 9112 section 9.8).
    ``alpn=(offer, usual)``: this connection's own ALPN offer, where the
    context offers ``usual`` (:func:`trio_httpcore._tls.making_tls`).
    """
    if type(stream) is trio.SocketStream:
        return await TLSSocketStream.connect(stream, ssl_context, server_hostname, alpn)
    tls = client_tls_stream(stream, ssl_context, server_hostname, alpn)
    await tls.do_handshake()
    return tls


def alpn_protocol(stream: trio.abc.Stream) -> str | None:
    """The protocol ALPN chose on ``stream``, or ``None`` (no TLS, or no choice)."""
    if isinstance(stream, (TLSSocketStream, trio.SSLStream)):
        return stream.selected_alpn_protocol()
    return None
