"""Unit tests of the command line's pure parts: arguments, bodies, exit statuses, output."""

from __future__ import annotations

import io
import socket
import ssl
import sys

import pytest
import trio
import trio.testing

from trio_httpcore._cli import _arguments, _bodies, _exits, _output, _render, _run, _timings
from trio_httpcore._cli._arguments import Options, Resolve, parse_args
from trio_httpcore._cli._exits import CLIError, Exit
from trio_httpcore._cli._timings import Transfer
from trio_httpcore._cli._verbose import Verbose
from trio_httpcore._cli._writeout import write_out
from trio_httpcore._exceptions import (
    ConnectError,
    ConnectTimeout,
    DecodingError,
    HTTPError,
    InvalidURL,
    ProxyError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TooManyRedirects,
    UnsupportedProtocol,
    WriteError,
)

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup


# ---------------------------------------------------------------------------
# Arguments


def test_defaults() -> None:
    options = parse_args(["example.org"])
    assert options.request_url == "http://example.org"
    assert options.request_method == "GET"
    assert not options.location and not options.fail and not options.verbose
    # curl's: no time limits, 50 redirects at most, no retries.
    assert (options.timeout, options.max_time, options.connect_timeout) == (None, None, None)
    assert (options.max_redirs, options.retry) == (50, 0)
    assert options.proxy_url is None


def test_proxy_url_scheme() -> None:
    assert parse_args(["-x", "proxy.test:3128", "x"]).proxy_url == "http://proxy.test:3128"
    assert parse_args(["-x", "socks5h://p:1080", "x"]).proxy_url == "socks5h://p:1080"


@pytest.mark.parametrize(
    ("argv", "method"),
    [
        (["-d", "a=1"], "POST"),
        (["--data-raw", "a"], "POST"),
        (["--json", "{}"], "POST"),
        (["-F", "a=1"], "POST"),
        (["-G", "-d", "a=1"], "GET"),
        (["-I"], "HEAD"),
        (["-G", "-I", "-d", "a=1"], "HEAD"),
        (["-T", "file"], "PUT"),
        (["-X", "put", "-d", "a=1"], "put"),  # as given, as curl sends it
        (["-X", "DELETE"], "DELETE"),
        (["-X", "GET", "--json", "{}"], "GET"),
    ],
)
def test_method_follows_curl(argv: list[str], method: str) -> None:
    assert parse_args([*argv, "https://x.test/"]).request_method == method


def test_all_flags_parse() -> None:
    options = parse_args(
        [
            "-X", "PATCH", "-H", "A: 1", "-H", "B:2", "-H", "C:", "-d", "x",
            "--data-binary", "@f", "--data-raw", "@r", "--data-urlencode", "q=a b",
            "-u", "u:p:w", "--digest", "-A", "agent", "-e", "http://ref/",
            "-b", "a=1", "-c", "jar", "-L", "--max-redirs", "-1", "--http1.1", "--compressed",
            "--resolve", "h.test:443:[::1],127.0.0.1", "-k", "--cacert", "ca.pem",
            "--cert", "c.pem", "--key", "k.pem", "-x", "socks5://p:1080",
            "-m", "9.5", "--connect-timeout", "2", "--timeout", "2.5", "--retry", "3",
            "--retry-delay", "0.5", "--limit-rate", "1.5K", "-o", "out", "-D", "heads",
            "-i", "-w", "%{http_code}", "-sSvf", "--url", "https://x.test/",
        ]
    )  # fmt: skip
    assert options == Options(
        url_flag="https://x.test/", method="PATCH",
        headers=[("A", "1"), ("B", "2"), ("C", None)],
        data=[("data", "x"), ("binary", "@f"), ("raw", "@r"), ("urlencode", "q=a b")],
        user=("u", "p:w"), digest=True, user_agent="agent", referer="http://ref/",
        cookie=["a=1"], cookie_jar="jar", location=True, max_redirs=-1, http1_1=True,
        compressed=True, resolve=[Resolve("h.test", 443, ["::1", "127.0.0.1"])],
        insecure=True, cacert="ca.pem", cert="c.pem", key="k.pem", proxy="socks5://p:1080",
        max_time=9.5, connect_timeout=2.0, timeout=2.5, retry=3, retry_delay=0.5,
        limit_rate=1536, output="out", dump_header="heads", include=True,
        write_out="%{http_code}", silent=True, show_error=True, verbose=True, fail=True,
    )  # fmt: skip
    assert options.target == "https://x.test/"


