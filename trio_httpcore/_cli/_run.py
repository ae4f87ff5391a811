"""One run of the command: parse, send the request with :class:`AsyncClient`, write out.

:func:`main` is the only way in; every failure ends in one line on stderr and
an exit status from :mod:`._exits`, Ctrl-C in 130 quietly.
"""

from __future__ import annotations

import os
import ssl
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import trio

from .._client import AsyncClient, Auth, BasicAuth, DigestAuth
from .._client._config import create_ssl_context
from .._version import __version__
from ._arguments import Options, parse_args
from ._bodies import merge_headers, request_body
from ._exits import PROG, CLIError, Exit, exit_status, report
from ._output import BodyWriter, Terminal, status_line
from ._verbose import Timings, Verbose, observe_tls

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from .._client._config import CertTypes


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
            Exit.CA_BUNDLE, f"can't load the CA bundle {options.cacert!r}: {exc}"
        ) from exc
    if options.cert is not None:
        cert: CertTypes = options.cert if options.key is None else (options.cert, options.key)
        try:
            create_ssl_context(context, cert)
        except (OSError, ssl.SSLError) as exc:
            raise CLIError(
                Exit.CLIENT_CERT, f"can't load the client certificate {options.cert!r}: {exc}"
            ) from exc
    return context


def _auth(options: Options) -> Auth | None:
    if options.user is None:
        return None
    username, password = options.user
    return DigestAuth(username, password) if options.digest else BasicAuth(username, password)


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
                raise CLIError(Exit.HTTP_STATUS, f"{status_line(response)} from {response.url}")
            try:
                await writer.write_all(response)
            finally:
                writer.close()
    if verbose is not None:
        timings.finished = time.perf_counter()
        verbose.finished()
    return Exit.OK


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
        if status == Exit.WRITE:
            # stdout may be a closed pipe: don't let the interpreter's final flush fail too.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return status
