"""Opening and closing the byte streams connections run over."""

from __future__ import annotations

import select
import ssl

import trio

# Large enough that a body arrives in few reads, below glibc's default mmap
# threshold (128 KiB) so each read is not an mmap/munmap pair.
READ_SIZE = 65536


def raw_socket(stream: trio.abc.Stream) -> trio.socket.SocketType | None:
    """The socket under ``stream``, reached through any wrapping layers, or ``None``.

    TLS (``trio.SSLStream``) and our own wrappers expose what they wrap as
    ``transport_stream``; a stream with neither that nor a socket has none.
    """
    while not isinstance(stream, trio.SocketStream):
        inner = getattr(stream, "transport_stream", None)
        if not isinstance(inner, trio.abc.Stream):
            return None
        stream = inner
    return stream.socket


def readable_now(sock: trio.socket.SocketType) -> bool:
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
    stream: trio.abc.Stream, ssl_context: ssl.SSLContext, server_hostname: str
) -> trio.SSLStream[trio.abc.Stream]:
    """Wrap ``stream`` in TLS and complete the handshake, for ``server_hostname``.

    ``https_compatible``: servers often close without a TLS close_notify, and
    HTTP framing already tells where a message ends (RFC 9112 section 9.8).
    """
    tls = trio.SSLStream(
        stream, ssl_context, server_hostname=server_hostname, https_compatible=True
    )
    await tls.do_handshake()
    return tls
