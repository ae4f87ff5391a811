"""The command line's flags: the argparse parser and the options it fills.

Flags have curl's names, meanings and defaults, and short flags bundle as in
curl (``-fsSL``, ``-sSLo FILE``). A bad argument is a usage error (status 2)
reported in one line in curl's words; checks that span several flags run in
:func:`parse_args`, before any request is built.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from .._version import __version__
from ._exits import PROG, CLIError, Exit, exit_table

DataKind = str
"""How a body argument is read: ``data`` (-d), ``binary``, ``raw`` or ``urlencode``."""


@dataclass
class Resolve:
    """One ``--resolve HOST:PORT:ADDR[,ADDR...]``: connect to ADDR when asked for HOST:PORT."""

    host: str
    port: int
    addresses: list[str]


@dataclass
class Options:
    """The parsed command line; argparse fills the fields of its namespace in place."""

    url: str | None = None
    url_flag: str | None = None
    method: str | None = None
    # None as a value: "-H 'Name:'" removes that field rather than sending it.
    headers: list[tuple[str, str | None]] = field(default_factory=list)
    data: list[tuple[DataKind, str]] = field(default_factory=list)
    json: list[str] = field(default_factory=list)
    form: list[tuple[str, str]] = field(default_factory=list)
    get: bool = False
    upload_file: str | None = None
    user: tuple[str, str] | None = None
    digest: bool = False
    user_agent: str | None = None
    referer: str | None = None
    cookie: list[str] = field(default_factory=list)
    cookie_jar: str | None = None
    location: bool = False
    max_redirs: int = 50
    http1_1: bool = False
    http2: bool = False
    http2_prior_knowledge: bool = False
    http3: bool = False
    http3_only: bool = False
    compressed: bool = False
    resolve: list[Resolve] = field(default_factory=list)
    insecure: bool = False
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    proxy: str | None = None
    max_time: float | None = None
    connect_timeout: float | None = None
    timeout: float | None = None
    retry: int = 0
    retry_delay: float | None = None
    limit_rate: int | None = None
    output: str | None = None
    remote_name: bool = False
    dump_header: str | None = None
    include: bool = False
    head: bool = False
    write_out: str | None = None
    silent: bool = False
    show_error: bool = False
    verbose: bool = False
    fail: bool = False

    @property
    def target(self) -> str:
        """The URL as given (``--url`` or the argument)."""
        url = self.url if self.url is not None else self.url_flag
        assert url is not None, "parse_args checks that a URL was given"
        return url

    @property
    def request_method(self) -> str:
        """``-X``; else HEAD with ``-I``, PUT with ``-T``, POST with a body; else GET."""
        if self.method is not None:
            return self.method
        if self.head:
            return "HEAD"
        if self.upload_file is not None:
            return "PUT"
        if (self.data and not self.get) or self.json or self.form:
            return "POST"
        return "GET"

    @property
    def request_url(self) -> str:
        """The URL, with ``http://`` in front when it names no scheme (as curl does)."""
        return with_scheme(self.target)

    @property
    def proxy_url(self) -> str | None:
        """``-x``, with ``http://`` in front when it names no scheme (as curl does)."""
        return None if self.proxy is None else with_scheme(self.proxy)

    @property
    def show_errors(self) -> bool:
        """Whether an error line is printed: always, unless ``-s`` without ``-S``."""
        return not self.silent or self.show_error


def with_scheme(url: str) -> str:
    """``url``, with ``http://`` in front when it names no scheme."""
    return url if "://" in url else f"http://{url}"


_TRY_HELP = f"try '{PROG} --help' for more information"


def usage_error(message: str) -> CLIError:
    """A usage error (status 2) in curl's words, with curl's hint."""
    return CLIError(Exit.USAGE, f"{message}; {_TRY_HELP}")


def _as_typed(names: str, argv: Sequence[str]) -> str:
    """Which of an option's names (``-o/--output``) the command line used, as curl names it."""
    spellings = names.split("/")
    for spelling in spellings:
        long = spelling.startswith("--")
        for token in argv:
            if token == spelling or token.startswith(spelling + ("=" if long else "")):
                return spelling
    return spellings[0]


