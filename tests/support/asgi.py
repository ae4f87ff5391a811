"""Hypercorn (which runs on trio) serving an ASGI app, by default :class:`TestApp`:
plain HTTP/1.1 (which also answers h2c with prior knowledge), or TLS with a
trustme certificate, optionally behind a counting relay."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from .servers import HOST, ConnectionCounter, Server, pattern, serve_relay
from .tls import TLSMaterial


class Gate:
    """A point where the test app stops until the test lets it go on."""

    def __init__(self) -> None:
        self.arrived = trio.Event()  # the request reached the app
        self.headers_sent = trio.Event()  # response headers (and a first chunk) were sent
        self.release = trio.Event()  # the test lets the app finish the response
        self.finished = trio.Event()  # the app returned
        self.disconnected = trio.Event()  # the app saw http.disconnect


Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class TestApp:
    """The ASGI app the Hypercorn servers run.

    Routes (GET unless said otherwise):

    * ``/echo``: JSON of ``method``, ``path``, ``query``, ``http_version``,
      ``headers`` (list of [name, value] latin-1 strings), ``body`` (latin-1).
    * ``/echo_body``: the request body, as is.
    * ``/status/<code>``: that status, empty body.
    * ``/bytes/<n>``: ``n`` bytes of :func:`pattern`, with Content-Length.
    * ``/stream/<chunks>/<size>``: ``chunks`` chunks of ``size`` bytes, no
      Content-Length (so HTTP/1.1 sends it chunked).
    * ``/gate/<name>``: signals ``app.gate(name).arrived``, sends headers and
      b"first", signals ``headers_sent``, waits for ``release``, sends b"last".
    * ``/close``: a response with ``Connection: close``.
    * anything else: 200 ``hello``.
    """

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self.gates: dict[str, Gate] = {}
        self.requests: list[Scope] = []

    def gate(self, name: str) -> Gate:
        if name not in self.gates:
            self.gates[name] = Gate()
        return self.gates[name]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":  # pragma: no cover
            return
        self.requests.append(scope)
        path: str = scope["path"]
        # A bytearray: HTTP/3 delivers a body in packet-sized messages, and
        # joining bytes to bytes copies the whole so far each time.
        received = bytearray()
        while True:
            message = await receive()
            received += message.get("body", b"")
            if not message.get("more_body", False):
                break
        body = bytes(received)

        async def respond(
            status: int, content: bytes, headers: list[tuple[bytes, bytes]] | None = None
        ) -> None:
            hdrs = [(b"content-length", str(len(content)).encode()), *(headers or [])]
            await send({"type": "http.response.start", "status": status, "headers": hdrs})
            await send({"type": "http.response.body", "body": content})

        if path == "/echo":
            doc = {
                "method": scope["method"],
                "path": path,
                "query": scope["query_string"].decode("latin-1"),
                "http_version": scope["http_version"],
                "headers": [
                    [k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]
                ],
                "body": body.decode("latin-1"),
            }
            await respond(200, json.dumps(doc).encode(), [(b"content-type", b"application/json")])
        elif path == "/echo_body":
            await respond(200, body)
        elif path.startswith("/status/"):
            await respond(int(path.split("/")[2]), b"")
        elif path.startswith("/bytes/"):
            await respond(200, pattern(int(path.split("/")[2])))
        elif path.startswith("/stream/"):
            _, _, chunks, size = path.split("/")
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for i in range(int(chunks)):
                await send(
                    {
                        "type": "http.response.body",
                        "body": bytes([65 + i % 26]) * int(size),
                        "more_body": True,
                    }
                )
            await send({"type": "http.response.body", "body": b""})
        elif path.startswith("/gate/"):
            gate = self.gate(path.split("/")[2])
            gate.arrived.set()
            try:
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"first", "more_body": True})
                gate.headers_sent.set()
                await gate.release.wait()
                await send({"type": "http.response.body", "body": b"last"})
            finally:
                gate.finished.set()
        elif path == "/close":
            await respond(200, b"bye", [(b"connection", b"close")])
        else:
            await respond(200, b"hello")


async def serve_hypercorn(
    nursery: trio.Nursery,
    app: Any = None,
    *,
    certfile: str | None = None,
    keyfile: str | None = None,
    alpn: list[str] | None = None,
    count_connections: bool = False,
    keep_alive_timeout: float | None = None,
    bind: str = "127.0.0.1:0",
) -> Server:
    """Hypercorn serving ``app`` (a fresh :class:`TestApp` by default) on 127.0.0.1:0.

    With ``certfile``/``keyfile`` it serves TLS (``https``); otherwise plain
    HTTP/1.1, which also accepts HTTP/2 with prior knowledge (h2c). With
    ``count_connections=True`` the returned address is a counting TCP proxy in
    front of Hypercorn (TLS passes through it untouched), so ``server.counter``
    sees every connection.
    ``bind="unix:/path"`` serves on a Unix socket instead (``server.port`` is 0).
    ``server.extra["app"]`` is the app.
    """
    from hypercorn.config import Config
    from hypercorn.trio import serve

    if app is None:
        app = TestApp()
    config = Config()
    config.bind = [bind]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 1.0
    if keep_alive_timeout is not None:
        config.keep_alive_timeout = keep_alive_timeout
    if certfile is not None:
        config.certfile = certfile
        config.keyfile = keyfile
    if alpn is not None:
        config.alpn_protocols = alpn
    stop = trio.Event()
    binds: list[str] = await nursery.start(
        lambda task_status: serve(app, config, shutdown_trigger=stop.wait, task_status=task_status)
    )
    bound = binds[0]
    scheme, _, hostport = bound.partition("://")
    port = 0 if bind.startswith("unix:") else int(hostport.rsplit(":", 1)[1])
    counter = ConnectionCounter()
    if count_connections:
        relay = await serve_relay(nursery, port, stop=stop)
        port, counter = relay.port, relay.counter
    server = Server(scheme, HOST, port, counter, stop)
    server.extra["app"] = app
    return server


async def serve_counted_tls_hypercorn(nursery: trio.Nursery, tls: TLSMaterial) -> Server:
    """Hypercorn over TLS (ALPN h2, http/1.1) behind a counting TCP relay: the relay
    passes the TLS bytes through, so ``server.counter`` counts the client's TCP connections."""
    backend = await serve_hypercorn(nursery, certfile=tls.certfile, keyfile=tls.keyfile)
    relay = await serve_relay(nursery, backend.port, stop=backend.stop)
    return Server("https", backend.host, relay.port, relay.counter, backend.stop, backend.extra)
