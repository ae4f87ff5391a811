"""Exit statuses, in one table, and how an error becomes one line and one status.

The numbers and the words are curl's (``man curl``, "EXIT CODES"), so scripts
and people used to curl read ours the same way. Every failure reaches
:func:`exit_status`, which picks the status from the exception (looking
through chains and groups) and words the one line from what the transfer
knows (host, port, time, bytes); no traceback or Python name is ever shown.
"""

from __future__ import annotations

import ast
import enum
import os
import re
import socket
import ssl
import sys
import textwrap
from collections.abc import Iterator
from typing import Protocol, TextIO

from .._exceptions import (
    ConnectError,
    ConnectTimeout,
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

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

PROG = "trio-httpcore"


class Exit(enum.IntEnum):
    """Each exit status this command uses, with what it means here (shown by ``--help``)."""

    meaning: str

    def __new__(cls, status: int, meaning: str) -> Exit:
        member = int.__new__(cls, status)
        member._value_ = status
        member.meaning = meaning
        return member

    OK = 0, "a response arrived (any status, unless --fail)"
    ERROR = 1, "unsupported protocol (URL scheme), a reply that is not HTTP, or another error"
    USAGE = 2, "bad usage: unknown flag, missing or malformed argument"
    NOT_BUILT_IN = 4, "a feature needs an extra that is not installed (socks)"
    BAD_URL = 3, "malformed URL"
    RESOLVE = 6, "could not resolve the host name"
    CONNECT = 7, "could not connect (refused, unreachable)"
    PROTOCOL = 8, "the server broke the HTTP protocol after its status line (bad header)"
    PARTIAL = 18, "the body ended before its length (Content-Length, or a chunk cut short)"
    HTTP_STATUS = 22, "--fail and the response status was 400 or more"
    WRITE = (
        23,
        (
            "could not write the body (-o FILE, stdout closed, or binary bytes bound for "
            "a terminal: curl refuses them too; -o - prints them anyway)"
        ),
    )
    READ_FILE = 26, "could not read a local file (-d @FILE, -F name=@FILE, -T FILE, -b FILE)"
    TIMEOUT = 28, "timeout (-m, --connect-timeout, or --timeout's per-phase limit)"
    TLS = 35, "TLS handshake failed"
    REDIRECTS = 47, "too many redirects (-L)"
    EMPTY_REPLY = 52, "the server closed the connection without a byte of reply"
    SEND = 55, "sending the request failed"
    RECEIVE = (
        56,
        "receiving the response failed (connection reset, a bad chunk size, proxy refused CONNECT)",
    )
    CLIENT_CERT = 58, "the client certificate (--cert, --key) could not be loaded"
    CERT_VERIFY = 60, "the server's certificate could not be verified (see -k, --cacert)"
    DECODING = 61, "--compressed and the body could not be decoded (Content-Encoding)"
    CA_BUNDLE = 77, "the CA bundle (--cacert) could not be loaded"
    PROXY = 97, "the proxy failed (a SOCKS refusal, no answer to CONNECT)"
    INTERRUPTED = 130, "interrupted (Ctrl-C)"


def exit_table() -> str:
    """The table of exit statuses for ``--help``, wrapped under each number."""
    lines = ["Exit status (curl's numbers):"]
    for status in Exit:
        lines.extend(
            textwrap.wrap(
                status.meaning,
                width=78,
                initial_indent=f"{status.value:4d}  ",
                subsequent_indent=" " * 6,
            )
        )
    return "\n".join(lines) + "\n"


class CLIError(Exception):
    """A failure of the command line itself, with the exit status it maps to."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Transfer(Protocol):
    """What an error line needs to know about the transfer it ended."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def elapsed_ms(self) -> int: ...
    @property
    def received(self) -> int: ...
    @property
    def expected(self) -> int | None: ...
    @property
    def max_redirs(self) -> int: ...
    @property
    def in_tls_handshake(self) -> bool: ...
    @property
    def head_arrived(self) -> bool: ...


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


def _system_reason(exc: BaseException) -> str | None:
    """The operating system's words for the first errno behind ``exc`` (``Connection refused``)."""
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno)
    return None


