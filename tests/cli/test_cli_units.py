"""Unit tests of the command line's pure parts: arguments, bodies, exit statuses, output."""

from __future__ import annotations

import io
import socket
import ssl
import sys

import pytest
import trio

from trio_httpcore._cli import _arguments, _bodies, _exits, _output, _run
from trio_httpcore._cli._arguments import Options, parse_args
from trio_httpcore._cli._exits import CLIError, Exit
from trio_httpcore._cli._output import Style
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
    assert options.timeout == 5.0
    assert options.proxy_url is None


def test_proxy_url_scheme() -> None:
    assert parse_args(["-x", "proxy.test:3128", "x"]).proxy_url == "http://proxy.test:3128"
    assert parse_args(["-x", "socks5h://p:1080", "x"]).proxy_url == "socks5h://p:1080"


@pytest.mark.parametrize(
    ("argv", "method"),
    [
        (["-d", "a=1"], "POST"),
        (["--json", "{}"], "POST"),
        (["-F", "a=1"], "POST"),
        (["-X", "put", "-d", "a=1"], "PUT"),
        (["-X", "DELETE"], "DELETE"),
        (["-X", "GET", "--json", "{}"], "GET"),
    ],
)
def test_method_follows_curl(argv: list[str], method: str) -> None:
    assert parse_args([*argv, "https://x.test/"]).request_method == method


def test_all_flags_parse() -> None:
    options = parse_args(
        [
            "-X", "PATCH", "-H", "A: 1", "-H", "B:2", "-d", "x", "-u", "u:p:w", "--digest",
            "-L", "--http2", "-k", "--cacert", "ca.pem", "--cert", "c.pem", "--key", "k.pem",
            "-x", "socks5://p:1080", "--timeout", "2.5", "-o", "out", "-v", "--fail",
            "https://x.test/",
        ]
    )  # fmt: skip
    assert options == Options(
        url="https://x.test/", method="PATCH", headers=[("A", "1"), ("B", "2")], data=["x"],
        user=("u", "p:w"), digest=True, location=True, http2=True, insecure=True,
        cacert="ca.pem", cert="c.pem", key="k.pem", proxy="socks5://p:1080",
        timeout=2.5, output="out", verbose=True, fail=True,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        ([], "the following arguments are required: URL"),
        (["--bogus", "x"], "unrecognized arguments: --bogus"),
        (["--timeout", "soon", "x"], "not a number of seconds"),
        (["--timeout", "0", "x"], "must be more than 0"),
        (["--timeout", "nan", "x"], "must be more than 0"),
        (["-d", "a", "--json", "{}", "x"], "only one of -d, --json and -F"),
        (["--http2", "--http2-prior-knowledge", "x"], "only one of --http2"),
        (["--digest", "x"], "--digest needs -u"),
        (["-u", "alice", "x"], "argument -u/--user: expected USER:PASSWORD, not 'alice'"),
        (["--key", "k.pem", "x"], "--key needs --cert"),
        (["-H", "no colon", "x"], "argument -H/--header: expected 'Name: value', not 'no colon'"),
        (["-H", ": v", "x"], "expected 'Name: value'"),
        (["-F", "nameonly", "x"], "argument -F/--form: expected NAME=VALUE or NAME=@FILE"),
        (["-F", "=v", "x"], "expected NAME=VALUE"),
        (["-H", "Bad Name : v", "x"], "expected 'Name: value'"),
    ],
)
def test_usage_errors(argv: list[str], fragment: str) -> None:
    with pytest.raises(CLIError) as info:
        parse_args(argv)
    assert info.value.status == 2
    assert fragment in str(info.value)


def test_headers_and_credentials() -> None:
    options = parse_args(["-H", "A: 1", "-H", "B:two words ", "-H", "Empty:", "-u", "u:p:w", "x"])
    assert options.headers == [("A", "1"), ("B", "two words"), ("Empty", "")]
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
    assert "Examples:" in text and "trio-httpcore -L -o big.iso" in text
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


# ---------------------------------------------------------------------------
# Exit statuses


def _chained(error: HTTPError, cause: BaseException) -> HTTPError:
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (CLIError(26, "can't read"), 26),
        (TooManyRedirects("many"), 47),
        (InvalidURL("bad"), 3),
        (UnsupportedProtocol("ftp"), 1),
        (ProxyError("proxy said 403", status_code=403, reason="Forbidden"), 97),
        (DecodingError("gzip"), 61),
        (RemoteProtocolError("bad"), 8),
        (WriteError("reset"), 55),
        (ReadError("reset"), 56),
        (ConnectError("refused"), 7),
        (_chained(ConnectError("dns"), socket.gaierror(-2, "Name or service not known")), 6),
        (_chained(ConnectError("tls"), ssl.SSLError(1, "handshake")), 35),
        (_chained(ConnectError("tls"), trio.BrokenResourceError()), 7),
        (HTTPError("other"), 1),
    ],
)
def test_exit_status(exc: BaseException, status: int) -> None:
    assert _exits.exit_status(exc) == (status, str(exc))


def test_exit_status_connect_reason_from_inside_a_group() -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    attempts = OSError("all attempts to connect failed")
    attempts.__cause__ = ExceptionGroup("all attempts", [refused])
    error = _chained(ConnectError("connecting to x: all attempts failed"), attempts)
    assert _exits.exit_status(error) == (
        7,
        "connecting to x: all attempts failed (Connection refused)",
    )
    said = _chained(ConnectError("connecting to x: Connection refused"), refused)
    assert _exits.exit_status(said) == (7, "connecting to x: Connection refused")


def test_exit_status_survives_a_cycle_of_causes() -> None:
    first, second = ConnectError("connecting to x"), OSError("inner")
    first.__cause__, second.__context__ = second, first
    assert _exits.exit_status(first) == (7, "connecting to x")