def test_short_flags_bundle_as_in_curl() -> None:
    options = parse_args(["-fsSLo", "out", "x"])
    assert (options.fail, options.silent, options.show_error, options.location) == (
        True,
        True,
        True,
        True,
    )
    assert options.output == "out"
    assert parse_args(["-sSLoout", "x"]).output == "out"


_HELP = "; try 'trio-httpcore --help' for more information"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "no URL specified"),
        (["--bogus", "x"], "option --bogus: is unknown"),
        (["-fsq", "x"], "option -fsq: is unknown"),
        (["--max-tim", "1", "x"], "option --max-tim: is unknown"),  # no abbreviations
        (["-o"], "option -o: requires parameter"),
        (["--output"], "option --output: requires parameter"),
        (["-m", "soon", "x"], "option -m: expected a proper numerical parameter"),
        (["--timeout", "0", "x"], "option --timeout: expected a proper numerical parameter"),
        (["-m", "nan", "x"], "option -m: expected a proper numerical parameter"),
        (["--retry", "x", "x"], "option --retry: expected a proper numerical parameter"),
        (["--max-redirs", "-2", "x"], "option --max-redirs: expected a proper numerical"),
        (["--limit-rate", "fast", "x"], "option --limit-rate: expected a proper numerical"),
        (["--limit-rate", "0", "x"], "option --limit-rate: expected a proper numerical"),
        (["--resolve", "h.test:ab:1.2.3.4", "x"], "expected HOST:PORT:ADDRESS"),
        (
            ["-d", "a", "-F", "b=1", "x"],
            "You can only select one HTTP request method! "
            "You asked for both POST (-d, --data) and multipart formpost (-F, --form)",
        ),
        (["-I", "-d", "a", "x"], "both POST (-d, --data) and HEAD (-I, --head)"),
        (["-T", "f", "--json", "{}", "x"], "both POST (--json) and PUT (-T, --upload-file)"),
        (["--http1.1", "--http2-prior-knowledge", "x"], "only one of --http1.1, --http2"),
        (["--digest", "x"], "--digest needs -u"),
        (["-u", "alice", "x"], "option -u: expected USER:PASSWORD, not 'alice'"),
        (["--key", "k.pem", "x"], "--key needs --cert"),
        (["-o", "a", "-O", "x"], "use only one of -o and -O"),
        (["-H", "no colon", "x"], "option -H: expected 'Name: value', not 'no colon'"),
        (["-H", ": v", "x"], "expected 'Name: value'"),
        (["-F", "nameonly", "x"], "option -F: is badly used here"),
        (["-F", "=v", "x"], "option -F: is badly used here"),
        (["-H", "Bad Name : v", "x"], "expected 'Name: value'"),
    ],
)
def test_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(CLIError) as info:
        parse_args(argv)
    assert info.value.status == 2
    assert message in str(info.value) and str(info.value).endswith(_HELP)


def test_headers_and_credentials() -> None:
    argv = ["-H", "A: 1", "-H", "B:two words ", "-H", "Gone:", "-H", "Empty;", "-u", "u:p:w"]
    options = parse_args([*argv, "x"])
    assert options.headers == [("A", "1"), ("B", "two words"), ("Gone", None), ("Empty", "")]
    assert options.user == ("u", "p:w")
    assert parse_args(["-u", "only:", "x"]).user == ("only", "")


def test_merge_headers_given_win() -> None:
    given = [("content-type", "text/plain")]
    defaults = [("Content-Type", "application/json"), ("Accept", "application/json")]
    assert _bodies.merge_headers(given, defaults) == [
        ("content-type", "text/plain"),
        ("Accept", "application/json"),
    ]


def test_help_epilog_lists_examples_and_every_exit_status() -> None:
    text = _arguments.build_parser().format_help()
    assert "examples:" in text and "trio-httpcore -fsSL -o page.html" in text
    for status in Exit:
        assert f"\n{status.value:>4}  " in text, status


# ---------------------------------------------------------------------------
# Bodies


