"""The blocking Client's lifetime and settings, against our h11 server in a thread."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest
import trio
import trio.testing

from tests.support.pool import TIMEOUTS
from tests.support.servers import pattern
from tests.support.threaded import ThreadedServer
from trio_httpcore import AsyncByteStream, Client, Response, ResponseClosed, SyncByteStream
from trio_httpcore._sync._body import READ_AHEAD
from trio_httpcore._transport import AsyncConnectionPool, PoolStatistics

from .conftest import KOI8_TEXT

TIMEOUT = TIMEOUTS["timeout"]["read"]


def authorization_sent(server: ThreadedServer) -> bytes | None:
    """The ``Authorization`` field of the last request the server received."""
    return server.server.extra["requests"][-1].header(b"authorization")  # type: ignore[no-any-return]


@pytest.mark.parametrize("opened", [True, False], ids=["entered", "never-opened"])
def test_a_closed_client_cannot_be_entered_again(h11_server: ThreadedServer, opened: bool) -> None:
    client = Client(timeout=TIMEOUT)
    if opened:
        with client:
            assert client.get(h11_server.server.url).content == b"hello"
    else:
        client.close()
    assert client.is_closed
    with pytest.raises(
        RuntimeError, match="Cannot reopen a client instance, once it has been closed"
    ):
        client.__enter__()
    with pytest.raises(RuntimeError, match="closed"):
        client.get(h11_server.server.url)


def test_trust_env_reads_the_netrc_file(
    h11_server: ThreadedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {h11_server.server.host} login user password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with Client(timeout=TIMEOUT) as client:
        assert client.trust_env is True
        client.get(h11_server.server.url)
        assert authorization_sent(h11_server) == b"Basic dXNlcjpzZWNyZXQ="
    with Client(timeout=TIMEOUT, trust_env=False) as client:
        assert client.trust_env is False
        client.get(h11_server.server.url)
        assert authorization_sent(h11_server) is None
    with Client(timeout=TIMEOUT) as client:
        client.trust_env = False  # as on an AsyncClient: read at each request
        assert client.trust_env is False
        client.get(h11_server.server.url)
        assert authorization_sent(h11_server) is None


def pool_statistics(client: Client) -> PoolStatistics:
    """The statistics of the client's own pool, read in its trio thread once it is idle."""
    client._portal.run(trio.testing.wait_all_tasks_blocked)
    pool = client._client._transport
    assert isinstance(pool, AsyncConnectionPool)  # the client's own, made without a transport
    return client._portal.run_sync(pool.statistics)


def test_responses_carry_a_blocking_body(h11_server: ThreadedServer) -> None:
    """A streamed response's body is the bridge's blocking stream: a body declared within
    the read-ahead window is in before the response is handed over (its connection free),
    a longer one streams. A response read already has an ended blocking body."""
    with Client(timeout=TIMEOUT) as client:
        small = client.get(h11_server.server.url + "/bytes/1000", stream=True)
        assert isinstance(small._stream, SyncByteStream)
        assert not isinstance(small._stream, AsyncByteStream)
        assert pool_statistics(client).active == 0  # read ahead, connection returned
        assert list(small.stream()) == [pattern(1000)]  # type: ignore[arg-type]
        read = client.get(h11_server.server.url + "/bytes/1000")  # by the async client
        assert isinstance(read._stream, SyncByteStream)
        assert list(read.stream()) == [pattern(1000)]  # type: ignore[arg-type]
        with client.stream("GET", h11_server.server.url + f"/bytes/{READ_AHEAD * 4}") as big:
            assert pool_statistics(client).active == 1  # streaming: the window is full
            assert b"".join(big.iter_raw()) == pattern(READ_AHEAD * 4)
        assert pool_statistics(client).active == 0


def test_a_dropped_streamed_response_is_closed(h11_server: ThreadedServer) -> None:
    """A streamed response dropped unread warns and frees its connection: nothing in the
    trio thread keeps it (or its body) alive while the body is read ahead."""
    with Client(timeout=TIMEOUT) as client:
        response = client.get(h11_server.server.url + f"/bytes/{READ_AHEAD * 4}", stream=True)
        assert pool_statistics(client).active == 1
        with pytest.warns(ResourceWarning, match="without being read to the end or closed"):
            del response
            gc.collect()
        assert pool_statistics(client).active == 0
        assert client.get(h11_server.server.url).content == b"hello"


def test_a_hook_may_close_the_response(h11_server: ThreadedServer) -> None:
    """A response hook (in a worker thread) closing the response: the caller gets it closed,
    and its connection is free."""
    closed_in: list[str] = []

    def on_response(response: Response) -> None:
        response.close()
        closed_in.append(threading.current_thread().name)

    with Client(timeout=TIMEOUT, event_hooks={"response": [on_response]}) as client:
        response = client.get(h11_server.server.url + f"/bytes/{READ_AHEAD * 4}", stream=True)
        assert response.is_closed
        with pytest.raises(ResponseClosed):
            response.read()
        assert pool_statistics(client).active == 0
    assert closed_in and closed_in[0] not in ("Client", threading.current_thread().name)


def test_follow_redirects_is_a_setting(client_server: ThreadedServer) -> None:
    """``follow_redirects=`` of the constructor, read and assigned as ``client.follow_redirects``,
    is the default of every request; a request's own ``follow_redirects=`` wins."""
    redirect = client_server.server.url + "/redirect"
    with Client(timeout=TIMEOUT, follow_redirects=False) as client:
        assert client.follow_redirects is False
        response = client.get(redirect)
        assert (response.status_code, response.history) == (302, [])
        assert client.get(redirect, follow_redirects=True).status_code == 200
        client.follow_redirects = True
        assert client.follow_redirects is True
        response = client.get(redirect)
        assert (response.status_code, response.content, len(response.history)) == (200, b"hello", 1)
        assert client.head(redirect).status_code == 200
        client.follow_redirects = None  # the default: follow, except HEAD requests
        assert client.get(redirect).status_code == 200
        assert client.head(redirect).status_code == 302


def test_default_encoding_is_a_setting(client_server: ThreadedServer) -> None:
    """``default_encoding=`` (a codec name or a callable given the body), read and assigned as
    ``client.default_encoding``, decodes the text of responses that name no charset."""
    url = client_server.server.url + "/koi8-r"
    with Client(timeout=TIMEOUT, default_encoding="koi8-r") as client:
        assert client.default_encoding == "koi8-r"
        assert client.get(url).text == KOI8_TEXT
        client.default_encoding = None
        assert client.default_encoding is None
        assert client.get(url).text != KOI8_TEXT  # detected: not KOI8-R
        seen: list[bytes] = []

        def choose(body: bytes) -> str:
            seen.append(body)
            return "koi8-r"

        client.default_encoding = choose
        assert client.default_encoding is choose
        assert client.get(url).text == KOI8_TEXT
        assert seen == [KOI8_TEXT.encode("koi8-r")]
