"""The ``trio-httpcore`` command line: a curl-like HTTP client on :class:`AsyncClient`.

``python -m trio_httpcore [options] URL`` (or the ``trio-httpcore`` script)
sends one request and writes the response body to stdout, byte for byte when
stdout is piped; on a terminal a JSON body is pretty-printed. The flags follow
curl: ``-d``, ``--json`` and ``-F`` imply POST unless ``-X`` says otherwise,
redirects are followed only with ``-L``, and any response, whatever its status,
exits 0 unless ``--fail`` is given. Every error prints one line to stderr,
``trio-httpcore: (CODE) what went wrong``, and exits with CODE; never a
traceback. Ctrl-C exits 130 quietly.

Examples:
  trio-httpcore https://example.org
  trio-httpcore -v --http2 https://example.org
  trio-httpcore -L -o big.iso https://example.org/big.iso
  trio-httpcore -d 'name=alice&team=blue' https://httpbin.org/post
  trio-httpcore -d @body.txt -H 'Content-Type: text/plain' https://httpbin.org/post
  trio-httpcore --json '{"name": "alice"}' https://httpbin.org/post
  trio-httpcore -F 'avatar=@me.png;type=image/png' -F name=alice https://httpbin.org/post
  trio-httpcore -X DELETE -u alice:secret https://httpbin.org/delete
  trio-httpcore --cacert ca.pem --cert client.pem https://localhost:8443/
  trio-httpcore -x socks5h://127.0.0.1:1080 https://example.org
  trio-httpcore --fail https://example.org/missing || echo "failed: $?"

Request bodies:
  -d DATA        sent as is (several -d are joined with '&'), Content-Type
                 application/x-www-form-urlencoded unless -H sets one;
                 -d @FILE sends FILE's bytes unchanged (curl's --data-binary),
                 -d @- reads stdin.
  --json JSON    sent as is (several are concatenated), with Content-Type and
                 Accept application/json unless -H sets them; @FILE and @- too.
  -F NAME=VALUE  a multipart/form-data field; NAME=@FILE uploads FILE, and
                 ';type=MIME' after it sets the part's Content-Type.

Verbose output (-v), on stderr, coloured on a terminal:
  * HTTP/2, TLSv1.3   the protocol spoken, and the TLS version on https
  > GET /path HTTP/2  each request head as sent (redirects and auth retries too)
  < HTTP/2 200        each response head
  * timings: connect 2.1 ms, TLS 9.8 ms, first byte 12.0 ms, total 12.9 ms
                      counted from the start; connect and TLS shown on https only
  -o FILE shows a progress bar (percent, bytes, rate, ETA) when stderr is a terminal.

Exit status (curl's numbers):
   0  a response arrived (any status, unless --fail)
   1  unsupported protocol (URL scheme), or another library error
   2  bad usage: unknown flag, missing or malformed argument
   3  malformed URL
   6  could not resolve the host name
   7  could not connect (refused, unreachable)
   8  the server broke the HTTP protocol (bad or incomplete response)
  22  --fail and the response status was not 2xx
  23  could not write the body (-o FILE, stdout closed, or binary bytes
      bound for a terminal: curl refuses them too; -o - prints them anyway)
  26  could not read a local file (-d @FILE, --json @FILE, -F name=@FILE)
  28  timeout (--timeout applies to each phase: connect, read, write, pool)
  35  TLS handshake failed
  47  too many redirects (-L)
  55  sending the request failed
  56  receiving the response failed (connection reset, ...)
  58  the client certificate (--cert, --key) could not be loaded
  60  the server's certificate could not be verified (see -k, --cacert)
  61  the response body could not be decoded (Content-Encoding)
  77  the CA bundle (--cacert) could not be loaded
  97  the proxy refused or failed (CONNECT status, SOCKS reply)
 130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import os
import socket
import ssl
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, BinaryIO, NoReturn, TextIO

import trio

from ._client import AsyncClient, Request, Response
from ._client._auth import Auth, BasicAuth, DigestAuth
from ._client._config import DEFAULT_TIMEOUT_SECONDS, create_ssl_context
from ._exceptions import (
    ConnectError,
    DecodingError,
    HTTPError,
    InvalidURL,
    NetworkError,
    ProtocolError,
    ProxyError,
    TimeoutException,
    TooManyRedirects,
    UnsupportedProtocol,
    WriteError,
)
from ._version import __version__

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._client._config import CertTypes

PROG = "trio-httpcore"

# Exit statuses; the module docstring (shown by --help) explains each one.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BAD_URL = 3
EXIT_RESOLVE = 6
EXIT_CONNECT = 7
EXIT_PROTOCOL = 8
EXIT_HTTP_STATUS = 22
EXIT_WRITE = 23
EXIT_READ_FILE = 26
EXIT_TIMEOUT = 28
EXIT_TLS = 35
EXIT_REDIRECTS = 47
EXIT_SEND = 55
EXIT_RECEIVE = 56
EXIT_CLIENT_CERT = 58
EXIT_CERT_VERIFY = 60
EXIT_DECODING = 61
EXIT_CA_BUNDLE = 77
EXIT_PROXY = 97
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """A failure of the command line itself, with the exit status it maps to."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------------
# Arguments