def test_read_local(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "body.bin"  # type: ignore[operator]
    path.write_bytes(b"\x00\xffraw\n")
    assert _bodies.read_local("plain", io.BytesIO()) == b"plain"
    assert _bodies.read_local(f"@{path}", io.BytesIO()) == b"\x00\xffraw\n"
    assert _bodies.read_local("@-", io.BytesIO(b"from stdin")) == b"from stdin"
    with pytest.raises(CLIError) as info:
        _bodies.read_local(f"@{path}.missing", io.BytesIO())
    assert info.value.status == 26
    assert "No such file or directory" in str(info.value)


def test_body_data_and_json() -> None:
    stdin = io.BytesIO()
    with _bodies.request_body(parse_args(["-d", "a=1", "-d", "b=2", "x"]), stdin) as body:
        assert body.content == b"a=1&b=2"
        assert body.headers == [("Content-Type", "application/x-www-form-urlencoded")]
    with _bodies.request_body(parse_args(["--json", '{"a":', "--json", "1}", "x"]), stdin) as body:
        assert body.content == b'{"a":1}'
        assert ("Accept", "application/json") in body.headers
    with _bodies.request_body(parse_args(["x"]), stdin) as body:
        assert body == _bodies.Body()


def test_body_form(tmp_path: pytest.TempPathFactory) -> None:
    upload = tmp_path / "up.txt"  # type: ignore[operator]
    upload.write_bytes(b"file body")
    options = parse_args(
        ["-F", "a=1", "-F", "a=2", "-F", "b=3", "-F", f"f=@{upload};type=text/plain",
         "-F", f"g=@{upload}", "x"]
    )  # fmt: skip
    with _bodies.request_body(options, io.BytesIO()) as body:
        [a1, a2, b, (name, (filename, file, content_type)), (_, (_, _, no_type))] = body.parts
        assert [a1, a2, b] == [
            ("a", (None, b"1", None)),
            ("a", (None, b"2", None)),
            ("b", (None, b"3", None)),
        ]
        assert (name, filename, content_type, no_type) == ("f", "up.txt", "text/plain", None)
        assert isinstance(file, io.BufferedReader) and file.read() == b"file body"
    assert file.closed


def test_body_form_missing_file() -> None:
    with (
        pytest.raises(CLIError) as info,
        _bodies.request_body(parse_args(["-F", "f=@/no/such", "x"]), io.BytesIO()),
    ):
        pass  # pragma: no cover
    assert info.value.status == 26


@pytest.mark.parametrize(
    ("kind", "argument", "sent"),
    [
        ("data", "@FILE", b"a=1b=2"),
        ("binary", "@FILE", b"a=1\r\nb=2\n"),
        ("raw", "@not-a-file", b"@not-a-file"),
        ("data", "plain\ntext", b"plain\ntext"),  # only @FILE loses its newlines
        ("urlencode", "q=a b&c", b"q=a+b%26c"),
        ("urlencode", "=a b", b"a+b"),
        ("urlencode", "a b", b"a+b"),
        ("urlencode", "@FILE", b"a%3D1%0D%0Ab%3D2%0A"),
        ("urlencode", "n@FILE", b"n=a%3D1%0D%0Ab%3D2%0A"),
    ],
)
def test_data_item(tmp_path: pytest.TempPathFactory, kind: str, argument: str, sent: bytes) -> None:
    path = tmp_path / "body"  # type: ignore[operator]
    path.write_bytes(b"a=1\r\nb=2\n")
    argument = argument.replace("FILE", str(path))
    assert _bodies.data_item(kind, argument, io.BytesIO()) == sent


@pytest.mark.parametrize(
    ("argv", "url"),
    [
        (["-G", "-d", "a=1", "http://x.test/p"], "http://x.test/p?a=1"),
        (["-G", "-d", "a=1", "http://x.test/p?z=0#top"], "http://x.test/p?z=0&a=1#top"),
        (["-T", "/tmp/dir/f name", "http://x.test"], "http://x.test/f%20name"),
        (["-T", "/tmp/dir/f", "http://x.test/up/"], "http://x.test/up/f"),
        (["-T", "/tmp/dir/f", "http://x.test/up/g"], "http://x.test/up/g"),
        (["-T", "-", "http://x.test/"], "http://x.test/"),
    ],
)
def test_request_url(argv: list[str], url: str) -> None:
    options = parse_args(argv)
    body = _bodies.Body(query=b"a=1" if options.get else None)
    assert _bodies.request_url(options, body) == url


async def test_upload_streams_a_file_with_its_length(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "up"  # type: ignore[operator]
    path.write_bytes(b"x" * 100_000)
    with _bodies.request_body(parse_args(["-T", str(path), "x"]), io.BytesIO()) as body:
        assert body.headers == [("Content-Length", "100000")]
        assert isinstance(body.content, _bodies.FileChunks)
        assert b"".join([chunk async for chunk in body.content]) == b"x" * 100_000
    with _bodies.request_body(parse_args(["-T", "-", "x"]), io.BytesIO(b"in")) as body:
        assert body.headers == []  # stdin: no length, sent chunked
        assert isinstance(body.content, _bodies.FileChunks)
        assert [chunk async for chunk in body.content] == [b"in"]


# ---------------------------------------------------------------------------
# Exit statuses and curl's words


class _Where:
    """A transfer as an error line sees it."""

    host = "x.test"
    port = 8080
    elapsed_ms = 12
    received = 5
    expected: int | None = 10
    max_redirs = 50
    in_tls_handshake = False


def _chained(error: HTTPError, cause: BaseException) -> HTTPError:
    error.__cause__ = cause
    return error


def _status(exc: BaseException, where: object = None) -> tuple[int, str | None]:
    return _exits.exit_status(exc, where or _Where())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "status", "words"),
    [
        (CLIError(26, "can't read"), 26, "can't read"),
        (TooManyRedirects("many"), 47, "Maximum (50) redirects followed"),
        (InvalidURL("bad"), 3, "URL using bad/illegal format or missing URL (bad)"),
        (UnsupportedProtocol("no ftp"), 1, "no ftp"),
        (
            ProxyError("proxy said 403", status_code=403, reason="Forbidden"),
            56,
            "CONNECT tunnel failed, response 403",
        ),
        (ProxyError("SOCKS5 refused"), 97, "SOCKS5 refused"),
        (DecodingError("gzip"), 61, "Error while processing content unencoding: gzip"),
        (RemoteProtocolError("bad"), 8, "Weird server reply: bad"),
        (WriteError("x"), 55, "Failed sending data to the peer"),
        (_chained(WriteError("x"), BrokenPipeError(32, "pipe")), 55, "Send failure: Broken pipe"),
        (ReadError("x"), 56, "Failure when receiving data from the peer"),
        (
            _chained(ReadError("x"), ConnectionResetError(104, "reset")),
            56,
            "Recv failure: Connection reset by peer",
        ),
        (
            ConnectError("refused"),
            7,
            "Failed to connect to x.test port 8080 after 12 ms: Couldn't connect to server",
        ),
        (
            _chained(ConnectError("dns"), socket.gaierror(-2, "Name or service not known")),
            6,
            "Could not resolve host: x.test",
        ),
        (
            _chained(ConnectError("tls"), ssl.SSLError(1, "handshake")),
            35,
            "SSL connect error: handshake",
        ),
        (ConnectTimeout("x"), 28, "Connection timed out after 12 milliseconds"),
        (
            ReadTimeout("x"),
            28,
            "Operation timed out after 12 milliseconds with 5 out of 10 bytes received",
        ),
        (HTTPError("other"), 1, "other"),
        (_chained(HTTPError("socks"), ImportError("x")), 1, "socks"),
        (ImportError("SOCKS proxies need socksio"), 4, "SOCKS proxies need socksio"),
        (ZeroDivisionError("oops"), 1, "internal error, please report it: oops"),
        (ZeroDivisionError(), 1, "internal error, please report it: no message"),
    ],
)  # fmt: skip
def test_exit_status(exc: BaseException, status: int, words: str) -> None:
    assert _status(exc) == (status, words)