def _curl_words(message: str, argv: Sequence[str]) -> str:
    """argparse's complaint as curl words it (``option -o: requires parameter``)."""
    if found := re.match(r"unrecognized arguments: (\S+)", message):
        token = found[1]
        if token not in argv and re.fullmatch(r"-\w+", token):
            # Python 3.13 names only a bundle's unknown letters: curl names the bundle.
            letters = token[1:]
            bundles = (t for t in argv if re.fullmatch(r"-\w+", t) and t.endswith(letters))
            token = next(bundles, token)
        return f"option {token}: is unknown"
    if found := re.match(r"argument ([^:]+): ignored explicit argument '(.*)'$", message):
        # A bundle with a letter we don't know: curl names the whole bundle.
        rest = found[2]
        bundle = next((t for t in argv if t.startswith("-") and t.endswith(rest)), "-" + rest)
        return f"option {bundle}: is unknown"
    if found := re.match(r"argument ([^:]+): expected one argument", message):
        return f"option {_as_typed(found[1], argv)}: requires parameter"
    if found := re.match(r"argument ([^:]+): (.*)", message):
        return f"option {_as_typed(found[1], argv)}: {found[2]}"
    return message


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line in curl's words, status 2."""

    argv: Sequence[str] = ()

    def error(self, message: str) -> NoReturn:
        # argparse would print the usage block too: the contract is one line.
        raise usage_error(_curl_words(message, self.argv))