@dataclass
class Options:
    """The parsed command line; argparse fills the fields of its namespace in place."""

    url: str = ""
    method: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    json: list[str] = field(default_factory=list)
    form: list[tuple[str, str]] = field(default_factory=list)
    user: tuple[str, str] | None = None
    digest: bool = False
    location: bool = False
    http2: bool = False
    http2_prior_knowledge: bool = False
    insecure: bool = False
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    proxy: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    output: str | None = None
    verbose: bool = False
    fail: bool = False

    @property
    def request_method(self) -> str:
        """``-X``, else POST when a body was given (as curl does), else GET."""
        if self.method is not None:
            return self.method.upper()
        return "POST" if self.data or self.json or self.form else "GET"

    @property
    def request_url(self) -> str:
        """The URL, with ``http://`` in front when it names no scheme (as curl does)."""
        return _with_scheme(self.url)

    @property
    def proxy_url(self) -> str | None:
        """``-x``, with ``http://`` in front when it names no scheme (as curl does)."""
        return None if self.proxy is None else _with_scheme(self.proxy)


def _with_scheme(url: str) -> str:
    return url if "://" in url else f"http://{url}"


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line, ``trio-httpcore: (2) ...``."""

    def error(self, message: str) -> NoReturn:
        # argparse would print the usage block too: the contract is one line.
        raise CLIError(EXIT_USAGE, f"{message} (see {PROG} --help)")


def _seconds(text: str) -> float:
    """``--timeout``'s argument: a number of seconds, > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return value


def _header(line: str) -> tuple[str, str]:
    """``-H``'s argument, ``Name: value``, as ``(name, value)``."""
    name, colon, value = line.partition(":")
    if not colon or not name.strip() or name != name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', not {line!r}")
    return name, value.strip()


def _credentials(text: str) -> tuple[str, str]:
    """``-u``'s argument, ``user:password`` (the password may hold ':'), as a pair."""
    username, colon, password = text.partition(":")
    if not colon:
        # curl would prompt for the password; a script can't answer, so say what's needed.
        raise argparse.ArgumentTypeError(f"expected USER:PASSWORD, not {text!r}")
    return username, password


def _form_field(item: str) -> tuple[str, str]:
    """``-F``'s argument, ``NAME=VALUE`` or ``NAME=@FILE[;type=MIME]``, as ``(name, value)``."""
    name, equals, value = item.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE or NAME=@FILE, not {item!r}")
    return name, value