def test_exit_status_tls_reason_and_handshake_timeout() -> None:
    error = ssl.SSLError(1, "wrong version")
    error.reason = "WRONG_VERSION_NUMBER"
    assert _status(_chained(ConnectError("tls"), error)) == (
        35,
        "SSL connect error: wrong version number",
    )

    class InHandshake(_Where):
        in_tls_handshake = True

    assert _status(ConnectTimeout("x"), InHandshake()) == (28, "SSL connection timeout")

    class Unknown(_Where):
        expected = None

    assert _status(ReadTimeout("x"), Unknown())[1] == (
        "Operation timed out after 12 milliseconds with 5 bytes received"
    )


def test_exit_status_connect_reason_from_inside_a_group() -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    attempts = OSError("all attempts to connect failed")
    attempts.__cause__ = ExceptionGroup("all attempts", [refused])
    error = _chained(ConnectError("connecting to x: all attempts failed"), attempts)
    assert _status(error) == (
        7,
        "Failed to connect to x.test port 8080 after 12 ms: Connection refused",
    )


def test_exit_status_survives_a_cycle_of_causes() -> None:
    first, second = ConnectError("connecting to x"), OSError("inner")
    first.__cause__, second.__context__ = second, first
    assert _status(first)[0] == 7


def test_exit_status_certificates_with_curls_hint() -> None:
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_code, verify.verify_message = 20, "unable to get local issuer certificate"
    broken = trio.BrokenResourceError()
    broken.__cause__ = verify
    status, words = _status(_chained(ConnectError("x"), broken))
    assert (status, words) == (
        60,
        "SSL certificate problem: unable to get local issuer certificate; "
        "use --cacert FILE to trust its issuer, or -k to skip the check",
    )
    mismatch = ssl.SSLCertVerificationError(1, "certificate verify failed")
    mismatch.verify_code, mismatch.verify_message = 62, "Hostname mismatch"
    assert _status(_chained(ConnectError("x"), mismatch))[1] == (
        "SSL: no alternative certificate subject name matches target host name 'x.test'; "
        "use --cacert FILE to trust its issuer, or -k to skip the check"
    )


