"""TLS on a connection's own socket: OpenSSL reads and writes the socket itself, in non-blocking
mode, and trio only waits for it to turn readable or writable. Every call tries OpenSSL first
(so bytes it already holds are never waited for) and is a trio checkpoint, as trio's streams are;
one task receives and one task sends at a time."""

from __future__ import annotations

import contextlib
import functools
import socket
import ssl
from collections.abc import Callable
from typing import TypeVar

import trio

from .._tls import making_tls
from ._buffers import BODY_BUFFER_SIZE, give_back, take_buffer

T = TypeVar("T")

# How much one SSL_write is given. Python's ssl writes all or nothing (no
# partial writes), so a large send goes in pieces: the socket's buffer fills
# once per piece at most, not once per call.
SEND_PIECE = 256 * 1024


class TLSSocketStream(trio.abc.Stream):
    """A TLS connection on an ``ssl.SSLSocket`` in non-blocking mode, as a trio stream.

    ``trio.SSLStream`` runs OpenSSL over memory buffers and moves every byte
    between them and the socket in Python (a copy each way and a trip through
    trio per 16 KiB record); here OpenSSL reads the socket directly and a read
    takes every record that has arrived, up to the buffer, before it returns.

    Closing: :meth:`aclose` sends a close_notify alert without waiting for
    the server's, then closes the socket (what ``trio.SSLStream`` does).
    :meth:`close` closes the socket at once, with no alert, waking any task
    that waits on it with ``trio.ClosedResourceError``. A server's close
    without close_notify reads as the end of the stream, as
    ``trio.SSLStream(https_compatible=True)`` has it: HTTP's framing, not
    TLS, says whether a message was complete (RFC 9112 section 9.8).
    """

    def __init__(self, tls: ssl.SSLSocket) -> None:
        self._tls = tls
        self._closed = False
        self._receiver: trio.lowlevel.Task | None = None  # the task receiving, if one is
        self._sending = False
        # A send that needs the server's bytes first (a TLS 1.2 renegotiation)
        # while another task's receive waits on the socket waits for that
        # receive to wake: its read feeds OpenSSL what the send needs.
        self._woken = trio.lowlevel.ParkingLot()

    @classmethod
    async def connect(
        cls,
        stream: trio.SocketStream,
        context: ssl.SSLContext,
        server_hostname: str,
        alpn: tuple[list[str], list[str]] | None = None,
    ) -> TLSSocketStream:
        """Take over ``stream``'s socket (``stream`` is left closed) and make the TLS handshake.

        ``alpn``: this connection's own ALPN offer (:func:`~trio_httpcore._tls.making_tls`).
        On any failure or cancellation the socket is closed.
        """
        sock = stream.socket
        plain = socket.socket(sock.family, sock.type, sock.proto, fileno=sock.detach())
        try:
            with making_tls(context, alpn):
                tls = context.wrap_socket(
                    plain, server_hostname=server_hostname, do_handshake_on_connect=False
                )
        except BaseException:
            plain.close()
            raise
        self = cls(tls)
        try:
            tls.setblocking(False)
            self._receiver = trio.lowlevel.current_task()
            self._sending = True
            await self._call(tls.do_handshake)
            self._receiver = None
            self._sending = False
        except BaseException:
            self.close()
            raise
        return self

    # -- What the connection code asks of a TLS stream.

    def selected_alpn_protocol(self) -> str | None:
        return self._tls.selected_alpn_protocol()

    def getpeercert(self, binary_form: bool = False) -> object:
        return self._tls.getpeercert(binary_form)

    def version(self) -> str | None:
        return self._tls.version()

    def cipher(self) -> tuple[str, str, int] | None:
        return self._tls.cipher()

    def fileno(self) -> int:
        """The socket's descriptor, to poll it (``-1`` once closed)."""
        return self._tls.fileno()

    def close(self) -> None:
        """Close the socket now, without a close_notify; tasks waiting on it are woken."""
        if self._closed:
            return
        self._closed = True
        if self._tls.fileno() != -1:
            trio.lowlevel.notify_closing(self._tls)
        self._tls.close()
        self._woken.unpark_all()  # a send parked for the receive: it finds the stream closed

    # -- trio.abc.Stream.

    async def receive_into(self, buffer: bytearray | memoryview) -> int:
        """Read what has arrived into ``buffer`` (one record or more); 0 at the stream's end."""
        return await self._receive(memoryview(buffer))

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if max_bytes is not None and max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        buffer = take_buffer()
        try:
            view = memoryview(buffer)
            if max_bytes is not None and max_bytes < BODY_BUFFER_SIZE:
                view = view[:max_bytes]
            return bytes(view[: await self._receive(view)])
        finally:
            give_back(buffer)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this stream")
        self._check_open()
        self._sending = True
        try:
            view = memoryview(data).cast("B")
            if not view:
                await trio.lowlevel.checkpoint()
                return
            await trio.lowlevel.checkpoint_if_cancelled()
            waited = False
            for start in range(0, len(view), SEND_PIECE):
                piece = view[start : start + SEND_PIECE]
                sent = 0
                while sent < len(piece):
                    # After a "want", OpenSSL must be given the same bytes again.
                    send = functools.partial(self._tls.send, piece[sent:])
                    count, waited_now = await self._retry(send)
                    sent += count
                    waited |= waited_now
            if not waited:
                await trio.lowlevel.cancel_shielded_checkpoint()
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this stream")
        self._check_open()
        await trio.lowlevel.wait_writable(self._tls)

    async def aclose(self) -> None:
        """Send close_notify if the socket takes it now, then close; never waits for the server."""
        if not self._closed and not self._sending:
            # Raises when the server's close_notify is not in (it is never
            # waited for), or when the connection is broken already.
            with contextlib.suppress(OSError, ValueError):
                self._tls.unwrap()
        self.close()
        await trio.lowlevel.checkpoint()

    # -- Driving OpenSSL.

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the TLS stream is closed")

    async def _receive(self, view: memoryview) -> int:
        if self._receiver is not None:
            raise trio.BusyResourceError("another task is receiving on this stream")
        self._check_open()
        self._receiver = trio.lowlevel.current_task()
        try:
            return await self._call(functools.partial(self._fill, view))
        finally:
            self._receiver = None
            self._woken.unpark_all()

    def _fill(self, view: memoryview) -> int:
        """Read records into ``view`` until it is full or none is waiting; raises if none was."""
        tls = self._tls
        total = tls.recv_into(view)
        size = len(view)
        while total and total < size:
            try:
                more = tls.recv_into(view[total:])
            except ssl.SSLWantReadError:
                break
            if not more:
                break
            total += more
        return total

    async def _call(self, operation: Callable[[], T]) -> T:
        """``operation`` driven to completion, the call a full trio checkpoint either way."""
        await trio.lowlevel.checkpoint_if_cancelled()
        result, waited = await self._retry(operation)
        if not waited:
            await trio.lowlevel.cancel_shielded_checkpoint()
        return result

    async def _retry(self, operation: Callable[[], T]) -> tuple[T, bool]:
        """Run ``operation`` until OpenSSL no longer wants the socket, waiting as it asks.

        Returns its result and whether it waited (each wait is a checkpoint).
        OpenSSL is always tried first: bytes it holds already are never waited for.
        """
        waited = False
        while True:
            try:
                return operation(), waited
            except ssl.SSLWantReadError:
                await self._wait_readable()
            except ssl.SSLWantWriteError:
                self._check_open()
                await trio.lowlevel.wait_writable(self._tls)
            except (ssl.SSLError, OSError) as exc:
                if self._closed:
                    raise trio.ClosedResourceError("the TLS stream was closed") from exc
                raise trio.BrokenResourceError(f"TLS connection broken: {exc}") from exc
            waited = True

    async def _wait_readable(self) -> None:
        self._check_open()
        receiver = self._receiver
        if receiver is not None and receiver is not trio.lowlevel.current_task():
            await self._woken.park()
            return
        try:
            await trio.lowlevel.wait_readable(self._tls)
        finally:
            self._woken.unpark_all()