def _number(text: str) -> float:
    """A number of seconds, >= 0 (curl takes decimals)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a proper numerical parameter") from None
    if not value >= 0:  # also rejects nan
        raise argparse.ArgumentTypeError("expected a proper numerical parameter")
    return value


def _positive(text: str) -> float:
    """``--timeout``'s argument: a number of seconds, > 0."""
    value = _number(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a proper numerical parameter")
    return value


def _integer(text: str) -> int:
    """A whole number, -1 or more (``--max-redirs -1`` is curl's "no limit")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a proper numerical parameter") from None
    if value < -1:
        raise argparse.ArgumentTypeError("expected a proper numerical parameter")
    return value


_RATE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _rate(text: str) -> int:
    """``--limit-rate``'s argument: bytes per second, with curl's K, M or G suffix."""
    found = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmMgG]?)", text)
    if found is None or float(found[1]) == 0:
        raise argparse.ArgumentTypeError("expected a proper numerical parameter")
    return int(float(found[1]) * _RATE_UNITS[found[2].lower()])


def _header(line: str) -> tuple[str, str | None]:
    """``-H``'s argument: ``Name: value``; ``Name:`` removes it, ``Name;`` sends it empty."""
    name, colon, value = line.partition(":")
    if not colon and line.endswith(";"):
        name, value = line[:-1], ""
    elif not colon:
        raise argparse.ArgumentTypeError(f"expected 'Name: value', not {line!r}")
    elif not value.strip():
        return name.strip(), None
    if not name.strip() or name != name.strip():
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
        raise argparse.ArgumentTypeError("is badly used here")
    return name, value


def _resolve(text: str) -> Resolve:
    """``--resolve HOST:PORT:ADDR[,ADDR]``; an IPv6 ADDR may be in brackets."""
    found = re.fullmatch(r"([^:]+):(\d+):(.+)", text)
    if found is None:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT:ADDRESS, not {text!r}")
    addresses = [address.strip().strip("[]") for address in found[3].split(",")]
    return Resolve(found[1].lower(), int(found[2]), addresses)


class _AppendData(argparse.Action):
    """Adds ``(kind, argument)`` to ``data``: the -d flags keep their command-line order."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        namespace.data = [*namespace.data, (self.const, values)]


_EXAMPLES = f"""\
examples:
  {PROG} https://example.org
  {PROG} -fsSL -o page.html https://example.org
  {PROG} -sS -w '%{{http_code}}\\n' -o /dev/null https://example.org
  {PROG} -I https://example.org
  {PROG} -L -O https://example.org/big.iso
  {PROG} -d 'name=alice&team=blue' https://httpbin.org/post
  {PROG} --data-urlencode 'q=a b' -G https://example.org/search
  {PROG} --json '{{"name": "alice"}}' https://httpbin.org/post
  {PROG} -F 'avatar=@me.png;type=image/png' -F name=alice https://httpbin.org/post
  {PROG} -T big.tar -u alice:secret https://example.org/uploads/
  {PROG} -b cookies.txt -c cookies.txt https://example.org/login
  {PROG} --resolve example.org:443:127.0.0.1 https://example.org
  {PROG} --retry 3 -m 30 --compressed https://example.org/slow
  {PROG} -x socks5h://127.0.0.1:1080 https://example.org

No overall time limit applies unless -m is given, and no per-phase one unless
--connect-timeout or --timeout is, as in curl. Errors are one line on stderr,
"{PROG}: (STATUS) what went wrong"; -s hides it, -sS shows it again.

"""


def _help_epilog() -> str:
    """The examples and notes under the flags, then the table of exit statuses."""
    return _EXAMPLES + exit_table()


def build_parser() -> _Parser:
    """The argument parser; its ``--help`` is the command line's reference.

    The groups are the categories of ``curl --help all`` (curl's manual).
    """
    parser = _Parser(
        prog=PROG,
        usage=f"{PROG} [options...] <url>",
        description="Send one HTTP request and write the response body to stdout.",
        epilog=_help_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # curl takes whole flag names only
        add_help=False,
    )
    parser.add_argument("url", metavar="URL", nargs="?", help="the URL (http:// if no scheme)")

    http = parser.add_argument_group("http").add_argument
    http("--url", dest="url_flag", metavar="URL", help="the URL, as a flag")
    http("-X", "--request", dest="method", metavar="METHOD", help="the request method")
    http("-H", "--header", dest="headers", action="append", type=_header,
         metavar="'NAME: VALUE'",
         help="add a header (repeatable); 'NAME:' removes it, 'NAME;' sends it empty")  # fmt: skip
    http("-A", "--user-agent", metavar="NAME", help="the User-Agent to send")
    http("-e", "--referer", metavar="URL", help="the Referer to send")
    http("-b", "--cookie", action="append", metavar="DATA|FILE",
         help="send cookies: 'NAME=VALUE; ...', or read a cookie file")  # fmt: skip
    http(
        "-c", "--cookie-jar", metavar="FILE", help="write the cookies afterwards (Netscape format)"
    )
    http("-L", "--location", action="store_true", help="follow redirects")
    http("--max-redirs", type=_integer, metavar="NUM",
         help="follow at most NUM redirects (default 50, -1 for no limit)")  # fmt: skip
    http("--compressed", action="store_true",
         help="ask for a compressed response and decompress it")  # fmt: skip
    http("--http1.1", dest="http1_1", action="store_true", help="use HTTP/1.1 only")
    http("--http2", action="store_true", help="HTTP/2 by ALPN on https (the default)")
    http("--http2-prior-knowledge", action="store_true",
         help="speak HTTP/2 without negotiating (h2c on http://)")  # fmt: skip
    http("--http3", action="store_true",
         help="try HTTP/3 (QUIC) first on https, else TCP (needs the http3 extra)")  # fmt: skip
    http("--http3-only", action="store_true",
         help="HTTP/3 (QUIC) on https and nothing else (needs the http3 extra)")  # fmt: skip
    http("-f", "--fail", action="store_true", help="exit 22, writing no body, on a status >= 400")

    post = parser.add_argument_group("post").add_argument
    post("-d", "--data", "--data-ascii", dest="data", action=_AppendData, const="data",
         metavar="DATA", help="POST DATA (@FILE, @- stdin: CR and LF dropped)")  # fmt: skip
    post("--data-binary", dest="data", action=_AppendData, const="binary", metavar="DATA",
         help="POST DATA; @FILE sends the file's bytes as they are")  # fmt: skip
    post("--data-raw", dest="data", action=_AppendData, const="raw", metavar="DATA",
         help="POST DATA, '@' is not special")  # fmt: skip
    post("--data-urlencode", dest="data", action=_AppendData, const="urlencode",
         metavar="[NAME]=TEXT|[NAME]@FILE", help="POST TEXT (or FILE) URL-encoded")  # fmt: skip
    post("--json", action="append", metavar="JSON",
         help="POST JSON (@FILE, @- stdin), with JSON Content-Type and Accept")  # fmt: skip
    post("-F", "--form", dest="form", action="append", type=_form_field,
         metavar="NAME=VALUE|NAME=@FILE", help="a multipart/form-data field or file")  # fmt: skip
    post("-G", "--get", action="store_true", help="put the -d data in the URL's query, GET")

    upload = parser.add_argument_group("upload").add_argument
    upload("-T", "--upload-file", metavar="FILE", help="PUT FILE, streamed ('-' for stdin)")

    auth = parser.add_argument_group("auth").add_argument
    auth("-u", "--user", type=_credentials, metavar="USER:PASSWORD",
         help="credentials, sent with Basic authentication")  # fmt: skip
    auth("--digest", action="store_true", help="use Digest authentication for -u")

    connection = parser.add_argument_group("connection").add_argument
    connection("-m", "--max-time", type=_number, metavar="SECONDS",
               help="the whole transfer's time limit (none by default)")  # fmt: skip
    connection("--connect-timeout", type=_number, metavar="SECONDS",
               help="the time limit to connect, TLS included (none by default)")  # fmt: skip
    connection("--timeout", type=_positive, metavar="SECONDS",
               help="this tool's limit for each phase: connect, read, write, pool")  # fmt: skip
    connection("--retry", type=_integer, metavar="NUM",
               help="retry NUM times on a timeout, HTTP 408, 429, 500, 502-504")  # fmt: skip
    connection("--retry-delay", type=_number, metavar="SECONDS",
               help="wait SECONDS between retries (default: 1 s, doubling)")  # fmt: skip
    connection("--limit-rate", type=_rate, metavar="SPEED",
               help="at most SPEED bytes per second (K, M, G suffixes)")  # fmt: skip

    dns = parser.add_argument_group("dns").add_argument
    dns("--resolve", action="append", type=_resolve, metavar="HOST:PORT:ADDR",
        help="connect to ADDR for HOST:PORT (repeatable)")  # fmt: skip

    tls = parser.add_argument_group("tls").add_argument
    tls("-k", "--insecure", action="store_true", help="do not verify the server's certificate")
    tls("--cacert", metavar="FILE", help="verify the server against this CA bundle (PEM)")
    tls("--cert", metavar="FILE", help="client certificate (PEM, with its key unless --key)")
    tls("--key", metavar="FILE", help="the client certificate's private key (PEM)")

    proxy = parser.add_argument_group("proxy").add_argument
    proxy("-x", "--proxy", metavar="URL",
          help="http://, https://, socks5:// or socks5h:// proxy (user:pass@ allowed)")  # fmt: skip

    output = parser.add_argument_group("output").add_argument
    output("-o", "--output", metavar="FILE", help="write the body to FILE ('-' for stdout)")
    output("-O", "--remote-name", action="store_true",
           help="write the body to a file named as the URL's last segment")  # fmt: skip
    output("-D", "--dump-header", metavar="FILE", help="write the response heads to FILE")
    output("-i", "--include", action="store_true", help="write the response heads before the body")
    output("-I", "--head", action="store_true", help="send HEAD and write the response head")
    output("-w", "--write-out", metavar="FORMAT",
           help="write FORMAT after the transfer: %%{http_code}, %%{time_total}, ... "
           "(@FILE reads it)")  # fmt: skip
    output("-s", "--silent", action="store_true", help="no progress bar and no error line")
    output("-S", "--show-error", action="store_true", help="with -s, still print the error line")

    verbose = parser.add_argument_group("verbose").add_argument
    verbose("-v", "--verbose", action="store_true",
            help="heads, protocol, TLS and timings on stderr")  # fmt: skip

    curl = parser.add_argument_group("curl").add_argument
    curl("-h", "--help", action="help", help="show this help and exit")
    curl("-V", "--version", action="version", version=f"{PROG} {__version__}")
    return parser


def _method_clash(options: Options) -> str | None:
    """curl's complaint when two flags ask for different methods, or ``None``."""
    asked = [
        (bool(options.data) and not options.get, "POST (-d, --data)"),
        (bool(options.json), "POST (--json)"),
        (bool(options.form), "multipart formpost (-F, --form)"),
        (options.head, "HEAD (-I, --head)"),
        (options.upload_file is not None, "PUT (-T, --upload-file)"),
    ]
    chosen = [name for wanted, name in asked if wanted]
    if len(chosen) < 2:
        return None
    return (
        "You can only select one HTTP request method! "
        f"You asked for both {chosen[0]} and {chosen[1]}"
    )


def parse_args(argv: Sequence[str]) -> Options:
    """Parse ``argv`` (without the program name); raise :class:`CLIError` (status 2) if bad."""
    parser = build_parser()
    parser.argv = argv
    options = parser.parse_args(argv, namespace=Options())
    if options.url is None and options.url_flag is None:
        raise usage_error("no URL specified")
    clash = _method_clash(options)
    if clash is not None:
        raise usage_error(clash)
    versions = (
        options.http1_1,
        options.http2,
        options.http2_prior_knowledge,
        options.http3,
        options.http3_only,
    )
    if sum(versions) > 1:
        raise usage_error(
            "use only one of --http1.1, --http2, --http2-prior-knowledge, --http3 and --http3-only"
        )
    if options.digest and options.user is None:
        raise usage_error("--digest needs -u USER:PASSWORD")
    if options.key is not None and options.cert is None:
        raise usage_error("--key needs --cert")
    if options.output is not None and options.remote_name:
        raise usage_error("use only one of -o and -O")
    return options