def test_exit_status_groups_and_interrupts() -> None:
    group = ExceptionGroup("g", [ValueError("v"), ExceptionGroup("h", [ReadError("x")])])
    assert _status(group)[0] == 56
    assert _status(BaseExceptionGroup("g", [KeyboardInterrupt(), ReadError("x")])) == (130, None)
    assert _status(KeyboardInterrupt()) == (130, None)


def test_no_python_names_in_any_line() -> None:
    for exc in (ReadError(), ConnectError(), ValueError(), HTTPError()):
        _, words = _status(exc)
        assert words is not None and "Error" not in words, words


def test_report() -> None:
    stderr = io.StringIO()
    _exits.report(7, "refused", stderr)
    assert stderr.getvalue() == "trio-httpcore: (7) refused\n"


# ---------------------------------------------------------------------------
# -w, --limit-rate, the plain renderers


def test_write_out() -> None:
    transfer = Transfer(started=10.0)
    transfer.http_code, transfer.http_version = 404, "HTTP/2"
    transfer.namelookup, transfer.finished = 10.25, 11.5
    transfer.headers = {"x-one": "1"}
    warnings: list[str] = []
    text = write_out(
        "%{http_code} %{http_version} %{time_namelookup} %{time_connect} %{time_total} "
        "%header{X-One}%header{missing} %{exitcode} %{bogus}%%\\n\\t\\x",
        transfer,
        {"exitcode": "22"},
        warnings.append,
    )
    assert text == "404 2 0.250000 0.000000 1.500000 1 22 %\n\t\\x"
    assert warnings == ["unknown --write-out variable: 'bogus'"]
    assert write_out("%{http_code} %{http_version}", Transfer(), {}, warnings.append) == "000 0"


async def test_rate_limit_paces_to_the_rate(autojump_clock: trio.testing.MockClock) -> None:
    limit = _output.RateLimit(1000)
    start = trio.current_time()
    for _ in range(5):
        await limit.pace(500)
    assert trio.current_time() - start == pytest.approx(2.5)


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def test_plain_bar() -> None:
    stream = io.StringIO()
    bar = _render.PlainBar(stream, 200, width=10)
    bar.advance(50)
    bar.advance(150)
    bar.finish()
    assert stream.getvalue() == "\r##          25.0%\r########## 100.0%\r########## 100.0%\n"
    stream = io.StringIO()
    bar = _render.PlainBar(stream, None)
    bar.advance(7)
    assert stream.getvalue() == "\r7 bytes"


def test_no_rich_console_off_a_terminal() -> None:
    assert _render.console_for(io.StringIO()) is None


# ---------------------------------------------------------------------------
# main() in this process (the subprocess tests run it for real)


def test_main_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run.main(["--timeout", "0", "http://x.test/"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "trio-httpcore: (2) option --timeout: expected a proper numerical parameter; "
        "try 'trio-httpcore --help' for more information\n"
    )


def test_main_reads_closed_stdin_as_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", None)
    assert _output.Terminal.from_sys().stdin.read() == b""


async def test_peer_address_when_there_is_none() -> None:
    # The -v "Connected to" line leaves the address out rather than fail.
    unconnected = trio.SocketStream(trio.socket.socket())
    with unconnected.socket:
        assert _timings._peer_address(unconnected) == ""  # getpeername: not connected
    memory, _ = trio.testing.memory_stream_pair()
    assert _timings._peer_address(memory) == ""


def test_verbose_connect_line_without_an_address() -> None:
    transfer = Transfer(host="x.test", port=8080)
    transfer.connect = transfer.started + 0.002
    shown = io.StringIO()
    Verbose(shown, transfer).phase("connect")
    assert shown.getvalue() == "* Connected to x.test port 8080 after 2.0 ms\n"
