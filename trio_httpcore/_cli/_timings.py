"""What a run learns about its transfer: times, counts, the protocol, for ``-v``, ``-w`` and errors.

The transport reports no phases, so they are observed through documented
hooks the CLI owns: trio's hostname resolver (which also serves ``--resolve``)
dates the name lookup, the ``SSLContext``'s handshake dates the connect and
TLS. A plain ``http://`` connect can't be seen from here: it reads 0.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

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
    starttransfer: float | None = None
    finished: float | None = None
    tls_version: str | None = None
    http_code: int = 0
    http_version: str = ""
    content_type: str = ""
    url_effective: str = ""
    num_redirects: int = 0
    received: int = 0
    expected: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def restart(self) -> None:
        """Start counting again (a ``--retry``), keeping what the flags set."""
        fresh = Transfer(self.host, self.port, self.max_redirs)
        vars(self).update(vars(fresh))

    def since_start(self, mark: float | None) -> float:
        """Seconds from the start to ``mark``; 0 for a phase not seen (as curl's ``-w``)."""
        return 0.0 if mark is None else mark - self.started

    @property
    def in_tls_handshake(self) -> bool:
        """Whether a TLS handshake began and has not ended (what a connect timeout cut)."""
        return self.connect is not None and self.appconnect is None

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


def observe_tls(context: ssl.SSLContext, transfer: Transfer) -> None:
    """Have ``context``'s TLS handshakes date the connect and TLS phases in ``transfer``.

    ``SSLContext.sslobject_class`` is the documented way to customise what
    ``wrap_bio`` (which ``trio.SSLStream`` uses) returns; the handshake starts
    right after the TCP connect, which dates the connect too. Only the first
    connection of the run is recorded: the one that made the first request.
    """

    class ObservedSSLObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            if transfer.connect is None:
                transfer.connect = time.perf_counter()
            super().do_handshake()  # raises SSLWantReadError until the handshake is done
            if transfer.appconnect is None:
                transfer.appconnect = time.perf_counter()
                transfer.tls_version = self.version()

    context.sslobject_class = ObservedSSLObject