def _tls_reason(error: ssl.SSLError) -> str:
    """OpenSSL's reason in its own words: ``WRONG_VERSION_NUMBER`` -> ``wrong version number``."""
    reason = getattr(error, "reason", None) or error.strerror or "handshake failed"
    return str(reason).lower().replace("_", " ")


_HOSTNAME_MISMATCH = 62  # X509_V_ERR_HOSTNAME_MISMATCH
_CERT_HINT = "use --cacert FILE to trust its issuer, or -k to skip the check"


def _connect_failure(exc: ConnectError, transfer: Transfer) -> tuple[int, str]:
    """Which kind of connect failure ``exc`` was, from the errors behind it, and curl's line."""
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror):
            return Exit.RESOLVE, f"Could not resolve host: {transfer.host}"
        if isinstance(cause, ssl.SSLCertVerificationError):
            if cause.verify_code == _HOSTNAME_MISMATCH:
                problem = (
                    "SSL: no alternative certificate subject name matches "
                    f"target host name '{transfer.host}'"
                )
            else:
                problem = f"SSL certificate problem: {cause.verify_message}"
            return Exit.CERT_VERIFY, f"{problem}; {_CERT_HINT}"
        if isinstance(cause, ssl.SSLError):
            return Exit.TLS, f"SSL connect error: {_tls_reason(cause)}"
    reason = _system_reason(exc) or "Couldn't connect to server"
    return Exit.CONNECT, (
        f"Failed to connect to {transfer.host} port {transfer.port} "
        f"after {transfer.elapsed_ms} ms: {reason}"
    )


def _timeout(exc: BaseException, transfer: Transfer) -> str:
    """curl's line for a timeout: a connect phase, else the bytes received so far."""
    if isinstance(exc, ConnectTimeout):
        if transfer.in_tls_handshake:
            return "SSL connection timeout"
        return f"Connection timed out after {transfer.elapsed_ms} milliseconds"
    expected = "" if transfer.expected is None else f" out of {transfer.expected}"
    return (
        f"Operation timed out after {transfer.elapsed_ms} milliseconds "
        f"with {transfer.received}{expected} bytes received"
    )


# A Python type name as the library's messages quote a dependency's error ("...: Name: text",
# or "...: Name" alone): "RemoteProtocolError", "ssl.SSLError", "gaierror".
_TYPE_NAME = re.compile(
    r"(?:^|(?<=: ))(?:[A-Za-z_]\w*\.)*(?:[A-Z]\w*(?:Error|Exception|Warning)|[a-z]+error)"
    r"(?:: |$)"
)
# Bytes as Python shows them: b'...' or bytearray(b'...').
_BYTES = re.compile(r"""(?:bytearray\()?\bb('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\)?""")


def _readable_bytes(found: re.Match[str]) -> str:
    """A bytes literal as the text it holds, quoted, its line ending dropped: ``'no colon'``."""
    text = ast.literal_eval("b" + found[1]).decode("ascii", "backslashreplace")
    return repr(text.rstrip("\r\n"))


def _detail(exc: BaseException) -> str:
    """The library's message for ``exc`` on one line, in words: the dependency's exception
    type it quotes is dropped and bytes are shown as text (no Python name reaches the user)."""
    text = " ".join(str(exc).split())
    text = _BYTES.sub(_readable_bytes, text)
    text = _TYPE_NAME.sub("", text)
    return text.strip().removesuffix(":")


# How h11 words a reply whose first line is no HTTP/1.x status line (or no line at all).
_STATUS_LINE_PROBLEMS = ("illegal status line", "illegal request line", "no response line")


# How the connections word a server closing before its response was complete.
_CLOSED_EARLY = "closed the connection before the response was complete"
# How h11 words a chunk-size line that is no hexadecimal number (RFC 9112 section 7.1).
_BAD_CHUNK = "illegal chunk header"


def _caused_by(exc: BaseException, words: str) -> bool:
    """Whether ``words`` are in the message of ``exc`` or of an error behind it."""
    return any(words in str(cause) for cause in _causes(exc))


def _cut_short(transfer: Transfer) -> tuple[int, str]:
    """curl's status and line for a reply that ended early: nothing (52), or a short body (18)."""
    if not transfer.head_arrived:
        return Exit.EMPTY_REPLY, "Empty reply from server"
    if transfer.expected is None:
        return Exit.PARTIAL, "transfer closed with outstanding read data remaining"
    remaining = transfer.expected - transfer.received
    return Exit.PARTIAL, f"transfer closed with {remaining} bytes remaining to read"


