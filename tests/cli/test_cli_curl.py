"""curl's everyday flags, one test each: the installed command against local servers, and the
same command run by curl (where it is installed) giving the same status, output and files."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
import trio

from tests.support.raw import RawConn, serve_raw
from tests.support.servers import Server, pattern
from tests.support.tls import TLSMaterial

from .helpers import (
    CURL,
    Result,
    both,
    curl_words,
    our_words,
    run_cli,
    run_cli_on_terminal,
    run_curl,
)

# ---------------------------------------------------------------------------
# The three commands scripts use most


async def test_fsSL_output_file(redirect_server: Server, tmp_path: Path) -> None:
    ours, _ = await both(tmp_path, "-fsSL", "-o", "out", f"{redirect_server.url}/redirect/2")
    assert (ours.status, ours.stdout, ours.stderr) == (0, b"", "")
    assert (tmp_path / "ours" / "out").read_bytes() == b"landed"


async def test_fsSL_on_an_error_status(hypercorn_server: Server, tmp_path: Path) -> None:
    ours, theirs = await both(tmp_path, "-fsSL", "-o", "out", f"{hypercorn_server.url}/status/404")
    assert ours.status == 22
    assert not (tmp_path / "ours" / "out").exists()
    assert our_words(ours) == "The requested URL returned error: 404"
    if theirs is not None:
        assert our_words(ours) == curl_words(theirs)


@pytest.mark.parametrize(("path", "code"), [("/", b"200"), ("/status/404", b"404")])
async def test_sS_write_out_http_code(
    hypercorn_server: Server, tmp_path: Path, path: str, code: bytes
) -> None:
    url = f"{hypercorn_server.url}{path}"
    ours, _ = await both(tmp_path, "-sS", "-w", "%{http_code}\\n", "-o", "/dev/null", url)
    assert (ours.status, ours.stdout, ours.stderr) == (0, code + b"\n", "")


async def test_head(redirect_server: Server, tmp_path: Path) -> None:
    ours, _ = await both(tmp_path, "-I", f"{redirect_server.url}/")
    assert ours.stdout == b"HTTP/1.1 200 \r\nContent-Length: 5\r\nX-Mixed-Case: Yes\r\n\r\n"


# ---------------------------------------------------------------------------
# Output flags


async def test_silent(refused_port: int, tmp_path: Path) -> None:
    ours, theirs = await both(tmp_path, "-s", f"http://127.0.0.1:{refused_port}/")
    assert (ours.status, ours.stderr) == (7, "")
    if theirs is not None:
        assert theirs.stderr == ""


async def test_show_error(refused_port: int, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{refused_port}/"
    ours, theirs = await both(tmp_path, "-sS", url)
    assert re.fullmatch(
        rf"Failed to connect to 127\.0\.0\.1 port {refused_port} after \d+ ms: "
        "Connection refused",
        our_words(ours),
    )
    if theirs is not None:
        expected = f"Failed to connect to 127.0.0.1 port {refused_port}"
        assert (curl_words(theirs) or "").startswith(expected)


async def test_include(redirect_server: Server, tmp_path: Path) -> None:
    ours, _ = await both(tmp_path, "-i", "-L", f"{redirect_server.url}/redirect/1")
    assert ours.stdout.startswith(b"HTTP/1.1 302 \r\ncontent-length: 0\r\nlocation: /redirect/0")
    assert ours.stdout.endswith(b"\r\n\r\nlanded")


async def test_remote_name(redirect_server: Server, tmp_path: Path) -> None:
    ours, _ = await both(tmp_path, "-O", f"{redirect_server.url}/files/name.txt")
    assert (ours.status, ours.stdout) == (0, b"")
    assert (tmp_path / "ours" / "name.txt").read_bytes() == b"hello"


async def test_remote_name_missing(redirect_server: Server, tmp_path: Path) -> None:
    ours, _ = await both(tmp_path, "-sS", "-O", f"{redirect_server.url}/")
    assert ours.status == 23
    assert our_words(ours) == "Remote file name has no length!"


async def test_dump_header(redirect_server: Server, tmp_path: Path) -> None:
    ours, _ = await both(tmp_path, "-D", "heads", f"{redirect_server.url}/")
    assert ours.stdout == b"hello"
    assert (tmp_path / "ours" / "heads").read_bytes() == (
        b"HTTP/1.1 200 \r\ncontent-length: 5\r\nX-Mixed-Case: Yes\r\n\r\n"
    )


async def test_dump_header_to_stdout(redirect_server: Server, tmp_path: Path) -> None:
    ours, _ = await both(tmp_path, "-D", "-", f"{redirect_server.url}/")
    assert ours.stdout.endswith(b"\r\n\r\nhello")


async def test_write_out_variables(redirect_server: Server, tmp_path: Path) -> None:
    template = (
        "%{http_code} %{response_code} %{http_version} %{size_download} %{num_redirects} "
        "[%{content_type}] %{url_effective} %header{x-mixed-case} 100%% \\t\\\\ %{exitcode}\\n"
    )
    url = f"{redirect_server.url}/redirect/1"
    ours, _ = await both(tmp_path, "-L", "-w", template, url)
    # The last response's fields: /redirect/0 sends no X-Mixed-Case. "\\" is not an escape.
    expected = f"landed200 200 1.1 6 1 [] {redirect_server.url}/redirect/0  100% \t\\\\ 0\n"
    assert ours.stdout == expected.encode()


async def test_write_out_unknown_variable(redirect_server: Server, tmp_path: Path) -> None:
    ours, theirs = await both(tmp_path, "-w", "[%{nonsense}]", f"{redirect_server.url}/")
    assert ours.stdout == b"hello[]"
    assert "unknown --write-out variable: 'nonsense'" in ours.stderr
    if theirs is not None:
        assert "unknown --write-out variable: 'nonsense'" in theirs.stderr


async def test_write_out_from_a_file_and_on_failure(refused_port: int, tmp_path: Path) -> None:
    (tmp_path / "format").write_text("code=%{http_code} exit=%{exitcode}")
    ours = await run_cli("-s", "-w", f"@{tmp_path / 'format'}", f"http://127.0.0.1:{refused_port}")
    assert (ours.status, ours.stdout) == (7, b"code=000 exit=7")


_TIMES = ["namelookup", "connect", "appconnect", "pretransfer", "starttransfer", "total"]
_TIMES_FORMAT = " ".join(f"%{{time_{name}}}" for name in _TIMES)


async def test_write_out_times(tls_server: Server, tls: TLSMaterial, tmp_path: Path) -> None:
    template = _TIMES_FORMAT
    # A name, so the lookup happens (through --resolve) and can be timed.
    url = f"https://localhost:{tls_server.port}/"
    resolve = f"localhost:{tls_server.port}:127.0.0.1"
    args = ("-s", "-o", "/dev/null", "--cacert", tls.ca_file, "--resolve", resolve, "-w", template)
    ours, theirs = await both(tmp_path, *args, url, same_stdout=False)
    for result in (ours, theirs):
        if result is not None:
            assert re.fullmatch(r"\d+\.\d{6}( \d+\.\d{6}){5}", result.stdout.decode()), result
    times = [float(value) for value in ours.stdout.split()]
    assert times == sorted(times) and times[0] > 0, times


@pytest.mark.parametrize("protocol", ["--http1.1", "--http2"])
async def test_write_out_times_on_http(
    redirect_server: Server, h2c_server: Server, tmp_path: Path, protocol: str
) -> None:
    # Plain http has a connect too, dated by the transport's trace hook (0 before it was).
    server = redirect_server if protocol == "--http1.1" else h2c_server
    args = ["-s", "-o", "/dev/null", "-w", _TIMES_FORMAT, f"{server.url}/"]
    if protocol == "--http2":
        args.insert(0, "--http2-prior-knowledge")
    ours, theirs = await both(tmp_path, *args, same_stdout=False)
    for result in (ours, theirs):
        if result is not None:
            _, connect, appconnect, pretransfer, starttransfer, total = (
                float(value) for value in result.stdout.split()
            )
            assert appconnect == 0, result  # no TLS
            assert 0 < connect <= pretransfer <= starttransfer <= total, result


async def test_written_as_received_without_compressed(
    redirect_server: Server, tmp_path: Path
) -> None:
    ours, _ = await both(tmp_path, f"{redirect_server.url}/gzip")
    assert ours.stdout.startswith(b"\x1f\x8b")  # gzip's magic: not decoded


async def test_compressed(redirect_server: Server, tmp_path: Path) -> None:
    ours, _ = await both(tmp_path, "--compressed", f"{redirect_server.url}/gzip")
    assert ours.stdout == b"unzipped"


async def test_compressed_decoding_error(redirect_server: Server) -> None:
    result = await run_cli("--compressed", f"{redirect_server.url}/bad-gzip")
    assert result.status == 61
    assert our_words(result).startswith("Error while processing content unencoding: ")


# ---------------------------------------------------------------------------
# Request flags


def _field(result: Result, name: str) -> list[bytes]:
    """The lines of the ``/headers`` answer for field ``name``."""
    prefix = name.lower().encode() + b": "
    return [line for line in result.stdout.split(b"\n") if line.lower().startswith(prefix)]


async def test_user_agent(redirect_server: Server, tmp_path: Path) -> None:
    ours, theirs = await both(tmp_path, "-A", "agent/1", f"{redirect_server.url}/headers",
                              same_stdout=False)  # fmt: skip
    assert _field(ours, "user-agent") == [b"user-agent: agent/1"]
    if theirs is not None:
        assert _field(theirs, "user-agent") == _field(ours, "user-agent")


async def test_referer(redirect_server: Server, tmp_path: Path) -> None:
    args = ("-e", "http://from.test/", f"{redirect_server.url}/headers")
    ours, theirs = await both(tmp_path, *args, same_stdout=False)
    assert _field(ours, "referer") == [b"referer: http://from.test/"]
    if theirs is not None:
        assert _field(theirs, "referer") == _field(ours, "referer")


async def test_header_removed_or_empty(redirect_server: Server, tmp_path: Path) -> None:
    args = ("-H", "User-Agent:", "-H", "Accept:", "-H", "X-Empty;", "-H", "X-Set: 1")
    ours, theirs = await both(tmp_path, *args, f"{redirect_server.url}/headers", same_stdout=False)
    for result in (ours, theirs):
        if result is not None:
            assert _field(result, "user-agent") == _field(result, "accept") == []
            assert _field(result, "x-empty") == [b"x-empty: "]
            assert _field(result, "x-set") == [b"x-set: 1"]
            assert _field(result, "accept-encoding") == []


async def test_cookie_string(redirect_server: Server, tmp_path: Path) -> None:
    ours, _ = await both(tmp_path, "-b", "a=1; b=2", f"{redirect_server.url}/cookies/show")
    assert ours.stdout == b"a=1; b=2"


async def test_cookie_file(redirect_server: Server, tmp_path: Path) -> None:
    line = "127.0.0.1\tFALSE\t/\tFALSE\t0\tfrom_file\tyes\n"
    (tmp_path / "in.txt").write_text("# Netscape HTTP Cookie File\n" + line)
    ours, _ = await both(
        tmp_path, "-b", str(tmp_path / "in.txt"), f"{redirect_server.url}/cookies/show"
    )
    assert ours.stdout == b"from_file=yes"


async def test_cookie_jar(redirect_server: Server, tmp_path: Path) -> None:
    ours_dir, curl_dir = tmp_path / "ours", tmp_path / "curl"
    for directory in (ours_dir, curl_dir):
        directory.mkdir()
    url = f"{redirect_server.url}/cookies/set"
    ours = await run_cli("-c", "jar.txt", url, cwd=ours_dir)
    theirs = await run_curl("-c", "jar.txt", url, cwd=curl_dir)
    assert (ours.status, ours.stdout) == (0, b"set")

    def cookies(directory: Path) -> list[list[str]]:
        lines = (directory / "jar.txt").read_text().splitlines()
        return [line.split("\t") for line in lines if line and not line.startswith("# ")]

    assert [row[5:] for row in cookies(ours_dir)] == [["session", "abc123"]]
    if theirs is not None:
        assert [row[5:] for row in cookies(curl_dir)] == [row[5:] for row in cookies(ours_dir)]
    # What -c wrote, -b reads back.
    again = await run_cli("-b", str(ours_dir / "jar.txt"), f"{redirect_server.url}/cookies/show")
    assert again.stdout == b"session=abc123"


async def test_data_strips_newlines_from_a_file(redirect_server: Server, tmp_path: Path) -> None:
    (tmp_path / "body").write_bytes(b"a=1\r\nb=2\n")
    ours, _ = await both(tmp_path, "-d", f"@{tmp_path / 'body'}", f"{redirect_server.url}/upload")
    assert ours.stdout == b"POST /upload 6 - a=1b=2"


async def test_data_binary(redirect_server: Server, tmp_path: Path) -> None:
    (tmp_path / "body").write_bytes(b"a=1\r\nb=2\n\x00")
    args = ("--data-binary", f"@{tmp_path / 'body'}", f"{redirect_server.url}/upload")
    ours, _ = await both(tmp_path, *args)
    assert ours.stdout == b"POST /upload 10 - a=1\r\nb=2\n\x00"


async def test_data_raw(redirect_server: Server, tmp_path: Path) -> None:
    ours, _ = await both(tmp_path, "--data-raw", "@not-a-file", f"{redirect_server.url}/upload")
    assert ours.stdout == b"POST /upload 11 - @not-a-file"


async def test_data_urlencode(redirect_server: Server, tmp_path: Path) -> None:
    (tmp_path / "text").write_bytes(b"x&y z")
    args = [
        *("--data-urlencode", "q=a b&c/d~"),
        *("--data-urlencode", "=only value"),
        *("--data-urlencode", "bare text"),
        *("--data-urlencode", f"f@{tmp_path / 'text'}"),
        *("-d", "plain=1"),
    ]
    ours, _ = await both(tmp_path, *args, f"{redirect_server.url}/upload")
    assert ours.stdout == (
        b"POST /upload 53 - q=a+b%26c%2Fd~&only+value&bare+text&f=x%26y+z&plain=1"
    )


async def test_get_moves_data_to_the_query(redirect_server: Server, tmp_path: Path) -> None:
    args = ("-G", "-d", "a=1", "--data-urlencode", "b=x y", f"{redirect_server.url}/upload?z=0")
    ours, _ = await both(tmp_path, *args)
    assert ours.stdout == b"GET /upload?z=0&a=1&b=x+y - - "


async def test_upload_file(redirect_server: Server, tmp_path: Path) -> None:
    (tmp_path / "up.bin").write_bytes(pattern(100_000))
    ours, _ = await both(tmp_path, "-T", str(tmp_path / "up.bin"), f"{redirect_server.url}/upload/")
    assert ours.stdout == b"PUT /upload/up.bin 100000 - " + pattern(100_000)


async def test_upload_stdin(redirect_server: Server, tmp_path: Path) -> None:
    ours, _ = await both(tmp_path, "-T", "-", f"{redirect_server.url}/upload/x", stdin=b"piped")
    assert ours.stdout == b"PUT /upload/x - chunked piped"


async def test_upload_missing_file(tmp_path: Path) -> None:
    result = await run_cli("-T", str(tmp_path / "missing"), "http://127.0.0.1:1/")
    assert result.status == 26
    assert "No such file or directory" in result.error_line


@pytest.mark.parametrize(("flag", "version"), [(None, b"2"), ("--http1.1", b"1.1")])
async def test_http_version_by_alpn(
    tls_server: Server, tls: TLSMaterial, tmp_path: Path, flag: str | None, version: bytes
) -> None:
    args = ["-s", "-o", "/dev/null", "-w", "%{http_version}", "--cacert", tls.ca_file]
    args += [flag] if flag else []
    ours, _ = await both(tmp_path, *args, f"{tls_server.url}/")
    assert ours.stdout == version


async def test_resolve(redirect_server: Server, tmp_path: Path) -> None:
    port = redirect_server.port
    url = f"http://pretend.test:{port}/headers"
    ours, theirs = await both(tmp_path, "--resolve", f"pretend.test:{port}:127.0.0.1", url,
                              same_stdout=False)  # fmt: skip
    assert _field(ours, "host") == [f"host: pretend.test:{port}".encode()]
    if theirs is not None:
        assert _field(theirs, "host") == _field(ours, "host")


# ---------------------------------------------------------------------------
# Limits


async def test_max_time(redirect_server: Server, tmp_path: Path) -> None:
    ours, theirs = await both(tmp_path, "-m", "0.5", f"{redirect_server.url}/stall")
    assert (ours.status, ours.stdout) == (28, b"first")
    assert re.fullmatch(
        r"Operation timed out after \d+ milliseconds with 5 out of 10 bytes received",
        our_words(ours),
    )
    if theirs is not None:
        assert re.sub(r"\d+ milli", "N milli", our_words(ours)) == re.sub(
            r"\d+ milli", "N milli", curl_words(theirs) or ""
        )


async def test_no_time_limit_by_default(redirect_server: Server) -> None:
    # The client's 5 s per-phase default does not apply: only flags set limits.
    from trio_httpcore._cli._arguments import parse_args
    from trio_httpcore._cli._run import _timeout

    assert _timeout(parse_args(["x"])).as_dict() == dict.fromkeys(
        ("connect", "read", "write", "pool")
    )
    result = await run_cli(f"{redirect_server.url}/")
    assert (result.status, result.stdout) == (0, b"hello")


async def test_connect_timeout(stalled_tls_server: Server, tmp_path: Path) -> None:
    # The TCP connect succeeds, the TLS handshake never ends: curl counts both as connecting.
    url = f"https://127.0.0.1:{stalled_tls_server.port}/"
    ours, theirs = await both(tmp_path, "-k", "--connect-timeout", "0.5", url)
    assert ours.status == 28
    assert our_words(ours) == "SSL connection timeout"
    if theirs is not None:
        assert curl_words(theirs) == our_words(ours)


async def test_max_redirs(redirect_server: Server, tmp_path: Path) -> None:
    args = ("-L", "--max-redirs", "1", f"{redirect_server.url}/redirect/3")
    ours, theirs = await both(tmp_path, *args)
    assert ours.status == 47
    assert our_words(ours) == "Maximum (1) redirects followed"
    if theirs is not None:
        assert curl_words(theirs) == our_words(ours)


async def test_retry(redirect_server: Server) -> None:
    ours = await run_cli("--retry", "1", f"{redirect_server.url}/flaky/{uuid.uuid4().hex}")
    theirs = await run_curl("--retry", "1", f"{redirect_server.url}/flaky/{uuid.uuid4().hex}")
    assert (ours.status, ours.stdout) == (0, b"busyrecovered")  # each answer's body, as curl
    assert (
        ours.stderr == "Warning: Problem : HTTP error. Will retry in 1 seconds. 1 retries left.\n"
    )
    if theirs is not None:
        assert (theirs.status, theirs.stdout) == (ours.status, ours.stdout)
        assert "Will retry in 1 seconds. 1 retries left." in theirs.stderr


@pytest.mark.parametrize("flag", ["-T", "--data-binary"])
async def test_retry_sends_the_whole_file_again(
    redirect_server: Server, tmp_path: Path, flag: str
) -> None:
    # A retried upload starts the file from its beginning again, as curl rewinds it:
    # not an empty body under the first attempt's Content-Length.
    content = pattern(20_000)
    (tmp_path / "up.bin").write_bytes(content)
    upload = str(tmp_path / "up.bin") if flag == "-T" else f"@{tmp_path / 'up.bin'}"
    url = f"{redirect_server.url}/flaky-upload/{uuid.uuid4().hex}"
    ours = await run_cli("-s", "--retry", "1", "--retry-delay", "0.01", flag, upload, url)
    expected = b"503 got 20000 bytes: %s\n200 got 20000 bytes: %s\n" % (content, content)
    assert (ours.status, ours.stdout, ours.stderr) == (0, expected, "")
    theirs = await run_curl("-s", "--retry", "1", flag, upload, f"{url}-curl")
    if theirs is not None:
        assert (theirs.status, theirs.stdout) == (0, expected)


async def test_retry_delay_and_no_retry(redirect_server: Server) -> None:
    url = f"{redirect_server.url}/flaky/{uuid.uuid4().hex}"
    result = await run_cli("-s", "--retry", "2", "--retry-delay", "0.01", url)
    assert (result.status, result.stdout, result.stderr) == (0, b"busyrecovered", "")
    # Without --retry, the 503 is the answer.
    result = await run_cli(f"{redirect_server.url}/flaky/{uuid.uuid4().hex}")
    assert (result.status, result.stdout) == (0, b"busy")


async def test_retry_on_timeout(redirect_server: Server) -> None:
    result = await run_cli("--retry", "1", "--retry-delay", "0.01", "-m", "0.3",
                           f"{redirect_server.url}/stall")  # fmt: skip
    assert result.status == 28
    lines = result.stderr.splitlines()
    assert lines[0] == "Warning: Problem : timeout. Will retry in 0.01 seconds. 1 retries left."
    assert lines[1].startswith("trio-httpcore: (28) Operation timed out after ")


async def test_limit_rate(hypercorn_server: Server, tmp_path: Path) -> None:
    ours, _ = await both(tmp_path, "--limit-rate", "2M", f"{hypercorn_server.url}/bytes/200000")
    assert ours.stdout == pattern(200_000)


# ---------------------------------------------------------------------------
# curl's words


@pytest.mark.parametrize(
    "args",
    [
        ("--bogus", "http://x.test/"),
        ("-o",),
        ("-m", "soon", "http://x.test/"),
        ("-f9", "http://x.test/"),
        ("--max-time", "soon", "http://x.test/"),
    ],
)
async def test_usage_errors_in_curls_words(args: tuple[str, ...], tmp_path: Path) -> None:
    ours, theirs = await both(tmp_path, *args)
    assert ours.status == 2
    assert our_words(ours).endswith("; try 'trio-httpcore --help' for more information")
    if theirs is not None:
        assert our_words(ours).startswith(curl_words(theirs) or "")


async def test_no_url(tmp_path: Path) -> None:
    ours, _ = await both(tmp_path, "-s")
    assert our_words(ours).startswith("no URL specified")  # -s does not hide usage errors


async def test_unresolvable_host(tmp_path: Path) -> None:
    ours, theirs = await both(tmp_path, "http://name.invalid/")
    assert our_words(ours) == "Could not resolve host: name.invalid"
    if theirs is not None:
        assert curl_words(theirs) == our_words(ours)


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (b"HELLO THERE\r\n\r\n", 1),  # not HTTP: curl's "Received HTTP/0.9 when not allowed"
        (b"\x16\x03\x01\x00\x05hello", 1),  # a TLS record, as from an https port
        (b"HTTP/1.1 abc OK\r\n\r\n", 1),  # no status code: curl's "Unsupported HTTP version"
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", 8),  # curl's "Header without colon"
    ],
)
async def test_reply_that_is_not_http(
    nursery: trio.Nursery, tmp_path: Path, reply: bytes, status: int
) -> None:
    async def answer(conn: RawConn) -> None:
        await conn.read_request_head()
        await conn.send(reply)

    server = await serve_raw(nursery, answer)
    ours, _ = await both(tmp_path, "-sS", f"{server.url}/")
    assert ours.status == status
    assert str(server.port) in ours.error_line  # the line names the server
    if status == 1:
        assert our_words(ours) == (
            f"No valid HTTP status line from 127.0.0.1 port {server.port} (HTTP/0.9 is not allowed)"
        )


async def test_proxy_refuses_connect(stand_in_proxy: Server, tmp_path: Path) -> None:
    # An HTTP proxy's refusal of CONNECT is curl's 56 (a receive error), not 97.
    ours, theirs = await both(tmp_path, "-sS", "-x", stand_in_proxy.url, "https://origin.test/")
    assert (ours.status, our_words(ours)) == (56, "CONNECT tunnel failed, response 403")
    if theirs is not None:
        assert curl_words(theirs) == our_words(ours)


async def test_certificate_problem_with_hint(
    tls_h1_server: Server, other_tls: TLSMaterial, tmp_path: Path
) -> None:
    ours, theirs = await both(tmp_path, "--cacert", other_tls.ca_file, f"{tls_h1_server.url}/")
    assert ours.status == 60
    words = our_words(ours)
    assert words.startswith("SSL certificate problem: ") and "--cacert" in words and "-k" in words
    if theirs is not None:
        assert words.startswith(curl_words(theirs) or "")


async def test_silent_hushes_a_broken_pipe(hypercorn_server: Server) -> None:
    for flags, hushed in ((["-s"], True), ([], False)):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            result = await run_cli(*flags, f"{hypercorn_server.url}/bytes/1000", stdout=write_end)
            theirs = await run_curl(*flags, f"{hypercorn_server.url}/bytes/1000", stdout=write_end)
        finally:
            os.close(write_end)
        assert result.status == 23
        if hushed:
            assert result.stderr == ""
        else:
            assert our_words(result) == "Failure writing output to destination"
        if theirs is not None:
            assert theirs.status == 23
            assert (theirs.stderr == "") == hushed


# ---------------------------------------------------------------------------
# rich, and its absence


def _without_rich(tmp_path: Path) -> dict[str, str]:
    """An environment where ``import rich`` fails, as where the extra is not installed."""
    hidden = tmp_path / "hide-rich"
    hidden.mkdir()
    (hidden / "rich.py").write_text("raise ImportError('rich is not installed here')\n")
    from .helpers import cli_env

    path = os.pathsep.join(filter(None, [str(hidden), os.environ.get("PYTHONPATH")]))
    return cli_env(PYTHONPATH=path)


async def test_download_bar_with_and_without_rich(hypercorn_server: Server, tmp_path: Path) -> None:
    url = f"{hypercorn_server.url}/bytes/{2 * 1024 * 1024}"
    result = await run_cli_on_terminal("-o", str(tmp_path / "with"), url)
    assert result.status == 0, result
    assert "━" in result.stderr and "MB" in result.stderr  # rich's bar and its byte counts
    result = await run_cli_on_terminal("-o", str(tmp_path / "without"), url,
                                       env=_without_rich(tmp_path))  # fmt: skip
    assert result.status == 0, result
    assert "━" not in result.stderr
    assert result.stderr.rstrip().endswith("#" * 60 + " 100.0%"), result.stderr
    assert (tmp_path / "with").read_bytes() == (tmp_path / "without").read_bytes()


async def test_terminal_colour_and_json_need_rich(hypercorn_server: Server, tmp_path: Path) -> None:
    url = f"{hypercorn_server.url}/echo"
    result = await run_cli_on_terminal("-i", url, stdout_tty=True)
    assert result.status == 0, result
    assert b"\x1b[" in result.stdout  # coloured head and JSON
    assert b'\r\n  "method": "GET",' in re.sub(rb"\x1b\[[\d;]*m", b"", result.stdout)
    result = await run_cli_on_terminal("-i", url, stdout_tty=True, env=_without_rich(tmp_path))
    assert result.status == 0, result
    assert b"\x1b[" not in result.stdout
    assert b'\n{"method": "GET", "path": "/echo"' in result.stdout  # plain: the body as it came


@pytest.mark.skipif(CURL is None, reason="compares with curl")
def test_curl_is_compared() -> None:
    assert CURL is not None


async def test_cookie_files_that_fail(redirect_server: Server, tmp_path: Path) -> None:
    # A -b file that can't be read is passed over, as curl does; a -c file that can't be
    # written is a failed write.
    url = f"{redirect_server.url}/cookies/set"
    args = ("-b", str(tmp_path / "missing"), "-c", str(tmp_path / "no" / "jar"), url)
    result = await run_cli(*args)
    assert (result.status, result.stdout) == (23, b"set")
    assert our_words(result).startswith(f"Failed to save cookies in {tmp_path / 'no' / 'jar'}")
