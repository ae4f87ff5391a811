"""Hypercorn serving HTTP/3 (aioquic-based) beside TLS over TCP, on the same port number.

Both sockets are bound here, TCP on port 0 and UDP on the port that TCP got,
and handed to Hypercorn, so the origin ``https://127.0.0.1:PORT`` answers on
both, and its ``Alt-Svc`` (``h3=":PORT"``) names the same port.
"""

from __future__ import annotations

import socket
from typing import Any

import trio

from .asgi import TestApp
from .servers import HOST, ConnectionCounter, Server
from .tls import TLSMaterial


def _same_port_pair() -> tuple[socket.socket, socket.socket]:
    """A TCP and a UDP socket bound on 127.0.0.1 with the same port number."""
    for _ in range(50):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind((HOST, 0))
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind((HOST, tcp.getsockname()[1]))
        except OSError:  # pragma: no cover - the UDP port was taken
            tcp.close()
            udp.close()
            continue
        return tcp, udp
    raise RuntimeError("no port free for both TCP and UDP")  # pragma: no cover


async def serve_hypercorn_h3(
    nursery: trio.Nursery,
    tls: TLSMaterial,
    app: Any = None,
    *,
    quic: bool = True,
    silent_udp: bool = False,
    alt_svc: bool = True,
) -> Server:
    """Hypercorn over TLS (h2, http/1.1) and, with ``quic``, HTTP/3 on the same port.

    ``alt_svc=False`` keeps Hypercorn from advertising HTTP/3. Without
    ``quic`` nothing listens on the UDP port (a datagram to it is refused), or
    with ``silent_udp`` a socket is bound there that never answers.
    ``server.extra["app"]`` is the app.
    """
    from hypercorn.config import Config, Sockets
    from hypercorn.trio.run import worker_serve
    from hypercorn.utils import wrap_app

    if app is None:
        app = TestApp()
    tcp, udp = _same_port_pair()
    tcp.listen(128)
    port = tcp.getsockname()[1]
    if not quic and not silent_udp:
        udp.close()
    config = Config()
    if alt_svc:
        config.alt_svc_headers = [f'h3=":{port}"; ma=3600']
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 1.0
    config.certfile = tls.certfile
    config.keyfile = tls.keyfile
    sockets = Sockets(secure_sockets=[tcp], insecure_sockets=[], quic_sockets=[udp] if quic else [])
    stop = trio.Event()

    async def run(task_status: trio.TaskStatus[Any]) -> None:
        # Hypercorn leaves sockets it was given open: they are closed here.
        try:
            await worker_serve(
                wrap_app(app, config.wsgi_max_body_size, None),
                config,
                sockets=sockets,
                shutdown_trigger=stop.wait,
                task_status=task_status,
            )
        finally:
            tcp.close()
            udp.close()

    await nursery.start(run)
    server = Server("https", HOST, port, ConnectionCounter(), stop)
    server.extra["app"] = app
    return server
