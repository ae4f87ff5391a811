"""The blocking Client's lifetime and settings, against our h11 server in a thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from trio_httpcore import Client

from .conftest import TIMEOUTS, ThreadedServer

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
