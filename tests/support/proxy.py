"""Proxies: pproxy in a subprocess, and a small trio proxy of our own.

pproxy (a real HTTP and SOCKS5 proxy) runs once per test session per
configuration; it binds port 0 and prints the port it got, which its fixtures
wait for.
:class:`RecordingProxy` is ours, for what pproxy cannot do: show exactly what a
proxy receives, answer CONNECT with a status of the test's choice, and serve
over TLS (an ``https`` proxy) with the trustme certificate.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import trio

from .raw import RawConn, serve_raw
from .servers import HOST, Server
from .tls import TLSMaterial

URL4 = tuple[bytes, bytes, "int | None", bytes]

# ---------------------------------------------------------------------------
# pproxy


@dataclass
class PProxy:
    """A running pproxy: its listening URL as the library takes it."""

    scheme: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url4(self) -> URL4:
        return (self.scheme.encode(), HOST.encode(), self.port, b"/")


_SERVING = re.compile(rb"^Serving on .*:(\d+) by ")


def _read_port(process: subprocess.Popen[bytes]) -> int:
    """The port pproxy says it serves on (it binds port 0, then prints the port it got)."""
    assert process.stdout is not None
    seen = b""
    for line in process.stdout:
        seen += line
        match = _SERVING.match(line)
        if match:
            return int(match.group(1))
    process.wait()
    raise RuntimeError(f"pproxy exited with {process.returncode}: {seen.decode(errors='replace')}")


class PProxies:
    """Starts each pproxy configuration on first use and stops them all at the end."""

    def __init__(self) -> None:
        self._running: dict[tuple[str, str | None], PProxy] = {}

    def get(self, scheme: str, auth: str | None = None) -> PProxy:
        key = (scheme, auth)
        if key not in self._running:
            listen = f"{scheme}://{HOST}:0" + (f"#{auth}" if auth else "")
            # --auth 0: check credentials on every connection, not once per client IP.
            process = subprocess.Popen(
                [sys.executable, "-u", "-m", "pproxy", "-l", listen, "--auth", "0"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            try:
                port = _read_port(process)
            except BaseException:
                process.kill()
                process.wait()
                raise
            self._running[key] = PProxy(scheme, port, process)
        return self._running[key]

    def stop(self) -> None:
        for proxy in self._running.values():
            proxy.process.terminate()
        for proxy in self._running.values():
            proxy.process.wait()
            assert proxy.process.stdout is not None
            proxy.process.stdout.close()


@pytest.fixture(scope="session")
def pproxies() -> Iterator[PProxies]:
    manager = PProxies()
    yield manager
    manager.stop()


@pytest.fixture
def pproxy_http(pproxies: PProxies) -> PProxy:
    """pproxy as an HTTP proxy (forwarding and CONNECT), no auth."""
    return pproxies.get("http")


@pytest.fixture
def pproxy_http_auth(pproxies: PProxies) -> PProxy:
    """pproxy as an HTTP proxy requiring Basic ``user:secret`` (407 otherwise)."""
    return pproxies.get("http", "user:secret")


@pytest.fixture
def pproxy_socks5(pproxies: PProxies) -> PProxy:
    """pproxy as a SOCKS5 proxy, no auth."""
    return pproxies.get("socks5")


@pytest.fixture
def pproxy_socks5_auth(pproxies: PProxies) -> PProxy:
    """pproxy as a SOCKS5 proxy requiring username ``user``, password ``secret``."""
    return pproxies.get("socks5", "user:secret")


PROXY_AUTH_HEADER = (b"Proxy-Authorization", b"Basic dXNlcjpzZWNyZXQ=")  # user:secret

# ---------------------------------------------------------------------------
# A recording proxy of our own


@dataclass
class RecordingProxy:
    """What our proxy saw, and how it answers.

    ``heads`` holds every request head received (CONNECT or forwarded), in
    order. ``connect_status`` answers CONNECT: 200 opens the tunnel to the
    requested ``host:port`` (any host name goes to 127.0.0.1, so a test can
    use names the certificate has), anything else is sent as is and the
    connection closed. A forwarded request is answered 200 ``forwarded``.
    ``port_map`` sends a tunnel asked for one port to another (a test's servers
    can then stand for origins on default ports, which they cannot bind).
    """

    server: Server
    tls: bool
    connect_status: bytes = b"200 Connection established"
    heads: list[bytes] = field(default_factory=list)
    # The protocol each TLS connection to the proxy chose by ALPN (None: none).
    alpn_chosen: list[str | None] = field(default_factory=list)
    port_map: dict[int, int] = field(default_factory=dict)

    @property
    def url4(self) -> URL4:
        return (b"https" if self.tls else b"http", HOST.encode(), self.server.port, b"/")

    def header_names(self, index: int = -1) -> list[bytes]:
        lines = self.heads[index].split(b"\r\n")[1:]
        return [line.partition(b":")[0].lower() for line in lines if line]


async def _read_head(stream: trio.abc.Stream, buffer: bytes) -> tuple[bytes, bytes]:
    """The head up to the blank line (b"" on EOF first), and what came after it."""
    while b"\r\n\r\n" not in buffer:
        data = await stream.receive_some(65536)
        if not data:
            return b"", b""
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    return head, rest


async def _pump(source: trio.abc.Stream, sink: trio.abc.Stream, done: trio.CancelScope) -> None:
    try:
        while data := await source.receive_some(65536):
            await sink.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    done.cancel()


async def _tunnel(client: trio.abc.Stream, port: int, early: bytes) -> None:
    upstream = await trio.open_tcp_stream(HOST, port)
    try:
        if early:
            await upstream.send_all(early)
        with trio.CancelScope() as done:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_pump, client, upstream, done)
                nursery.start_soon(_pump, upstream, client, done)
    finally:
        await trio.aclose_forcefully(upstream)


@pytest.fixture
def start_recording_proxy(nursery: trio.Nursery, tls: TLSMaterial) -> Callable[..., Any]:
    """``proxy = await start_recording_proxy()``: a :class:`RecordingProxy`.

    ``tls_proxy=True`` serves TLS (an ``https`` proxy) accepting the ALPN
    protocols ``alpn`` (in its order of preference).
    """

    async def start(
        *, tls_proxy: bool = False, alpn: tuple[str, ...] = ("http/1.1",)
    ) -> RecordingProxy:
        holder: list[RecordingProxy] = []

        async def handle(conn: RawConn) -> None:
            proxy = holder[0]
            stream: trio.abc.Stream = conn.stream
            if proxy.tls:
                stream = trio.SSLStream(stream, tls.server_context(list(alpn)), server_side=True)
            rest = b""
            seen_head = False
            try:
                while True:
                    head, rest = await _read_head(stream, rest)
                    if not head:
                        return
                    if isinstance(stream, trio.SSLStream) and not seen_head:
                        proxy.alpn_chosen.append(stream.selected_alpn_protocol())
                    seen_head = True
                    proxy.heads.append(head)
                    method, target, _ = head.split(b"\r\n", 1)[0].split(b" ")
                    if method == b"CONNECT":
                        break
                    await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nforwarded")
                await stream.send_all(b"HTTP/1.1 %s\r\n\r\n" % proxy.connect_status)
                if proxy.connect_status.startswith(b"200"):
                    port = int(target.rsplit(b":", 1)[1])
                    await _tunnel(stream, proxy.port_map.get(port, port), rest)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return

        server = await serve_raw(nursery, handle)
        holder.append(RecordingProxy(server, tls_proxy))
        return holder[0]

    return start
