"""SyncHTTPProxy and SyncSOCKSProxy: the blocking proxies, called from a worker thread.

The servers and proxies live in the test's trio run; the blocking calls run
in a ``trio.to_thread`` worker (a sync API refuses to run inside trio), and
the proxy's own trio loop runs on its portal thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import trio

from tests.support.pool import TIMEOUTS
from tests.support.proxy import PROXY_AUTH_HEADER, PProxy, RecordingProxy
from tests.support.servers import HOST, Server
from tests.support.tls import TLSMaterial
from trio_httpcore import ProxyError, SyncHTTPProxy, SyncSOCKSProxy


def sync_echo(pool: Any, url: Any, headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    status, _, stream, ext = pool.request(b"GET", url, headers=headers or [], ext=TIMEOUTS)
    body = b"".join(stream)
    assert status == 200, body
    doc = json.loads(body)
    doc["response_ext"] = ext
    return doc


@pytest.mark.parametrize("http2", [False, True])
async def test_encode_httpcore_722_sync_https_proxy_tls_in_tls(
    start_recording_proxy: Callable[..., Any], tls_server: Server, tls: TLSMaterial, http2: bool
) -> None:
    """FIELD-LESSONS 15, sync: https proxy -> https origin over CONNECT, h1 and h2 inside."""
    proxy: RecordingProxy = await start_recording_proxy(tls_proxy=True)
    url = tls_server.url4("/echo", host="localhost")

    def run() -> list[Any]:
        with SyncHTTPProxy(
            proxy.url4,
            proxy_headers=[PROXY_AUTH_HEADER],
            ssl_context=tls.client_context(),
            http2=http2,
        ) as pool:
            docs = [sync_echo(pool, url) for _ in range(2)]
            assert pool.statistics().idle == 1
            return docs

    docs = await trio.to_thread.run_sync(run)
    assert [doc["http_version"] for doc in docs] == ["2" if http2 else "1.1"] * 2
    assert all("proxy-authorization" not in dict(doc["headers"]) for doc in docs)
    assert len(proxy.heads) == 1
    assert proxy.heads[0].startswith(b"CONNECT localhost:%d HTTP/1.1\r\n" % tls_server.port)


async def test_sync_forward_through_pproxy(pproxy_http: PProxy, hypercorn_server: Server) -> None:
    def run() -> Any:
        with SyncHTTPProxy(pproxy_http.url4) as pool:
            return sync_echo(pool, hypercorn_server.url4("/echo"))

    doc = await trio.to_thread.run_sync(run)
    assert ["host", f"{HOST}:{hypercorn_server.port}"] in doc["headers"]


async def test_sync_connect_refused_raises_proxy_error(
    pproxy_http_auth: PProxy, tls_server: Server, tls: TLSMaterial
) -> None:
    def run() -> None:
        with SyncHTTPProxy(pproxy_http_auth.url4, ssl_context=tls.client_context()) as pool:
            sync_echo(pool, tls_server.url4("/echo"))

    with pytest.raises(ProxyError) as info:
        await trio.to_thread.run_sync(run)
    assert info.value.status_code == 407


async def test_sync_socks5_with_auth_through_pproxy(
    pproxy_socks5_auth: PProxy, tls_server: Server, tls: TLSMaterial
) -> None:
    def run() -> Any:
        with SyncSOCKSProxy(
            (b"socks5h", HOST.encode(), pproxy_socks5_auth.port, b""),
            proxy_auth=(b"user", b"secret"),
            ssl_context=tls.client_context(),
            http2=True,
        ) as pool:
            return sync_echo(pool, tls_server.url4("/echo", host="localhost"))

    doc = await trio.to_thread.run_sync(run)
    assert doc["http_version"] == "2"


@pytest.mark.parametrize("cls", [SyncHTTPProxy, SyncSOCKSProxy])
def test_sync_proxies_take_only_the_sync_backend(cls: Any) -> None:
    with pytest.raises(ValueError, match="backend='sync'"):
        cls((b"socks5" if cls is SyncSOCKSProxy else b"http", b"proxy", 1080, b""), backend="trio")
