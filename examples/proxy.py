"""Requests through an HTTP proxy: forwarded, and tunnelled with CONNECT.

    python examples/proxy.py

Starts a local origin server (which answers with the request headers it
received) and pproxy, a real HTTP proxy (it comes with the ``examples``
extra: ``pip install '.[examples]'``), in a subprocess. Then:

* ``proxy_mode="FORWARD_ONLY"``: the request goes to the proxy with an
  absolute-form target, and the proxy forwards it;
* ``proxy_mode="TUNNEL_ONLY"``: the pool asks the proxy to ``CONNECT`` to the
  origin and speaks HTTP to the origin through the tunnel. ``proxy_headers``
  go on the CONNECT only: the origin never sees them.

(With the default ``proxy_mode="DEFAULT"``, ``http`` URLs are forwarded and
``https`` URLs tunnelled.) Last, the same through ``AsyncClient(proxies=...)``.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
from functools import partial

import h11
import trio

import trio_httpcore


async def origin(stream: trio.SocketStream) -> None:
    """An HTTP/1.1 origin server: the body of each response is the request's headers, as JSON."""
    conn = h11.Connection(h11.SERVER)
    request: h11.Request | None = None
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await stream.receive_some(65536))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                seen = {k.decode(): v.decode() for k, v in request.headers}
                body = json.dumps({"target": request.target.decode(), "headers": seen}).encode()
                head = h11.Response(status_code=200, headers=[("content-length", str(len(body)))])
                await stream.send_all(conn.send(head) + conn.send(h11.Data(data=body)))
                await stream.send_all(conn.send(h11.EndOfMessage()))
                conn.start_next_cycle()
            else:
                return
    except (trio.BrokenResourceError, h11.ProtocolError):
        pass
    finally:
        await stream.aclose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_until_listening(port: int, pproxy: trio.Process) -> bool:
    """True once ``port`` accepts a connection; False if the pproxy process exits first."""
    with trio.fail_after(10):
        while pproxy.returncode is None:
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                await trio.sleep(0.05)
            else:
                await stream.aclose()
                return True
    return False


async def get(proxy: trio_httpcore.AsyncHTTPProxy, port: int) -> dict:
    url = (b"http", b"127.0.0.1", port, b"/hello")
    status, _, stream, _ = await proxy.arequest(b"GET", url)
    try:
        body = b"".join([chunk async for chunk in stream])
    finally:
        await stream.aclose()
    assert status == 200, status
    return json.loads(body)


async def main() -> str | None:
    proxy_port = free_port()
    pproxy = [sys.executable, "-m", "pproxy", "-l", f"http://127.0.0.1:{proxy_port}"]
    async with trio.open_nursery() as nursery:
        # Both servers run in this nursery; cancelling it at the end stops them
        # (trio terminates the pproxy process).
        run_pproxy = partial(
            trio.run_process,
            pproxy,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        pproxy_process = await nursery.start(run_pproxy)
        listeners = await nursery.start(partial(trio.serve_tcp, origin, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        if not await wait_until_listening(proxy_port, pproxy_process):
            nursery.cancel_scope.cancel()
            return f"pproxy exited (status {pproxy_process.returncode}) before it listened"
        proxy_url = (b"http", b"127.0.0.1", proxy_port, b"/")

        async with trio_httpcore.AsyncHTTPProxy(proxy_url, proxy_mode="FORWARD_ONLY") as proxy:
            seen = await get(proxy, port)
        host = seen["headers"]["host"]
        print(f"forwarded: the origin got {seen['target']!r} with Host {host}")

        async with trio_httpcore.AsyncHTTPProxy(
            proxy_url,
            proxy_mode="TUNNEL_ONLY",
            proxy_headers=[(b"proxy-authorization", b"Basic c2VjcmV0OnNlY3JldA==")],
        ) as proxy:
            seen = await get(proxy, port)
        assert "proxy-authorization" not in seen["headers"]
        print(f"tunnelled: the origin got {seen['target']!r}, no proxy headers")

        # The same from the client: a proxy URL (or a mapping of URL patterns).
        proxy = f"http://127.0.0.1:{proxy_port}"
        async with trio_httpcore.AsyncClient(proxies=proxy) as client:
            response = await client.get(f"http://127.0.0.1:{port}/from-the-client")
        print(f"client: the origin got {response.json()['target']!r} through {proxy}")

        nursery.cancel_scope.cancel()
    return None


if __name__ == "__main__":
    if importlib.util.find_spec("pproxy") is None:
        sys.exit("examples/proxy.py needs pproxy: pip install 'trio_httpcore[examples]'")
    sys.exit(trio.run(main))
