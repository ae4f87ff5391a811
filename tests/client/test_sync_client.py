"""The blocking Client: the AsyncClient on a portal thread, against a server in a thread."""

from __future__ import annotations

import _thread
import gc
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trio

from tests.support.servers import Server
from trio_httpcore import Client, Response, ResponseClosed, StreamConsumed, TooManyRedirects

from .conftest import ClientApp, pattern

ServeInThread = Callable[..., Server]


@pytest.fixture
def server(serve_in_thread: ServeInThread) -> Server:
    return serve_in_thread()


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    with Client(base_url=server.url) as client:
        yield client


def test_requests(client: Client, server: Server) -> None:
    response = client.post("/echo", json={"a": 1}, params={"q": "x"})
    response.raise_for_status()
    echo = response.json()
    assert (echo["method"], echo["query"], echo["body"]) == ("POST", "q=x", '{"a":1}')
    assert response.http_version == "HTTP/1.1"
    assert response.url.port == server.port
    for method in ("get", "head", "options", "delete", "put", "patch"):
        assert getattr(client, method)("/status/201").status_code == 201
    assert client.get("/encoded/gzip,br?size=50000").content == pattern(50_000)


def test_streaming(client: Client) -> None:
    with client.stream("GET", "/encoded/gzip?size=300000") as response:
        assert not response.is_stream_consumed
        chunks = list(response.iter_bytes())
        assert b"".join(chunks) == pattern(300_000)
        with pytest.raises(StreamConsumed):
            response.read()
    assert response.is_closed
    with client.stream("GET", "/chunks", params={"part": ["a\r", "\nb", "\rc"]}) as response:
        assert list(response.iter_lines()) == ["a", "b", "c"]
    with client.stream("GET", "/text", params={"body": "snow ☃"}) as response:
        assert "".join(response.iter_text()) == "snow ☃"
    with client.stream("GET", "/encoded/gzip?size=100") as response:
        assert len(b"".join(response.raw())) < 100  # type: ignore[arg-type]
    with client.stream("GET", "/status/200") as response:
        assert b"".join(response.stream()) == b"status 200"  # type: ignore[arg-type]
    response = client.get("/status/200", stream=True)
    response.close()
    with pytest.raises(ResponseClosed):
        response.read()
    # Breaking out of the iteration early releases the connection.
    with client.stream("GET", "/encoded/identity?size=1000000") as response:
        for _ in response.iter_raw():
            break
    assert client.get("/status/200").read() == b"status 200"


def test_request_body_from_a_generator(client: Client) -> None:
    threads: list[str] = []

    def body() -> Iterator[bytes]:
        threads.append(threading.current_thread().name)
        yield b"from "
        yield b"a generator"

    echo = client.put("/echo", content=body()).json()
    assert echo["body"] == "from a generator"
    # Run in a worker thread, not the caller's and not the portal's.
    assert threads and threads[0] not in (threading.current_thread().name, "Client")


def test_redirects_and_next(client: Client) -> None:
    response = client.get("/chain/2")
    assert [r.status_code for r in response.history] == [302, 302]
    first = client.get("/chain/1", follow_redirects=False)
    assert first.next().content == b"done"
    client.max_redirects = 1
    with pytest.raises(TooManyRedirects):
        client.get("/chain/2")


def test_event_hooks_run_in_a_worker_thread(server: Server) -> None:
    seen: list[Any] = []

    def on_response(response: Response) -> None:
        # A blocking read works here: the hook is not in the portal's thread.
        seen.append((response.status_code, response.read()))

    with Client(base_url=server.url, event_hooks={"response": [on_response]}) as client:
        assert client.get("/chain/1").content == b"done"
        assert len(client.event_hooks["response"]) == 1
    assert seen == [(302, b""), (200, b"done")]


def test_without_with_and_close(server: Server) -> None:
    client = Client(base_url=server.url, timeout=3.0)
    assert client.timeout.read == 3.0
    client.headers = {"X-Mine": "1"}
    client.params = {"p": "1"}
    echo = client.get("/echo").json()
    assert ["x-mine", "1"] in echo["headers"] and echo["query"] == "p=1"
    assert client.base_url is not None and client.base_url.port == server.port
    client.base_url = None
    assert not client.is_closed
    client.close()
    assert client.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        client.get(f"{server.url}/")
    request = client.build_request("GET", f"{server.url}/echo")
    assert request.url.path == "/echo"


def test_a_dropped_client_stops_its_thread(server: Server) -> None:
    # Other tests' clients may be alive in this process: watch only this one's thread.
    before = {t for t in threading.enumerate() if t.name == "Client"}
    client = Client()
    assert client.get(f"{server.url}/status/200").status_code == 200
    (thread,) = {t for t in threading.enumerate() if t.name == "Client"} - before
    del client
    gc.collect()
    assert not thread.is_alive()


def test_threads_share_one_client(client: Client) -> None:
    results: list[bytes] = []

    def worker(n: int) -> None:
        for i in range(5):
            results.append(client.get(f"/chain/{(n + i) % 3}").content)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [b"done"] * 30


def test_refused_inside_a_trio_run(client: Client) -> None:
    """Every blocking call, a response's body included, refuses to stall a trio run."""
    response = client.get("/status/200", stream=True)

    async def inside() -> None:
        with pytest.raises(RuntimeError, match="AsyncClient"):
            client.get("/status/200")
        with pytest.raises(RuntimeError, match="AsyncClient"):
            response.close()
        with pytest.raises(RuntimeError, match="AsyncClient"):
            response.read()

    trio.run(inside)
    assert not response.is_closed
    response.close()
    assert response.is_closed


def test_ctrl_c_cancels_the_request(server: Server, client_app: ClientApp) -> None:
    def press_ctrl_c_once_stalled() -> None:
        client_app.stalled.wait()
        _thread.interrupt_main()

    with Client(base_url=server.url) as client:
        helper = threading.Thread(target=press_ctrl_c_once_stalled)
        helper.start()
        with pytest.raises(KeyboardInterrupt):
            client.get("/stall")
        helper.join()
        # The interrupted request released its connection; the client goes on.
        stats = client._portal.run_sync(client._client._transport.statistics)  # type: ignore[union-attr]
        assert (stats.active, stats.waiting) == (0, 0)
        assert client.get("/status/200").content == b"status 200"


def test_http2_streams_and_threads(server: Server) -> None:
    with Client(http1=False, http2=True, base_url=server.url) as client:
        with client.stream("GET", "/encoded/gzip?size=2000000") as response:
            assert response.http_version == "HTTP/2"
            assert b"".join(response.iter_bytes()) == pattern(2_000_000)
        results: list[bytes] = []

        def worker() -> None:
            results.extend(client.get("/chain/1").content for _ in range(10))

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [b"done"] * 80
