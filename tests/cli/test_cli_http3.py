"""curl's ``--http3`` and ``--http3-only``: the installed command against Hypercorn answering
over QUIC and TCP on one port (those skipped where aioquic, the ``http3`` extra, is missing)."""

from __future__ import annotations

import importlib.util

import pytest
import trio

from tests.support.h3server import serve_hypercorn_h3
from tests.support.tls import TLSMaterial

from .helpers import run_cli

needs_aioquic = pytest.mark.skipif(
    importlib.util.find_spec("aioquic") is None,
    reason="HTTP/3 needs the http3 extra (aioquic)",
)


@pytest.mark.parametrize(
    "other", ["--http1.1", "--http2", "--http2-prior-knowledge", "--http3-only"]
)
async def test_http3_excludes_the_other_versions(other: str) -> None:
    result = await run_cli("--http3", other, "https://127.0.0.1:1/")
    assert result.status == 2
    assert "use only one of --http1.1, --http2, --http2-prior-knowledge, --http3" in (
        result.error_line
    )


async def test_help_lists_them_with_the_http_flags() -> None:
    result = await run_cli("--help")
    http_group = result.stdout.decode().split("\nhttp:\n", 1)[1].split("\n\n", 1)[0]
    assert "--http3 " in http_group and "--http3-only " in http_group


@needs_aioquic
async def test_http3_verbose_shows_http3_and_the_body(
    nursery: trio.Nursery, tls: TLSMaterial
) -> None:
    # No Alt-Svc: only --http3's prior knowledge can make this go over QUIC.
    server = await serve_hypercorn_h3(nursery, tls, alt_svc=False)
    result = await run_cli("--http3", "-v", "--cacert", tls.ca_file, f"{server.url}/")
    assert result.status == 0, result.stderr
    assert result.stdout == b"hello"
    assert "* HTTP/3" in result.stderr
    assert "> GET / HTTP/3" in result.stderr
    assert "< HTTP/3 200" in result.stderr


@needs_aioquic
async def test_http3_falls_back_to_tcp(nursery: trio.Nursery, tls: TLSMaterial) -> None:
    server = await serve_hypercorn_h3(nursery, tls, quic=False, alt_svc=False)
    args = ("-sS", "-w", "%{http_version}", "--cacert", tls.ca_file, f"{server.url}/")
    result = await run_cli("--http3", *args)
    assert (result.status, result.stdout) == (0, b"hello2")


@needs_aioquic
async def test_http3_only_does_not_fall_back(nursery: trio.Nursery, tls: TLSMaterial) -> None:
    server = await serve_hypercorn_h3(nursery, tls, quic=False, alt_svc=False)
    result = await run_cli("--http3-only", "-sS", "--cacert", tls.ca_file, f"{server.url}/")
    assert result.stdout == b""
    assert result.status == 7, result.stderr
    assert result.error_line.endswith("Connection refused")  # curl's words, one line


@needs_aioquic
async def test_http3_only_over_quic(nursery: trio.Nursery, tls: TLSMaterial) -> None:
    server = await serve_hypercorn_h3(nursery, tls, alt_svc=False)
    args = ("-sS", "-w", " %{http_version}", "--cacert", tls.ca_file, f"{server.url}/")
    result = await run_cli("--http3-only", *args)
    assert (result.status, result.stdout) == (0, b"hello 3")
