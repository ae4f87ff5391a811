"""HTTP/2 multiplexing: 100 concurrent requests share one TLS connection.

    python examples/http2.py

Starts Hypercorn (on trio) with a tiny ASGI app over TLS, using a throwaway
certificate authority from ``trustme`` (both come with the ``examples``
extra: ``pip install '.[examples]'``). The pool is made with ``http2=True``,
so it offers ``h2`` by ALPN; the server picks it, and every request becomes a
stream on the one connection. The app answers with the client's port, which shows
that all requests arrived over the same TCP connection.
"""

from __future__ import annotations

import ssl
import sys

import trio

import trio_httpcore

try:
    import trustme
    from hypercorn.config import Config
    from hypercorn.trio import serve
except ImportError as exc:
    sys.exit(f"examples/http2.py needs {exc.name}: pip install 'trio_httpcore[examples]'")

N_REQUESTS = 100


async def app(scope, receive, send):
    """Answer every request with the HTTP version and the client's TCP port."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await trio.sleep(0.05)  # every request takes a while: they overlap
    body = f"HTTP/{scope['http_version']} port={scope['client'][1]}".encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def fetch(pool, port: int, n: int, answers: list[str]) -> None:
    url = (b"https", b"127.0.0.1", port, f"/{n}".encode())
    status, _, stream, ext = await pool.arequest(b"GET", url)
    try:
        body = b"".join([chunk async for chunk in stream])
    finally:
        await stream.aclose()
    assert status == 200 and ext["http_version"] == "HTTP/2", (status, ext)
    answers.append(body.decode())


async def main() -> None:
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1")
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = config.errorlog = None
    config.alpn_protocols = ["h2", "http/1.1"]
    with (
        server_cert.cert_chain_pems[0].tempfile() as certfile,
        server_cert.private_key_pem.tempfile() as keyfile,
    ):
        config.certfile, config.keyfile = certfile, keyfile
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(
                lambda task_status: serve(
                    app, config, shutdown_trigger=stop.wait, task_status=task_status
                )
            )
            port = int(binds[0].rsplit(":", 1)[1])

            client_context = ssl.create_default_context()
            ca.configure_trust(client_context)
            answers: list[str] = []
            with trio.fail_after(10):
                async with trio_httpcore.AsyncConnectionPool(
                    ssl_context=client_context, http2=True
                ) as pool:
                    async with trio.open_nursery() as requests:
                        for n in range(N_REQUESTS):
                            requests.start_soon(fetch, pool, port, n, answers)
                    stats = pool.statistics()
            stop.set()

    assert len(answers) == N_REQUESTS
    assert len(set(answers)) == 1, set(answers)  # one client port: one connection
    print(f"{N_REQUESTS} requests, all answered with {answers[0]!r}")
    print(f"pool afterwards: {stats}")


if __name__ == "__main__":
    trio.run(main)