def _no_status_line(exc: ProtocolError) -> bool:
    """Whether the reply had no valid status line: curl's exit 1, not 8.

    curl takes a reply not starting with ``HTTP/`` for HTTP/0.9, which it
    refuses with status 1, as it does a status line with a bad version or code;
    a broken header field after a good status line is its 8.
    """
    return any(str(cause).startswith(_STATUS_LINE_PROBLEMS) for cause in _causes(exc))


def _library_failure(exc: HTTPError, transfer: Transfer) -> tuple[int, str]:
    """The status and curl's line for one of the library's errors."""
    if isinstance(exc, ConnectError):
        return _connect_failure(exc, transfer)
    if isinstance(exc, TimeoutException):
        return Exit.TIMEOUT, _timeout(exc, transfer)
    if isinstance(exc, TooManyRedirects):
        return Exit.REDIRECTS, f"Maximum ({transfer.max_redirs}) redirects followed"
    if isinstance(exc, InvalidURL):
        return Exit.BAD_URL, f"URL using bad/illegal format or missing URL ({_detail(exc)})"
    if isinstance(exc, UnsupportedProtocol):
        return Exit.ERROR, _detail(exc)
    if isinstance(exc, ProxyError):
        if exc.status_code is not None:
            # curl counts an HTTP proxy's refusal as a receive error, not a proxy one.
            return Exit.RECEIVE, f"CONNECT tunnel failed, response {exc.status_code}"
        return Exit.PROXY, _detail(exc)
    if isinstance(exc, DecodingError):
        return Exit.DECODING, f"Error while processing content unencoding: {_detail(exc)}"
    if isinstance(exc, ProtocolError):
        if _no_status_line(exc):
            return Exit.ERROR, (
                f"No valid HTTP status line from {transfer.host} port {transfer.port} "
                "(HTTP/0.9 is not allowed)"
            )
        if _caused_by(exc, _CLOSED_EARLY):
            return _cut_short(transfer)
        if _caused_by(exc, _BAD_CHUNK):
            return Exit.RECEIVE, "Illegal or missing hexadecimal sequence in chunked-encoding"
        return Exit.PROTOCOL, f"Weird server reply: {_detail(exc)}"
    reason = _system_reason(exc)
    if isinstance(exc, WriteError):
        return Exit.SEND, f"Send failure: {reason}" if reason else "Failed sending data to the peer"
    if isinstance(exc, NetworkError):
        return Exit.RECEIVE, (
            f"Recv failure: {reason}" if reason else "Failure when receiving data from the peer"
        )
    return Exit.ERROR, _detail(exc)


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside ``exc``, exception groups flattened."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def exit_status(exc: BaseException, transfer: Transfer) -> tuple[int, str | None]:
    """The exit status for ``exc`` and the one line to print (``None``: print nothing).

    Exception groups (from nurseries) are looked through: Ctrl-C anywhere in
    them wins, else the first of our errors.
    """
    leaves = _leaves(exc)
    if any(isinstance(leaf, KeyboardInterrupt) for leaf in leaves):
        return Exit.INTERRUPTED, None
    known = [leaf for leaf in leaves if isinstance(leaf, (CLIError, HTTPError))]
    exc = known[0] if known else leaves[0]
    if isinstance(exc, CLIError):
        return exc.status, str(exc)
    if isinstance(exc, HTTPError):
        return _library_failure(exc, transfer)
    missing = next((cause for cause in _causes(exc) if isinstance(cause, ImportError)), None)
    if missing is not None:
        # The library names the extra to install (SOCKS proxies need socksio).
        return Exit.NOT_BUILT_IN, _detail(missing)
    # A bug of ours or of the library: still one line, with what it said.
    return Exit.ERROR, f"internal error, please report it: {_detail(exc) or 'no message'}"


def report(status: int, message: str, stderr: TextIO) -> None:
    """Print the one error line, ``trio-httpcore: (STATUS) message``."""
    stderr.write(f"{PROG}: ({status}) {message}\n")
    stderr.flush()