def _help_epilog() -> str:
    """The docstring's examples and tables (``python -OO`` strips it: then nothing)."""
    doc = __doc__ or ""
    return doc[doc.find("Examples:") :] if "Examples:" in doc else ""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; its ``--help`` is the command line's reference."""
    parser = _Parser(
        prog=PROG,
        description="Send one HTTP request and write the response body to stdout.",
        epilog=_help_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("url", metavar="URL", help="the URL to request (http:// is assumed without a scheme)")
    add("-X", "--request", dest="method", metavar="METHOD", help="the request method")
    add("-H", "--header", dest="headers", action="append", type=_header, metavar="'NAME: VALUE'",
        help="add a request header (repeatable)")  # fmt: skip
    add("-d", "--data", dest="data", action="append", metavar="DATA",
        help="request body, form-encoded (@FILE, @- for stdin); implies POST")  # fmt: skip
    add("--json", dest="json", action="append", metavar="JSON",
        help="JSON request body (@FILE, @- for stdin); implies POST")  # fmt: skip
    add("-F", "--form", dest="form", action="append", type=_form_field,
        metavar="NAME=VALUE|NAME=@FILE",
        help="multipart/form-data field or file upload (repeatable); implies POST")  # fmt: skip
    add("-u", "--user", dest="user", type=_credentials, metavar="USER:PASSWORD",
        help="credentials, sent with Basic authentication")  # fmt: skip
    add("--digest", action="store_true", help="use Digest authentication for -u")
    add("-L", "--location", dest="location", action="store_true", help="follow redirects")
    add("--http2", action="store_true", help="offer HTTP/2 (ALPN) on https")
    add("--http2-prior-knowledge", action="store_true",
        help="speak HTTP/2 without negotiating (h2c on http://)")  # fmt: skip
    add("-k", "--insecure", action="store_true", help="do not verify the server's certificate")
    add("--cacert", metavar="FILE", help="verify the server against this CA bundle (PEM)")
    add("--cert", metavar="FILE", help="client certificate (PEM, with its key unless --key)")
    add("--key", metavar="FILE", help="the client certificate's private key (PEM)")
    add("-x", "--proxy", metavar="URL",
        help="proxy: http://, https://, socks5:// or socks5h:// (user:pass@ allowed)")  # fmt: skip
    add("--timeout", type=_seconds, metavar="SECONDS",
        help="timeout of each phase (connect, read, write, pool); "
        f"default {DEFAULT_TIMEOUT_SECONDS:g} s")  # fmt: skip
    add("-o", "--output", metavar="FILE",
        help="write the body to FILE ('-' for stdout); a progress bar on a terminal")  # fmt: skip
    add("-v", "--verbose", action="store_true",
        help="print request and response heads, protocol, TLS and timings to stderr")  # fmt: skip
    add("-f", "--fail", action="store_true", help="exit 22 when the status is not 2xx")
    add("-V", "--version", action="version", version=f"{PROG} {__version__}")
    return parser


def parse_args(argv: Sequence[str]) -> Options:
    """Parse ``argv`` (without the program name); raise :class:`CLIError` (status 2) if bad."""
    options = build_parser().parse_args(argv, namespace=Options())
    if sum(map(bool, (options.data, options.json, options.form))) > 1:
        raise CLIError(EXIT_USAGE, "use only one of -d, --json and -F")
    if options.http2_prior_knowledge and options.http2:
        raise CLIError(EXIT_USAGE, "use only one of --http2 and --http2-prior-knowledge")
    if options.digest and options.user is None:
        raise CLIError(EXIT_USAGE, "--digest needs -u USER:PASSWORD")
    if options.key is not None and options.cert is None:
        raise CLIError(EXIT_USAGE, "--key needs --cert")
    return options


# ---------------------------------------------------------------------------
# Request bodies and local files


def read_local(argument: str, stdin: BinaryIO) -> bytes:
    """A ``-d``/``--json`` argument's bytes: ``@FILE`` reads FILE, ``@-`` stdin, else itself."""
    if not argument.startswith("@"):
        return argument.encode()
    path = argument[1:]
    if path == "-":
        return stdin.read()
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise _unreadable(path, exc) from exc


def _unreadable(path: str, exc: OSError) -> CLIError:
    return CLIError(EXIT_READ_FILE, f"can't read {path!r}: {exc.strerror}")


FormPart = tuple[str, tuple[str | None, BinaryIO | bytes, str | None]]
"""One ``-F`` part: ``(name, (filename or None, file or value, content type or None))``."""


@dataclass
class Body:
    """The request body the options describe, in the shape the client's arguments take."""

    content: bytes | None = None
    # Every -F part in command-line order, as ``files=`` takes them: a plain field is a
    # part without a filename, so a form of fields only is still multipart, as in curl.
    parts: list[FormPart] = field(default_factory=list)
    # Headers the body implies, each sent only if no -H gives the same name.
    headers: list[tuple[str, str]] = field(default_factory=list)


@contextlib.contextmanager
def request_body(options: Options, stdin: BinaryIO) -> Iterator[Body]:
    """The body of ``-d``, ``--json`` or ``-F``; ``-F`` files stay open until the block ends."""
    body = Body()
    if options.data:
        body.content = b"&".join(read_local(item, stdin) for item in options.data)
        body.headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    elif options.json:
        body.content = b"".join(read_local(item, stdin) for item in options.json)
        body.headers.append(("Content-Type", "application/json"))
        body.headers.append(("Accept", "application/json"))
    with contextlib.ExitStack() as files:
        for name, value in options.form:
            if value.startswith("@"):
                path, _, content_type = value[1:].partition(";type=")
                try:
                    file = files.enter_context(open(path, "rb"))
                except OSError as exc:
                    raise _unreadable(path, exc) from exc
                body.parts.append((name, (os.path.basename(path), file, content_type or None)))
            else:
                body.parts.append((name, (None, value.encode(), None)))
        yield body


def merge_headers(
    given: Sequence[tuple[str, str]], defaults: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """``given`` (from ``-H``), then each default whose name ``given`` doesn't have."""
    names = {name.lower() for name, _ in given}
    return [*given, *(item for item in defaults if item[0].lower() not in names)]


# ---------------------------------------------------------------------------
# Errors and exit statuses


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """Everything behind ``exc``: its chain (``__cause__``, else ``__context__``), and the
    exceptions inside any group on it (trio reports every failed connect attempt in one)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        behind = current.__cause__ or current.__context__
        if behind is not None:
            pending.append(behind)


def _connect_failure(exc: ConnectError, message: str) -> tuple[int, str]:
    """Which kind of connect failure ``exc`` was, from the errors behind it, and its line.

    The system's reason (``Connection refused``) is added when the message
    doesn't say it: trio's own message only says that every attempt failed.
    """
    reason = None
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror):
            return EXIT_RESOLVE, message
        if isinstance(cause, ssl.SSLCertVerificationError):
            return EXIT_CERT_VERIFY, message
        if isinstance(cause, ssl.SSLError):
            return EXIT_TLS, message
        if isinstance(cause, OSError) and cause.errno and reason is None:
            # From the number: trio's strerror also names the address, already in the line.
            reason = os.strerror(cause.errno)
    if reason is not None and reason not in message:
        message = f"{message} ({reason})"
    return EXIT_CONNECT, message


# First match wins: subclasses before their bases.
_STATUS_BY_ERROR: list[tuple[type[HTTPError], int]] = [
    (TooManyRedirects, EXIT_REDIRECTS),
    (InvalidURL, EXIT_BAD_URL),
    (UnsupportedProtocol, EXIT_ERROR),
    (ProxyError, EXIT_PROXY),
    (DecodingError, EXIT_DECODING),
    (ProtocolError, EXIT_PROTOCOL),
    (WriteError, EXIT_SEND),
    (NetworkError, EXIT_RECEIVE),
]


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside ``exc``, exception groups flattened."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def exit_status(exc: BaseException) -> tuple[int, str | None]:
    """The exit status for ``exc`` and the one line to print (``None``: print nothing).

    Exception groups (from nurseries) are looked through: Ctrl-C anywhere in
    them wins, else the first of our errors.
    """
    leaves = _leaves(exc)
    if any(isinstance(leaf, KeyboardInterrupt) for leaf in leaves):
        return EXIT_INTERRUPTED, None
    known = [leaf for leaf in leaves if isinstance(leaf, (CLIError, HTTPError))]
    exc = known[0] if known else leaves[0]
    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, CLIError):
        return exc.status, message
    if isinstance(exc, ConnectError):
        return _connect_failure(exc, message)
    if isinstance(exc, TimeoutException):
        # The transport names the phase; say plainly that it was a timeout.
        return EXIT_TIMEOUT, f"timed out {message}"
    for error, status in _STATUS_BY_ERROR:
        if isinstance(exc, error):
            return status, message
    if isinstance(exc, HTTPError):
        return EXIT_ERROR, message
    # A bug of ours or of the library: still one line, but say what it was.
    return EXIT_ERROR, f"internal error: {type(exc).__name__}: {message}"


def report(status: int, message: str, stderr: TextIO) -> None:
    """Print the one error line, ``trio-httpcore: (STATUS) message``."""
    stderr.write(f"{PROG}: ({status}) {message}\n")
    stderr.flush()


# ---------------------------------------------------------------------------
# Terminal output: colours, heads, JSON, progress


def wants_colour(stream: IO[Any], environ: Mapping[str, str]) -> bool:
    """Colour on a terminal, unless ``NO_COLOR`` is set (no-color.org) or TERM is dumb."""
    return stream.isatty() and "NO_COLOR" not in environ and environ.get("TERM") != "dumb"


class Style:
    """ANSI colours for heads on a terminal; with ``enabled=False`` text passes unchanged."""

    RESET = "\x1b[0m"
    BOLD = "\x1b[1m"
    DIM = "\x1b[2m"
    RED = "\x1b[31m"
    GREEN = "\x1b[32m"
    YELLOW = "\x1b[33m"
    CYAN = "\x1b[36m"

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, *codes: str) -> str:
        if not self.enabled or not codes:
            return text
        return "".join(codes) + text + self.RESET

    def status(self, status_code: int) -> str:
        """The colour of a status line: green 2xx, yellow 3xx, red 4xx/5xx."""
        if status_code >= 400:
            return self.RED
        return self.YELLOW if status_code >= 300 else self.GREEN


def format_head(
    marker: str,
    start_line: str,
    headers: Sequence[tuple[bytes, bytes]],
    style: Style,
    colour: str,
) -> str:
    """A message head as curl -v shows it: each line after ``marker``, then a bare marker."""
    prefix = style(marker, Style.DIM)
    lines = [f"{prefix} {style(start_line, Style.BOLD, colour)}"]
    for name, value in headers:
        name_text = style(name.decode("latin-1"), colour)
        lines.append(f"{prefix} {name_text}: {value.decode('latin-1')}")
    lines.append(prefix)
    return "\n".join(lines) + "\n"


def is_json_type(content_type: str | None) -> bool:
    """``application/json`` or any ``+json`` media type, whatever its parameters."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def pretty_json(body: bytes) -> bytes | None:
    """``body`` indented for reading, or ``None`` when it is not JSON."""
    try:
        document = json.loads(body)
    except ValueError:  # UnicodeDecodeError is a ValueError too
        return None
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def format_bytes(count: float) -> str:
    """``1536`` → ``"1.5 KiB"``; bytes without a decimal."""
    unit = 0
    while count >= 1024 and unit < len(_UNITS) - 1:
        count /= 1024
        unit += 1
    return f"{count:.0f} B" if unit == 0 else f"{count:.1f} {_UNITS[unit]}"


def format_duration(seconds: float) -> str:
    """``75`` → ``"1:15"``, ``3700`` → ``"1:01:40"``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render_progress(received: int, total: int | None, elapsed: float, width: int = 20) -> str:
    """One progress line: percent and bar (when the size is known), bytes, rate, ETA."""
    rate = received / elapsed if elapsed > 0 else 0.0
    speed = f"{format_bytes(rate)}/s"
    if total is None or total <= 0:
        return f"{format_bytes(received)}  {speed}"
    fraction = min(received / total, 1.0)
    filled = int(fraction * width)
    bar = "#" * filled + "-" * (width - filled)
    if received >= total:
        eta = f"in {format_duration(elapsed)}"
    elif rate > 0:
        eta = f"ETA {format_duration((total - received) / rate)}"
    else:
        eta = "ETA --:--"
    return (
        f"{fraction * 100:5.1f}% [{bar}] "
        f"{format_bytes(received)} / {format_bytes(total)}  {speed}  {eta}"
    )


class ProgressBar:
    """A download's progress on stderr, redrawn in place at most every ``interval`` seconds."""

    def __init__(
        self,
        stream: TextIO,
        total: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = 0.1,
    ) -> None:
        self._stream = stream
        self._total = total
        self._clock = clock
        self._interval = interval
        self._started = clock()
        self._drawn_at: float | None = None
        self._width = 0
        self.received = 0

    def advance(self, count: int) -> None:
        """``count`` more bytes arrived; redraw if the last drawing is old enough."""
        self.received += count
        now = self._clock()
        if self._drawn_at is None or now - self._drawn_at >= self._interval:
            self._draw(now)

    def finish(self) -> None:
        """Draw the final state and end the line."""
        self._draw(self._clock())
        self._stream.write("\n")
        self._stream.flush()

    def _draw(self, now: float) -> None:
        self._drawn_at = now
        line = render_progress(self.received, self._total, now - self._started)
        # Pad over what a longer previous line left on the terminal.
        self._stream.write("\r" + line.ljust(self._width))
        self._stream.flush()
        self._width = len(line)


# ---------------------------------------------------------------------------
# Timings and TLS details, for -v


@dataclass
class Timings:
    """What ``-v`` reports about the exchange; times are ``time.perf_counter()`` readings.

    The transport does not report its phases (yet), so TLS is observed through
    the ``SSLContext`` (see :func:`observe_tls`); the handshake starts right
    after the TCP connect, which dates the connect too. On plain ``http`` the
    connect can't be seen from here: only first byte and total are shown.
    """

    started: float = field(default_factory=time.perf_counter)
    tls_started: float | None = None
    tls_done: float | None = None
    tls_version: str | None = None
    first_byte: float | None = None
    finished: float | None = None

    def summary(self) -> str:
        """``timings: connect 1.0 ms, TLS 3.1 ms, first byte 4.2 ms, total 5.0 ms``.

        Each is counted from the start, as curl's ``-w`` times are; "TLS" is
        when the handshake ended, "first byte" when the response head arrived.
        """
        marks = [
            ("connect", self.tls_started),
            ("TLS", self.tls_done),
            ("first byte", self.first_byte),
            ("total", self.finished),
        ]
        shown = [
            f"{name} {(mark - self.started) * 1000:.1f} ms"
            for name, mark in marks
            if mark is not None
        ]
        return "timings: " + ", ".join(shown)


def observe_tls(context: ssl.SSLContext, timings: Timings) -> None:
    """Have ``context``'s TLS handshakes record their start, end and version in ``timings``.

    ``SSLContext.sslobject_class`` is the documented way to customise what
    ``wrap_bio`` (which ``trio.SSLStream`` uses) returns, and
    ``SSLContext.sslsocket_class`` what ``wrap_socket`` (TLS on a connection's
    own socket) returns. Only the first connection of the run is recorded:
    the one that made the first request.
    """

    def observed(handshake: Callable[[], None], version: Callable[[], str | None]) -> None:
        if timings.tls_started is None:
            timings.tls_started = time.perf_counter()
        handshake()  # raises SSLWantReadError until the handshake is done
        if timings.tls_done is None:
            timings.tls_done = time.perf_counter()
            timings.tls_version = version()

    class ObservedSSLObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            observed(super().do_handshake, self.version)

    class ObservedSSLSocket(ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            observed(functools.partial(super().do_handshake, block), self.version)

    context.sslobject_class = ObservedSSLObject
    context.sslsocket_class = ObservedSSLSocket


def build_ssl_context(options: Options) -> ssl.SSLContext:
    """The TLS context of ``-k``, ``--cacert``, ``--cert`` and ``--key``.

    The CLI builds it (rather than passing ``verify=``/``cert=`` to the client)
    so that a bad CA bundle and a bad client certificate get their own exit
    statuses, and so that ``-v`` can observe the handshake.
    """
    verify: bool | str = not options.insecure
    if options.cacert is not None and not options.insecure:
        verify = options.cacert
    try:
        context = create_ssl_context(verify)
    except (OSError, ssl.SSLError) as exc:
        raise CLIError(
            EXIT_CA_BUNDLE, f"can't load the CA bundle {options.cacert!r}: {exc}"
        ) from exc
    if options.cert is not None:
        cert: CertTypes = options.cert if options.key is None else (options.cert, options.key)
        try:
            create_ssl_context(context, cert)
        except (OSError, ssl.SSLError) as exc:
            raise CLIError(
                EXIT_CLIENT_CERT, f"can't load the client certificate {options.cert!r}: {exc}"
            ) from exc
    return context


# ---------------------------------------------------------------------------
# Sending the request and writing the response


@dataclass
class Terminal:
    """The standard streams (binary stdin and stdout, text stderr) and the environment."""

    stdin: BinaryIO
    stdout: BinaryIO
    stderr: TextIO
    environ: Mapping[str, str]

    @classmethod
    def from_sys(cls) -> Terminal:
        # A closed stdin (``<&-``) leaves sys.stdin None: read it as empty.
        stdin = sys.stdin.buffer if sys.stdin is not None else io.BytesIO()
        return cls(stdin, sys.stdout.buffer, sys.stderr, os.environ)


def _auth(options: Options) -> Auth | None:
    if options.user is None:
        return None
    username, password = options.user
    return DigestAuth(username, password) if options.digest else BasicAuth(username, password)


def _status_line(response: Response) -> str:
    """``HTTP/1.1 404 Not Found``; HTTP/2 carries no reason phrase (RFC 9113 8.3.2)."""
    status = f"{response.http_version} {int(response.status_code)}"
    if response.http_version == "HTTP/2" or not response.reason_phrase:
        return status
    return f"{status} {response.reason_phrase}"


class Verbose:
    """``-v`` on stderr: each exchange's heads as it happens, then the timings.

    The heads come from the client's event hooks, so an auth retry or a
    redirect shows the fields really sent each time (an auth flow edits the
    request it sends again), and a failure still shows what came before it.
    """

    def __init__(self, terminal: Terminal, timings: Timings) -> None:
        self._stream = terminal.stderr
        self._style = Style(wants_colour(terminal.stderr, terminal.environ))
        self._timings = timings
        self._sent: tuple[str, list[tuple[bytes, bytes]]] | None = None
        self._exchanges = 0

    def hooks(self) -> dict[str, list[Callable[[Any], None]]]:
        """The ``event_hooks=`` of the client."""
        return {"request": [self.request_sent], "response": [self.response_received]}

    def request_sent(self, request: Request) -> None:
        # Its protocol is known only once the response is: keep the head until then.
        self._sent = (f"{request.method} {request.url.full_path}", list(request.headers.raw))

    def response_received(self, response: Response) -> None:
        assert self._sent is not None, "the client calls the request hook first"
        start, headers = self._sent
        style = self._style
        text = []
        if not self._exchanges:
            tls = f", {self._timings.tls_version}" if self._timings.tls_version else ""
            text.append(f"{self._info} {response.http_version}{tls}\n")
        self._exchanges += 1
        # Our HTTP/1.x requests always say HTTP/1.1, whatever version answers.
        sent_version = "HTTP/2" if response.http_version == "HTTP/2" else "HTTP/1.1"
        request_line = f"{start} {sent_version}"
        text.append(format_head(">", request_line, headers, style, Style.CYAN))
        colour = style.status(int(response.status_code))
        text.append(format_head("<", _status_line(response), response.headers.raw, style, colour))
        self._write("".join(text))

    def finished(self) -> None:
        """Print the timings, once the body is written."""
        self._write(f"{self._info} {self._timings.summary()}\n")

    @property
    def _info(self) -> str:
        return self._style("*", Style.DIM)

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()


class BodyWriter:
    """Where the body goes: stdout, or the ``-o`` file (opened once the response arrived)."""

    def __init__(self, options: Options, terminal: Terminal) -> None:
        self._path = None if options.output in (None, "-") else options.output
        self._terminal = terminal
        self._file: BinaryIO | None = None
        # As curl: binary bytes on a terminal can garble it, unless "-o -" asked for them.
        self._guard_terminal = options.output is None and terminal.stdout.isatty()

    @property
    def to_stdout(self) -> bool:
        return self._path is None

    async def write_all(self, response: Response) -> None:
        """Stream the body out; pretty-print it first if it is JSON bound for a terminal."""
        sink = self._open()
        progress = None
        if not self.to_stdout and self._terminal.stderr.isatty():
            progress = ProgressBar(self._terminal.stderr, _known_length(response))
        json_type = is_json_type(response.headers.get("content-type"))
        if self.to_stdout and self._terminal.stdout.isatty() and json_type:
            body = await response.aread()
            self._write(sink, pretty_json(body) or body)
            return
        try:
            async for chunk in response.aiter_bytes():
                if self._guard_terminal and b"\0" in chunk:
                    raise CLIError(
                        EXIT_WRITE,
                        "binary output can mess up your terminal: "
                        "use -o FILE to save it, or -o - to print it anyway",
                    )
                self._write(sink, chunk)
                if progress is not None:
                    progress.advance(len(chunk))
        finally:
            if progress is not None:
                progress.finish()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def _open(self) -> BinaryIO:
        if self._path is None:
            return self._terminal.stdout
        try:
            self._file = open(self._path, "wb")  # noqa: SIM115 (closed by close())
        except OSError as exc:
            raise CLIError(EXIT_WRITE, f"can't write {self._path!r}: {exc.strerror}") from exc
        return self._file

    def _write(self, sink: BinaryIO, data: bytes) -> None:
        try:
            sink.write(data)
            # Flushed per chunk, so a slow stream (events, logs) shows as it arrives.
            sink.flush()
        except OSError as exc:
            where = "stdout" if self._path is None else repr(self._path)
            raise CLIError(EXIT_WRITE, f"can't write {where}: {exc.strerror}") from exc


def _known_length(response: Response) -> int | None:
    """The body's length for the progress bar: Content-Length, unless it counts encoded bytes."""
    length = response.headers.get("content-length")
    if length is None or not length.isdigit() or "content-encoding" in response.headers:
        return None
    return int(length)


async def send(options: Options, terminal: Terminal) -> int:
    """Send the request the options describe and write the response; return the exit status.

    The CLI runs :class:`AsyncClient` under its own ``trio.run`` rather than the
    blocking ``Client``: one request needs no portal thread, and errors and
    Ctrl-C then reach :func:`main` straight from the one run, unwrapped.
    """
    timings = Timings()
    context = build_ssl_context(options)
    verbose = None
    if options.verbose:
        observe_tls(context, timings)
        verbose = Verbose(terminal, timings)
    writer = BodyWriter(options, terminal)
    client = AsyncClient(
        verify=context,
        http1=not options.http2_prior_knowledge,
        http2=options.http2 or options.http2_prior_knowledge,
        proxies=options.proxy_url,
        timeout=options.timeout,
        event_hooks=verbose.hooks() if verbose is not None else None,
    )
    with request_body(options, terminal.stdin) as body:
        headers = merge_headers(
            options.headers, [*body.headers, ("User-Agent", f"{PROG}/{__version__}")]
        )
        # Counted from here: loading CA bundles and files above is not the exchange's time.
        timings.started = time.perf_counter()
        async with (
            client,
            client.stream(
                options.request_method,
                options.request_url,
                headers=headers,
                content=body.content,
                files=body.parts or None,
                auth=_auth(options),
                follow_redirects=options.location,
            ) as response,
        ):
            timings.first_byte = time.perf_counter()
            if options.fail and not 200 <= response.status_code < 300:
                raise CLIError(EXIT_HTTP_STATUS, f"{_status_line(response)} from {response.url}")
            try:
                await writer.write_all(response)
            finally:
                writer.close()
    if verbose is not None:
        timings.finished = time.perf_counter()
        verbose.finished()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); return the exit status.

    ``--help`` and ``--version`` print and raise ``SystemExit(0)``, as argparse does.
    """
    terminal = Terminal.from_sys()
    try:
        options = parse_args(sys.argv[1:] if argv is None else argv)
        return trio.run(send, options, terminal)
    except (Exception, KeyboardInterrupt, BaseExceptionGroup) as exc:
        status, message = exit_status(exc)
        if message is not None:
            report(status, message, terminal.stderr)
        if status == EXIT_WRITE:
            # stdout may be a closed pipe: don't let the interpreter's final flush fail too.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return status
