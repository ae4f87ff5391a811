"""Exit statuses, in one table, and how an error becomes one line and one status.

The numbers are curl's (``man curl``, "EXIT CODES"), so scripts written for
curl read ours the same way. Every failure reaches :func:`exit_status`, which
picks the status from the exception (looking through chains and groups) and
the one line to print; no traceback is ever shown.
"""

from __future__ import annotations

import enum
import os
import socket
import ssl
import sys
import textwrap
from collections.abc import Iterator
from typing import TextIO

from .._exceptions import (
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
    ERROR = 1, "unsupported protocol (URL scheme), or another library error"
    USAGE = 2, "bad usage: unknown flag, missing or malformed argument"
    BAD_URL = 3, "malformed URL"
    RESOLVE = 6, "could not resolve the host name"
    CONNECT = 7, "could not connect (refused, unreachable)"
    PROTOCOL = 8, "the server broke the HTTP protocol (bad or incomplete response)"
    HTTP_STATUS = 22, "--fail and the response status was not 2xx"
    WRITE = (
        23,
        (
            "could not write the body (-o FILE, stdout closed, or binary bytes bound for "
            "a terminal: curl refuses them too; -o - prints them anyway)"
        ),
    )
    READ_FILE = 26, "could not read a local file (-d @FILE, --json @FILE, -F name=@FILE)"
    TIMEOUT = 28, "timeout (--timeout applies to each phase: connect, read, write, pool)"
    TLS = 35, "TLS handshake failed"
    REDIRECTS = 47, "too many redirects (-L)"
    SEND = 55, "sending the request failed"
    RECEIVE = 56, "receiving the response failed (connection reset, ...)"
    CLIENT_CERT = 58, "the client certificate (--cert, --key) could not be loaded"
    CERT_VERIFY = 60, "the server's certificate could not be verified (see -k, --cacert)"
    DECODING = 61, "the response body could not be decoded (Content-Encoding)"
    CA_BUNDLE = 77, "the CA bundle (--cacert) could not be loaded"
    PROXY = 97, "the proxy refused or failed (CONNECT status, SOCKS reply)"
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
            return Exit.RESOLVE, message
        if isinstance(cause, ssl.SSLCertVerificationError):
            return Exit.CERT_VERIFY, message
        if isinstance(cause, ssl.SSLError):
            return Exit.TLS, message
        if isinstance(cause, OSError) and cause.errno and reason is None:
            # From the number: trio's strerror also names the address, already in the line.
            reason = os.strerror(cause.errno)
    if reason is not None and reason not in message:
        message = f"{message} ({reason})"
    return Exit.CONNECT, message


# First match wins: subclasses before their bases.
_STATUS_BY_ERROR: list[tuple[type[HTTPError], int]] = [
    (TooManyRedirects, Exit.REDIRECTS),
    (InvalidURL, Exit.BAD_URL),
    (UnsupportedProtocol, Exit.ERROR),
    (ProxyError, Exit.PROXY),
    (DecodingError, Exit.DECODING),
    (ProtocolError, Exit.PROTOCOL),
    (WriteError, Exit.SEND),
    (NetworkError, Exit.RECEIVE),
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
        return Exit.INTERRUPTED, None
    known = [leaf for leaf in leaves if isinstance(leaf, (CLIError, HTTPError))]
    exc = known[0] if known else leaves[0]
    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, CLIError):
        return exc.status, message
    if isinstance(exc, ConnectError):
        return _connect_failure(exc, message)
    if isinstance(exc, TimeoutException):
        # The transport names the phase; say plainly that it was a timeout.
        return Exit.TIMEOUT, f"timed out {message}"
    for error, status in _STATUS_BY_ERROR:
        if isinstance(exc, error):
            return status, message
    if isinstance(exc, HTTPError):
        return Exit.ERROR, message
    # A bug of ours or of the library: still one line, but say what it was.
    return Exit.ERROR, f"internal error: {type(exc).__name__}: {message}"


def report(status: int, message: str, stderr: TextIO) -> None:
    """Print the one error line, ``trio-httpcore: (STATUS) message``."""
    stderr.write(f"{PROG}: ({status}) {message}\n")
    stderr.flush()
