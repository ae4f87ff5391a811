"""The command line's flags: the argparse parser and the options it fills.

Flags follow curl's names and meanings. A bad argument is a usage error
(status 2) reported in one line, never argparse's usage block; checks that
span several flags run in :func:`parse_args`, before any request is built.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from .._client._config import DEFAULT_TIMEOUT_SECONDS
from .._version import __version__
from ._exits import PROG, CLIError, Exit, exit_table

_HELP_NOTES = """Examples:
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

"""


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
        raise CLIError(Exit.USAGE, f"{message} (see {PROG} --help)")


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
    """The examples and notes under the flags, then the table of exit statuses."""
    return _HELP_NOTES + exit_table()


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
        raise CLIError(Exit.USAGE, "use only one of -d, --json and -F")
    if options.http2_prior_knowledge and options.http2:
        raise CLIError(Exit.USAGE, "use only one of --http2 and --http2-prior-knowledge")
    if options.digest and options.user is None:
        raise CLIError(Exit.USAGE, "--digest needs -u USER:PASSWORD")
    if options.key is not None and options.cert is None:
        raise CLIError(Exit.USAGE, "--key needs --cert")
    return options
