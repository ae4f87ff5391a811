"""Logging as httpx and httpcore do it, and httpcore's ``trace`` extension.

One INFO record per request on ``trio_httpcore``; DEBUG records for the
transport's steps on ``trio_httpcore.connection`` and ``trio_httpcore.http11``;
the same steps reported to ``extensions={"trace": callback}``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest
import trio

from tests.support.asgi import serve_hypercorn
from tests.support.servers import Server
from tests.support.tls import TLSMaterial
from trio_httpcore import AsyncClient

from .conftest import ClientApp

SCRIPT = textwrap.dedent(
    """
    import logging, sys, trio
    import trio_httpcore

    logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s %(message)s")

    async def main():
        async with trio_httpcore.AsyncClient(verify=sys.argv[2]) as client:
            await client.get(sys.argv[1])

    trio.run(main)
    """
)


@pytest.fixture
async def tls_server(nursery: trio.Nursery, client_app: ClientApp, tls: TLSMaterial) -> Server:
    return await serve_hypercorn(
        nursery, client_app, certfile=tls.certfile, keyfile=tls.keyfile, alpn=["http/1.1"]
    )


async def test_basic_config_debug_prints_the_request_and_its_steps(
    tls_server: Server, tls: TLSMaterial
) -> None:
    """What a user sees after ``logging.basicConfig(level=logging.DEBUG)``."""
    url = f"https://localhost:{tls_server.port}/echo"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    done = await trio.run_process(
        [sys.executable, "-c", SCRIPT, url, tls.ca_file], capture_stderr=True, env=env
    )
    lines = [line for line in done.stderr.decode().splitlines() if " trio_httpcore" in line]
    info = [line for line in lines if line.startswith("INFO")]
    assert info == [f'INFO trio_httpcore HTTP Request: GET {url} "HTTP/1.1 200 OK"']
    # Logged when the response head is in, before the body is read and the response closed.
    assert "receive_response_headers.complete" in lines[lines.index(info[0]) - 1]
    steps = [" ".join(line.split()[1:3]) for line in lines if line.startswith("DEBUG")]
    assert steps == [
        "trio_httpcore.connection connect_tcp.started",
        "trio_httpcore.connection connect_tcp.complete",
        "trio_httpcore.connection start_tls.started",
        "trio_httpcore.connection start_tls.complete",
        "trio_httpcore.http11 send_request_headers.started",
        "trio_httpcore.http11 send_request_headers.complete",
        "trio_httpcore.http11 receive_response_headers.started",
        "trio_httpcore.http11 receive_response_headers.complete",
        "trio_httpcore.http11 response_closed.started",
        "trio_httpcore.http11 response_closed.complete",
    ]
    assert f"host='localhost' port={tls_server.port}" in lines[0]
    assert "server_hostname='localhost'" in lines[2]


def test_nothing_is_printed_without_logging_configured() -> None:
    script = "import trio_httpcore, logging; logging.getLogger('trio_httpcore').info('x')"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True)
    assert done.stderr == b""


async def test_trace_extension(client: AsyncClient, server: Server) -> None:
    events: list[tuple[str, dict[str, Any]]] = []

    async def trace(name: str, info: dict[str, Any]) -> None:
        events.append((name, info))

    response = await client.post("/echo", content=b"body", extensions={"trace": trace})
    assert response.status_code == 200
    names = [name for name, _ in events]
    assert names == [
        "connection.connect_tcp.started",
        "connection.connect_tcp.complete",
        "http11.send_request_headers.started",
        "http11.send_request_headers.complete",
        "http11.send_request_body.started",
        "http11.send_request_body.complete",
        "http11.receive_response_headers.started",
        "http11.receive_response_headers.complete",
        "http11.response_closed.started",
        "http11.response_closed.complete",
    ]
    assert events[0][1]["port"] == server.port
    assert events[7][1]["return_value"][:3] == (b"1.1", 200, b"")
    # A sync callback works too; a reused connection reports no connect.
    seen: list[str] = []
    await client.get("/echo", extensions={"trace": lambda name, info: seen.append(name)})
    assert seen[0] == "http11.send_request_headers.started" and len(seen) == 6


async def test_trace_reports_a_failed_connect() -> None:
    events: list[str] = []

    async def trace(name: str, info: dict[str, Any]) -> None:
        events.append(name)

    async with AsyncClient() as client:
        with pytest.raises(Exception, match="connecting to"):
            await client.get("http://127.0.0.1:1/", extensions={"trace": trace})
    assert events == ["connection.connect_tcp.started", "connection.connect_tcp.failed"]


async def test_debug_records_in_process(
    client: AsyncClient, server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="trio_httpcore"):
        await client.get("/echo")
    debug = [(r.name, r.getMessage()) for r in caplog.records if r.levelno == logging.DEBUG]
    assert debug[0][0] == "trio_httpcore.connection"
    assert debug[0][1].startswith(f"connect_tcp.started host='127.0.0.1' port={server.port}")
    assert ("trio_httpcore.http11", "send_request_headers.complete") in debug
    assert debug[-1] == ("trio_httpcore.http11", "response_closed.complete")


async def test_a_failing_trace_callback_leaves_nothing_behind(server: Server) -> None:
    async def trace(name: str, info: dict[str, Any]) -> None:
        raise LookupError(name)

    async with AsyncClient() as client:
        with pytest.raises(LookupError, match=r"connect_tcp\.started"):
            await client.get(f"{server.url}/echo", extensions={"trace": trace})
