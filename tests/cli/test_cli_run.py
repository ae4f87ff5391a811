"""The command line run as a subprocess against local servers: flags, output, exit statuses."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.support.asgi import TestApp
from tests.support.servers import Server, pattern
from tests.support.tls import TLSMaterial

from .helpers import Result, cli_command, cli_env, run_cli, run_cli_on_terminal


def echoed(result: Result) -> dict[str, Any]:
    """The ``/echo`` document the CLI printed, after checking it succeeded quietly."""
    assert (result.status, result.stderr) == (0, "")
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def header(document: dict[str, Any], name: str) -> str | None:
    """A request header the server saw, by lower-case name."""
    return next((value for key, value in document["headers"] if key == name), None)


# ---------------------------------------------------------------------------
# Requests


async def test_get_prints_body_as_is(hypercorn_server: Server) -> None:
    result = await run_cli(f"{hypercorn_server.url}/echo")
    document = echoed(result)
    assert document["method"] == "GET"
    assert header(document, "user-agent") == "trio-httpcore/0.1.0.dev0"
    assert result.stdout.startswith(b'{"method": "GET"')  # piped: not pretty-printed


async def test_binary_body_byte_for_byte(hypercorn_server: Server) -> None:
    # -o - is stdout too; --fail changes nothing on a 200.
    result = await run_cli("-o", "-", "--fail", f"{hypercorn_server.url}/bytes/100000")
    assert (result.status, result.stderr) == (0, "")
    assert result.stdout == pattern(100000)


async def test_method_and_headers(hypercorn_server: Server) -> None:
    result = await run_cli(
        "-X", "put", "-H", "X-One: 1", "-H", "User-Agent: mine", f"{hypercorn_server.url}/echo"
    )
    document = echoed(result)
    assert document["method"] == "PUT"
    assert header(document, "x-one") == "1"
    assert header(document, "user-agent") == "mine"


async def test_data_posts_form(hypercorn_server: Server) -> None:
    document = echoed(await run_cli("-d", "a=1", "-d", "b=2", f"{hypercorn_server.url}/echo"))
    assert (document["method"], document["body"]) == ("POST", "a=1&b=2")
    assert header(document, "content-type") == "application/x-www-form-urlencoded"


async def test_data_from_stdin_and_file(hypercorn_server: Server, tmp_path: Path) -> None:
    body = tmp_path / "body.txt"
    body.write_bytes(b"from a file")
    args = ("-X", "PATCH", "-H", "Content-Type: text/plain", "-d", "@-", "-d", f"@{body}")
    result = await run_cli(*args, f"{hypercorn_server.url}/echo", stdin=b"from\nstdin")
    document = echoed(result)
    # As curl: -d @FILE and -d @- send their bytes without CR and LF.
    assert (document["method"], document["body"]) == ("PATCH", "fromstdin&from a file")
    assert header(document, "content-type") == "text/plain"


async def test_json_body(hypercorn_server: Server) -> None:
    document = echoed(await run_cli("--json", '{"a": 1}', f"{hypercorn_server.url}/echo"))
    assert (document["method"], json.loads(document["body"])) == ("POST", {"a": 1})
    assert header(document, "content-type") == "application/json"
    assert header(document, "accept") == "application/json"


async def test_form_upload(hypercorn_server: Server, tmp_path: Path) -> None:
    upload = tmp_path / "up.bin"
    upload.write_bytes(b"\x00file bytes")
    args = ("-F", "name=alice", "-F", f"file=@{upload};type=application/x-test")
    document = echoed(await run_cli(*args, f"{hypercorn_server.url}/echo"))
    assert document["method"] == "POST"
    assert (header(document, "content-type") or "").startswith("multipart/form-data; boundary=")
    body = document["body"]
    assert 'name="name"' in body and "alice" in body
    assert 'filename="up.bin"' in body and "application/x-test" in body
    assert "\x00file bytes" in body


async def test_basic_auth(hypercorn_server: Server) -> None:
    document = echoed(await run_cli("-u", "alice:s:cret", f"{hypercorn_server.url}/echo"))
    assert header(document, "authorization") == "Basic YWxpY2U6czpjcmV0"


async def test_digest_auth(redirect_server: Server) -> None:
    url = f"{redirect_server.url}/digest"
    result = await run_cli("-v", "--digest", "-u", "alice:s:cret", url)
    assert (result.status, result.stdout) == (0, b"welcome")
    # -v shows each exchange with the fields it really had: no credentials before the challenge.
    exchanges = result.stderr.split("> GET /digest HTTP/1.1\n")[1:]
    assert len(exchanges) == 2
    assert "> Authorization" not in exchanges[0] and "< HTTP/1.1 401 Unauthorized" in exchanges[0]
    assert '> Authorization: Digest username="alice"' in exchanges[1]
    assert "< HTTP/1.1 200 OK" in exchanges[1]
    result = await run_cli("--fail", "--digest", "-u", "alice:wrong", url)
    assert result.status == 22
    assert "401" in result.error_line


async def test_redirects_only_with_location(redirect_server: Server) -> None:
    url = f"{redirect_server.url}/redirect/2"
    result = await run_cli(url)
    assert (result.status, result.stdout, result.stderr) == (0, b"", "")
    result = await run_cli("-L", url)
    assert (result.status, result.stdout, result.stderr) == (0, b"landed", "")


async def test_content_encoding_decoded(redirect_server: Server) -> None:
    result = await run_cli("--compressed", f"{redirect_server.url}/gzip")
    assert (result.status, result.stdout) == (0, b"unzipped")


async def test_timeout(app: TestApp, hypercorn_server: Server) -> None:
    # 1 s, so that even on a loaded machine it is the read (after b"first") that times out.
    result = await run_cli("--timeout", "1", f"{hypercorn_server.url}/gate/slow")
    app.gate("slow").release.set()
    assert result.status == 28
    assert "timed out" in result.error_line
    assert result.stdout == b"first"  # what arrived before the timeout was written


async def test_proxy(stand_in_proxy: Server) -> None:
    result = await run_cli("-x", stand_in_proxy.url, "http://origin.test:8080/path?q=1")
    assert (result.status, result.stderr) == (0, "")
    assert result.stdout == b"GET http://origin.test:8080/path?q=1 HTTP/1.1"


async def test_socks5_proxy_resolves_remotely(socks5_proxy: Server) -> None:
    proxy = f"socks5h://{socks5_proxy.host}:{socks5_proxy.port}"
    result = await run_cli("-x", proxy, "http://origin.invalid/path")
    assert (result.status, result.stderr) == (0, "")
    assert result.stdout == b"origin.invalid GET /path HTTP/1.1"


async def test_http2_by_alpn(tls_server: Server, tls: TLSMaterial) -> None:
    result = await run_cli("-v", "--cacert", tls.ca_file, f"{tls_server.url}/echo")
    assert result.status == 0
    assert json.loads(result.stdout)["http_version"] == "2"
    lines = result.stderr.splitlines()
    # The connection's phases are traced whatever protocol ALPN then picks.
    assert lines[0].startswith(f"* Connected to {tls_server.host} ")
    assert re.fullmatch(r"\* SSL connection using TLSv1\.[23] / \S+ after [\d.]+ ms", lines[1])
    assert lines[2] in ("* HTTP/2, TLSv1.2", "* HTTP/2, TLSv1.3")
    assert "> GET /echo HTTP/2" in lines and "< HTTP/2 200" in lines
    # With --http1.1 the same server is spoken to in HTTP/1.1; --http2 is the default.
    document = echoed(await run_cli("--http1.1", "--cacert", tls.ca_file, f"{tls_server.url}/echo"))
    assert document["http_version"] == "1.1"
    document = echoed(await run_cli("--http2", "--cacert", tls.ca_file, f"{tls_server.url}/echo"))
    assert document["http_version"] == "2"
    document = echoed(await run_cli("--cacert", tls.ca_file, f"{tls_server.url}/echo"))
    assert document["http_version"] == "2"


async def test_http2_prior_knowledge(h2c_server: Server) -> None:
    result = await run_cli("--http2-prior-knowledge", f"{h2c_server.url}/echo")
    assert echoed(result)["http_version"] == "2"


# ---------------------------------------------------------------------------
# Output


async def test_output_file(hypercorn_server: Server, tmp_path: Path) -> None:
    target = tmp_path / "download.bin"
    result = await run_cli("-o", str(target), f"{hypercorn_server.url}/bytes/70000")
    assert (result.status, result.stdout, result.stderr) == (0, b"", "")  # no bar: not a tty
    assert target.read_bytes() == pattern(70000)


async def test_verbose(hypercorn_server: Server) -> None:
    result = await run_cli("-v", "-H", "X-Mine: yes", f"{hypercorn_server.url}/echo?q=1")
    assert result.status == 0
    assert json.loads(result.stdout)["query"] == "q=1"
    lines = result.stderr.splitlines()
    # The connect, from the transport's trace hook: plain http has one too.
    host, port = hypercorn_server.host, hypercorn_server.port
    assert re.fullmatch(rf"\* Connected to {host} \({host}\) port {port} after [\d.]+ ms", lines[0])
    assert lines[1] == "* HTTP/1.1"
    assert lines[2] == "> GET /echo?q=1 HTTP/1.1"
    assert f"> Host: {hypercorn_server.host}:{hypercorn_server.port}" in lines
    assert "> X-Mine: yes" in lines
    assert "< HTTP/1.1 200 OK" in lines
    assert "< content-type: application/json" in lines
    assert re.fullmatch(
        r"\* timings: connect [\d.]+ ms, first byte [\d.]+ ms, total [\d.]+ ms", lines[-1]
    )


async def test_verbose_shows_each_redirect(redirect_server: Server) -> None:
    result = await run_cli("-v", "-L", f"{redirect_server.url}/redirect/1")
    assert result.status == 0
    heads = [line for line in result.stderr.splitlines() if line.startswith(("> GET", "< HTTP"))]
    assert heads == [
        "> GET /redirect/1 HTTP/1.1",
        "< HTTP/1.1 302 Found",
        "> GET /redirect/0 HTTP/1.1",
        "< HTTP/1.1 200 OK",
    ]


async def test_verbose_tls(tls_h1_server: Server, tls: TLSMaterial) -> None:
    result = await run_cli("-v", "--cacert", tls.ca_file, f"{tls_h1_server.url}/")
    assert (result.status, result.stdout) == (0, b"hello")
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"* Connected to {tls_h1_server.host} ")
    assert re.fullmatch(r"\* SSL connection using TLSv1\.[23] / \S+ after [\d.]+ ms", lines[1])
    assert lines[2] in ("* HTTP/1.1, TLSv1.2", "* HTTP/1.1, TLSv1.3")
    assert re.fullmatch(
        r"\* timings: connect [\d.]+ ms, TLS [\d.]+ ms, first byte [\d.]+ ms, total [\d.]+ ms",
        lines[-1],
    )


async def test_help_and_version() -> None:
    result = await run_cli("--help")
    assert (result.status, result.stderr) == (0, "")
    assert b"examples:" in result.stdout and b"Exit status" in result.stdout
    # Grouped as curl --help all's categories.
    for category in (b"http", b"post", b"upload", b"auth", b"connection", b"dns", b"tls"):
        assert b"\n" + category + b":\n" in result.stdout, category
    assert b"\nproxy:\n" in result.stdout and b"\noutput:\n" in result.stdout
    assert b"\nverbose:\n" in result.stdout and b"\ncurl:\n" in result.stdout
    module = await run_cli("--help", module=True)  # python -m trio_httpcore: the same
    assert module.stdout == result.stdout
    result = await run_cli("--version")
    assert (result.status, result.stdout) == (0, b"trio-httpcore 0.1.0.dev0\n")


# ---------------------------------------------------------------------------
# TLS


async def test_insecure(tls_h1_server: Server) -> None:
    result = await run_cli("-k", f"{tls_h1_server.url}/")
    assert (result.status, result.stdout, result.stderr) == (0, b"hello", "")


async def test_untrusted_certificate(tls_h1_server: Server, other_tls: TLSMaterial) -> None:
    result = await run_cli("--cacert", other_tls.ca_file, f"{tls_h1_server.url}/")
    assert result.status == 60
    assert "SSL certificate problem: " in result.error_line


async def test_tls_to_a_plain_server(hypercorn_server: Server) -> None:
    result = await run_cli("-k", f"https://{hypercorn_server.host}:{hypercorn_server.port}/")
    assert result.status == 35
    assert result.error_line == "trio-httpcore: (35) SSL connect error: wrong version number"


async def test_client_certificate(tls_h1_server: Server, tls: TLSMaterial) -> None:
    # The server does not ask for one: this shows the files load and are accepted.
    args = ("--cacert", tls.ca_file, "--cert", tls.certfile, "--key", tls.keyfile)
    result = await run_cli(*args, f"{tls_h1_server.url}/")
    assert (result.status, result.stdout) == (0, b"hello")


async def test_bad_ca_bundle_and_certificate(tmp_path: Path) -> None:
    result = await run_cli("--cacert", str(tmp_path / "missing.pem"), "https://127.0.0.1:1/")
    assert result.status == 77
    assert "error setting certificate verify locations: CAfile: " in result.error_line
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate")
    result = await run_cli("--cert", str(not_pem), "https://127.0.0.1:1/")
    assert result.status == 58
    assert "could not load PEM client certificate from " in result.error_line


# ---------------------------------------------------------------------------
# --fail and errors


async def test_fail(hypercorn_server: Server) -> None:
    url = f"{hypercorn_server.url}/status/404"
    result = await run_cli(url)
    assert (result.status, result.stdout, result.stderr) == (0, b"", "")
    result = await run_cli("--fail", url)
    assert result.status == 22
    assert result.error_line == "trio-httpcore: (22) The requested URL returned error: 404"


async def test_fail_passes_an_unfollowed_redirect(redirect_server: Server) -> None:
    # curl's --fail is about statuses of 400 and more: a 302 is a success.
    result = await run_cli("--fail", f"{redirect_server.url}/redirect/1")
    assert (result.status, result.stdout, result.stderr) == (0, b"", "")


@pytest.mark.parametrize(
    ("args", "status", "fragment"),
    [
        (("--bogus", "http://x.test/"), 2, "option --bogus: is unknown"),
        (("-H", "nocolon", "http://x.test/"), 2, "expected 'Name: value'"),
        (("-F", "f=@/no/such/file", "http://x.test/"), 26, "/no/such/file"),
        (("--json", "@/no/such/file", "http://x.test/"), 26, "No such file"),
        (("http://exa mple.test/",), 3, ""),
        (("ftp://x.test/",), 1, "ftp"),
        (("http://name.invalid/",), 6, "name.invalid"),
    ],
)
async def test_bad_input(args: tuple[str, ...], status: int, fragment: str) -> None:
    result = await run_cli(*args)
    assert result.status == status
    assert fragment in result.error_line
    assert result.stdout == b""


async def test_refused(refused_port: int) -> None:
    result = await run_cli(f"http://127.0.0.1:{refused_port}/")
    assert result.status == 7
    assert f"127.0.0.1 port {refused_port} after " in result.error_line
    assert result.error_line.endswith(" ms: Connection refused")


async def test_reset_while_receiving(reset_server: Server) -> None:
    result = await run_cli(reset_server.url)
    assert result.status == 56, result
    result.error_line  # noqa: B018 (asserts one line)


async def test_reset_while_sending(upload_reset_server: Server, tmp_path: Path) -> None:
    upload = tmp_path / "upload.bin"
    upload.write_bytes(b"x" * (16 << 20))  # far more than the socket buffers hold
    result = await run_cli("-d", f"@{upload}", upload_reset_server.url)
    assert result.status == 55, result
    result.error_line  # noqa: B018 (asserts one line)


async def test_too_many_redirects(redirect_server: Server) -> None:
    result = await run_cli("-L", f"{redirect_server.url}/loop")
    assert result.status == 47
    assert result.error_line == "trio-httpcore: (47) Maximum (50) redirects followed"


async def test_decoding_error(redirect_server: Server) -> None:
    result = await run_cli("--compressed", f"{redirect_server.url}/bad-gzip")
    assert result.status == 61
    result.error_line  # noqa: B018 (asserts one line)


async def test_cannot_write_output(hypercorn_server: Server, tmp_path: Path) -> None:
    result = await run_cli("-o", str(tmp_path / "no" / "dir"), f"{hypercorn_server.url}/")
    assert result.status == 23
    assert "No such file or directory" in result.error_line


async def test_closed_stdout(hypercorn_server: Server) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = await run_cli(f"{hypercorn_server.url}/bytes/1000", stdout=write_end)
    finally:
        os.close(write_end)
    assert result.status == 23
    assert result.error_line == "trio-httpcore: (23) Failure writing output to destination"


async def test_interrupt_exits_130_quietly(app: TestApp, hypercorn_server: Server) -> None:
    # nursery.start hands over the Process but not what run_process captured: a pipe holds
    # stderr (which should stay empty, so the pipe can't fill up).
    read_end, write_end = os.pipe()
    try:
        async with trio.open_nursery() as nursery:
            process = await nursery.start(
                lambda task_status: trio.run_process(  # noqa: ASYNC105 (nursery.start awaits it)
                    cli_command(f"{hypercorn_server.url}/gate/interrupt"),
                    capture_stdout=True,
                    stderr=write_end,
                    check=False,
                    env=cli_env(),
                    task_status=task_status,
                )
            )
            await app.gate("interrupt").headers_sent.wait()
            process.send_signal(signal.SIGINT)
        app.gate("interrupt").release.set()
        os.close(write_end)
        assert (process.returncode, os.read(read_end, 65536)) == (130, b"")
    finally:
        os.close(read_end)


# ---------------------------------------------------------------------------
# On a terminal


def _plain(text: str) -> str:
    """``text`` without its ANSI colour codes."""
    return re.sub(r"\x1b\[[\d;]*m", "", text)


async def test_silent_shows_no_bar(hypercorn_server: Server, tmp_path: Path) -> None:
    target = tmp_path / "big.bin"
    url = f"{hypercorn_server.url}/bytes/{1024 * 1024}"
    result = await run_cli_on_terminal("-s", "-o", str(target), url)
    assert (result.status, result.stdout, result.stderr) == (0, b"", "")
    assert target.read_bytes() == pattern(1024 * 1024)


async def test_terminal_output_is_coloured_and_pretty(hypercorn_server: Server) -> None:
    result = await run_cli_on_terminal("-v", f"{hypercorn_server.url}/echo", stdout_tty=True)
    assert result.status == 0, result
    assert "\x1b[" in result.stderr and b"\x1b[" in result.stdout
    stdout = _plain(result.stdout.decode())
    assert stdout.startswith('{\r\n  "method": "GET",\r\n  "path": "/echo",'), stdout
    lines = _plain(result.stderr).splitlines()
    assert "< HTTP/1.1 200 OK" in lines and any(line.startswith("> Host: ") for line in lines)


async def test_progress_bar_without_a_length(hypercorn_server: Server, tmp_path: Path) -> None:
    target = tmp_path / "streamed.bin"
    result = await run_cli_on_terminal("-o", str(target), f"{hypercorn_server.url}/stream/4/1024")
    assert result.status == 0, result
    assert target.read_bytes() == b"A" * 1024 + b"B" * 1024 + b"C" * 1024 + b"D" * 1024
    assert "4.1/? kB" in _plain(result.stderr), result.stderr  # rich: size unknown


async def test_binary_body_kept_off_a_terminal(hypercorn_server: Server) -> None:
    url = f"{hypercorn_server.url}/bytes/300"  # holds NUL bytes
    result = await run_cli_on_terminal(url, stdout_tty=True)
    assert (result.status, result.stdout) == (23, b""), result
    assert '"--output -"' in result.error_line
    result = await run_cli_on_terminal("-o", "-", url, stdout_tty=True)
    assert result.status == 0, result
    assert result.stdout.replace(b"\r\n", b"\n") == pattern(300)  # the terminal's newlines
