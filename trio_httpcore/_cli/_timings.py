"""What a run learns about its transfer: times, counts, the protocol, for ``-v``, ``-w`` and errors.

The connection phases come from the transport's trace hook (the request's
``trace`` extension): the TCP connect, the TLS handshake and, over HTTP/1.1,
the start of the request. The name lookup, which the hook does not report
apart from the connect, is dated by trio's hostname resolver (which also
serves ``--resolve``). Only the first connection of a run is recorded.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import trio

from ._arguments import Resolve

AddressInfo = (
    tuple[Literal[socket.AddressFamily.AF_INET], socket.SocketKind, int, str, tuple[str, int]]
    | tuple[
        Literal[socket.AddressFamily.AF_INET6],
        socket.SocketKind,
        int,
        str,
        tuple[str, int, int, int] | tuple[int, bytes],
    ]
)
"""One answer of ``getaddrinfo``, as trio's resolver interface types it."""


@dataclass
class Transfer:
    """One run's record; times are ``time.perf_counter()`` readings, ``None`` until seen."""

    host: str = ""
    port: int = 0
    max_redirs: int = 50
    started: float = field(default_factory=time.perf_counter)
    namelookup: float | None = None
    connect: float | None = None
    appconnect: float | None = None
    pretransfer: float | None = None
    starttransfer: float | None = None
    finished: float | None = None
    handshaking: bool = False
    remote_ip: str = ""
    tls_version: str | None = None
    tls_cipher: str | None = None
    http_code: int = 0
    http_version: str = ""
    content_type: str = ""
    url_effective: str = ""
    num_redirects: int = 0
    received: int = 0
    expected: int | None = None
    # Whether the head of the response to the latest request sent has arrived.
    head_arrived: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    def restart(self) -> None:
        """Start counting again (a ``--retry``), keeping what the flags set."""
        fresh = Transfer(self.host, self.port, self.max_redirs)
        vars(self).update(vars(fresh))

    def since_start(self, mark: float | None) -> float:
        """Seconds from the start to ``mark``; 0 for a phase not seen (as curl's ``-w``)."""
        return 0.0 if mark is None else mark - self.started

    @property
    def ready(self) -> float | None:
        """When the request could start: curl's pre-transfer time.

        Over HTTP/1.1 the trace reports the request head going out; HTTP/2
        reports no such step, so there it is the end of the connect (and TLS).
        """
        if self.pretransfer is not None:
            return self.pretransfer
        return self.appconnect if self.appconnect is not None else self.connect

    @property
    def in_tls_handshake(self) -> bool:
        """Whether a TLS handshake began and has not ended (what a connect timeout cut)."""
        return self.handshaking

    @property
    def elapsed_ms(self) -> int:
        """Milliseconds since the start, for error lines."""
        return int((time.perf_counter() - self.started) * 1000)


class Resolver(trio.abc.HostnameResolver):
    """trio's name lookups for this run: ``--resolve`` answers first, else the system's.

    Installed with :func:`trio.socket.set_custom_hostname_resolver`, which
    holds it for this ``trio.run`` only. trio answers numeric hosts itself,
    so only real names reach it: those are the lookups it dates.
    """

    def __init__(self, transfer: Transfer, overrides: Sequence[Resolve]) -> None:
        self._transfer = transfer
        self._overrides = {(item.host, item.port): item.addresses for item in overrides}

    async def getaddrinfo(
        self,
        host: bytes | None,
        port: bytes | str | int | None,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[AddressInfo]:
        name = host.decode("ascii").lower() if host is not None else ""
        number = int(port) if port is not None else 0
        addresses = self._overrides.get((name, number))
        if addresses is not None:
            answer = [_address_info(address, number) for address in addresses]
        else:
            # Abandoned on cancel: the system call can't be interrupted, its answer is moot.
            answer = await trio.to_thread.run_sync(
                socket.getaddrinfo, host, port, family, type, proto, flags, abandon_on_cancel=True
            )
        self._transfer.namelookup = time.perf_counter()
        return answer

    async def getnameinfo(
        self, sockaddr: tuple[str, int] | tuple[str, int, int, int], flags: int
    ) -> tuple[str, str]:
        return await trio.to_thread.run_sync(socket.getnameinfo, sockaddr, flags)


def _address_info(address: str, port: int) -> AddressInfo:
    """One ``getaddrinfo`` answer for a ``--resolve`` address."""
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))


class PhaseTrace:
    """The request's ``trace`` callback: dates the phases in ``transfer`` as they end.

    ``shown`` is called with ``"connect"`` or ``"tls"`` once that phase is
    recorded (``-v`` prints it then). Steps the CLI does not time are ignored.
    """

    def __init__(self, transfer: Transfer, shown: Callable[[str], None] | None = None) -> None:
        self._transfer = transfer
        self._shown = shown

    async def __call__(self, event: str, info: dict[str, Any]) -> None:
        transfer = self._transfer
        now = time.perf_counter()
        if event == "connection.connect_tcp.complete" and transfer.connect is None:
            transfer.connect = now
            transfer.remote_ip = _peer_address(info["return_value"])
            self._show("connect")
        elif event == "connection.start_tls.started" and transfer.appconnect is None:
            transfer.handshaking = True
        elif event == "connection.start_tls.complete" and transfer.appconnect is None:
            transfer.appconnect = now
            transfer.handshaking = False
            # A TLSSocketStream, or a trio.SSLStream (forwarding to its SSLObject): both
            # answer version() and cipher() as the ssl module does.
            stream = info["return_value"]
            transfer.tls_version = stream.version()
            transfer.tls_cipher = stream.cipher()[0]
            self._show("tls")
        elif event == "http11.send_request_headers.started" and transfer.pretransfer is None:
            transfer.pretransfer = now

    def _show(self, phase: str) -> None:
        if self._shown is not None:
            self._shown(phase)


def _peer_address(stream: trio.abc.Stream) -> str:
    """The IP address ``stream`` is connected to ("" if the peer is already gone)."""
    try:
        return str(stream.socket.getpeername()[0]) if isinstance(stream, trio.SocketStream) else ""
    except OSError:
        return ""