def test_exit_status_timeouts_say_so() -> None:
    timeout = ConnectTimeout("connecting to x")
    assert _exits.exit_status(timeout) == (28, "timed out connecting to x")
    assert _exits.exit_status(ReadTimeout("reading")) == (28, "timed out reading")


def test_exit_status_cert_verify_through_trio() -> None:
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    broken = trio.BrokenResourceError()
    broken.__cause__ = verify
    assert _exits.exit_status(_chained(ConnectError("x"), broken))[0] == 60


def test_exit_status_groups_and_interrupts() -> None:
    group = ExceptionGroup("g", [ValueError("v"), ExceptionGroup("h", [ReadTimeout("slow")])])
    assert _exits.exit_status(group) == (28, "timed out slow")
    assert _exits.exit_status(BaseExceptionGroup("g", [KeyboardInterrupt(), ReadError("x")])) == (
        130,
        None,
    )
    assert _exits.exit_status(KeyboardInterrupt()) == (130, None)


def test_exit_status_one_line_and_bugs() -> None:
    assert _exits.exit_status(ReadError("line one\n  line two")) == (56, "line one line two")
    assert _exits.exit_status(ReadError()) == (56, "ReadError")
    assert _exits.exit_status(ZeroDivisionError("oops")) == (
        1,
        "internal error: ZeroDivisionError: oops",
    )


def test_report() -> None:
    stderr = io.StringIO()
    _exits.report(7, "refused", stderr)
    assert stderr.getvalue() == "trio-httpcore: (7) refused\n"


# ---------------------------------------------------------------------------
# Output


class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_wants_colour() -> None:
    assert _output.wants_colour(_TTY(), {})
    assert not _output.wants_colour(io.StringIO(), {})
    assert not _output.wants_colour(_TTY(), {"NO_COLOR": ""})
    assert not _output.wants_colour(_TTY(), {"TERM": "dumb"})


def test_format_head_plain_and_coloured() -> None:
    headers = [(b"Host", b"x.test"), (b"Accept", b"*/*")]
    plain = _output.format_head(">", "GET / HTTP/1.1", headers, Style(False), Style.CYAN)
    assert plain == "> GET / HTTP/1.1\n> Host: x.test\n> Accept: */*\n>\n"
    coloured = _output.format_head("<", "HTTP/1.1 404 Not Found", [], Style(True), Style.RED)
    marker = "\x1b[2m<\x1b[0m"
    assert coloured == f"{marker} \x1b[1m\x1b[31mHTTP/1.1 404 Not Found\x1b[0m\n{marker}\n"


def test_status_colours() -> None:
    style = Style(True)
    assert [style.status(code) for code in (200, 301, 404, 503)] == [
        Style.GREEN,
        Style.YELLOW,
        Style.RED,
        Style.RED,
    ]
    assert style("text") == "text"


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/problem+json", True),
        ("text/plain", False),
        (None, False),
        ("", False),
    ],
)
def test_is_json_type(content_type: str | None, expected: bool) -> None:
    assert _output.is_json_type(content_type) is expected


def test_pretty_json() -> None:
    pretty = b'{\n  "a": [\n    1,\n    "\xc3\xa9"\n  ]\n}\n'
    assert _output.pretty_json(b'{"a":[1,"\xc3\xa9"]}') == pretty
    assert _output.pretty_json(b"{not json") is None
    assert _output.pretty_json(b"\xff\xfe") is None


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1536, "1.5 KiB"),
        (5 << 20, "5.0 MiB"),
        (1 << 50, "1024.0 TiB"),
    ],
)
def test_format_bytes(count: int, text: str) -> None:
    assert _output.format_bytes(count) == text


def test_format_duration() -> None:
    assert [_output.format_duration(s) for s in (0, 75, 3700)] == ["0:00", "1:15", "1:01:40"]


def test_render_progress() -> None:
    assert _output.render_progress(512, 2048, 1.0, width=4) == (
        " 25.0% [#---] 512 B / 2.0 KiB  512 B/s  ETA 0:03"
    )
    assert _output.render_progress(2048, 2048, 2.0, width=4) == (
        "100.0% [####] 2.0 KiB / 2.0 KiB  1.0 KiB/s  in 0:02"
    )
    assert _output.render_progress(0, 2048, 0.0, width=4).endswith("0 B/s  ETA --:--")
    assert _output.render_progress(3072, None, 2.0) == "3.0 KiB  1.5 KiB/s"


def test_progress_bar_throttles_and_pads() -> None:
    now = [0.0]
    stream = io.StringIO()
    bar = _output.ProgressBar(stream, None, clock=lambda: now[0], interval=1.0)
    bar.advance(100_000)  # first update draws
    bar.advance(1)  # too soon: no redraw
    now[0] = 2.0
    bar.advance(1)
    bar.finish()
    lines = stream.getvalue().split("\r")[1:]
    assert [line.rstrip() for line in lines] == [
        "97.7 KiB  0 B/s",
        "97.7 KiB  48.8 KiB/s",
        "97.7 KiB  48.8 KiB/s",
    ]
    assert lines[1] == "97.7 KiB  48.8 KiB/s"  # as long as the line before: no padding
    assert stream.getvalue().endswith("\n")


# ---------------------------------------------------------------------------
# main() in this process (the subprocess tests run it for real)


def test_main_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run.main(["--timeout", "-1", "http://x.test/"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "trio-httpcore: (2) argument --timeout: must be more than 0 seconds: '-1' "
        "(see trio-httpcore --help)\n"
    )


def test_main_reads_closed_stdin_as_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", None)
    assert _output.Terminal.from_sys().stdin.read() == b""
