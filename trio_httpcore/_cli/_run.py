"""One run of the command: parse, send with :class:`AsyncClient` (retrying as asked), write out.

:func:`main` is the only way in; every failure ends in one line on stderr
(unless ``-s``) and an exit status from :mod:`._exits`, Ctrl-C in 130
quietly. As in curl, no time limit applies unless a flag sets one, and
``-w`` is written whatever the outcome.
"""

from __future__ import annotations

import math
import os
import ssl
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import trio

from .._client import (
    AsyncClient,
    Auth,
    BasicAuth,
    DigestAuth,
    Request,
    Response,
    Timeout,
    create_ssl_context,
)
from .._version import __version__
from ._arguments import Options, parse_args
from ._bodies import Body, merge_headers, read_local, request_body, request_url
from ._cookies import cookie_field, cookie_jar, save_cookies
from ._exits import PROG, CLIError, Exit, exit_status, report
from ._output import Output, Terminal, remote_name
from ._timings import PhaseTrace, Resolver, Transfer
from ._verbose import Verbose
from ._writeout import write_out

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from .._client import CertTypes

# curl's transient HTTP statuses for --retry (curl's manual, --retry).
_TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def build_ssl_context(options: Options) -> ssl.SSLContext:
    """The TLS context of ``-k``, ``--cacert``, ``--cert`` and ``--key``.

    The CLI builds it (rather than passing ``verify=``/``cert=`` to the client)
    so that a bad CA bundle and a bad client certificate get their own exit
    statuses.
    """
    verify: bool | str = not options.insecure
    if options.cacert is not None and not options.insecure:
        verify = options.cacert
    try:
        context = create_ssl_context(verify)
    except (OSError, ssl.SSLError) as exc:
        raise CLIError(
            Exit.CA_BUNDLE, f"error setting certificate verify locations: CAfile: {options.cacert}"
        ) from exc
    if options.cert is not None:
        cert: CertTypes = options.cert if options.key is None else (options.cert, options.key)
        try:
            create_ssl_context(context, cert)
        except (OSError, ssl.SSLError) as exc:
            raise CLIError(
                Exit.CLIENT_CERT,
                f"could not load PEM client certificate from {options.cert} "
                "(no key found, wrong pass phrase, or wrong file format?)",
            ) from exc
    return context


def _auth(options: Options) -> Auth | None:
    if options.user is None:
        return None
    username, password = options.user
    return DigestAuth(username, password) if options.digest else BasicAuth(username, password)


def _timeout(options: Options) -> Timeout:
    """curl's: no limit per phase unless ``--timeout``; ``--connect-timeout`` for connecting."""
    timeout = Timeout(options.timeout)
    if options.connect_timeout is not None:
        timeout = Timeout(options.timeout, connect=options.connect_timeout)
    return timeout


class Retry(Exception):
    """This attempt met a transient problem (curl's words for it) and may be tried again."""


class Exchange:
    """One run's hooks and state: heads to ``-i``/``-D``/``-v`` as they come, the record kept."""

    def __init__(
        self, options: Options, transfer: Transfer, output: Output, verbose: Verbose | None
    ) -> None:
        self._options = options
        self._transfer = transfer
        self.output = output
        self._verbose = verbose
        self.trace = PhaseTrace(transfer, verbose.phase if verbose is not None else None)
        self.retries_left = 0

    def hooks(self) -> dict[str, list[Any]]:
        return {"request": [self.request_sent], "response": [self.response_received]}

    def request_sent(self, request: Request) -> None:
        transfer = self._transfer
        transfer.host, transfer.port = (
            request.url.host,
            request.url.port or (443 if request.url.scheme == "https" else 80),
        )
        transfer.url_effective = str(request.url)
        transfer.head_arrived = False
        if self._verbose is not None:
            self._verbose.request_sent(request)

    def response_received(self, response: Response) -> None:
        transfer = self._transfer
        transfer.starttransfer = time.perf_counter()
        transfer.head_arrived = True
        transfer.http_code = int(response.status_code)
        transfer.http_version = response.http_version
        transfer.content_type = response.headers.get("content-type", "")
        transfer.headers = {name.lower(): value for name, value in response.headers.items()}
        following = self._options.location and "location" in response.headers
        if following and response.status_code in _REDIRECT_STATUSES:
            transfer.num_redirects += 1
        if self._verbose is not None:
            self._verbose.response_received(response)
        if not (self._options.fail and response.status_code >= 400):
            self.output.head(response)


def _request(
    client: AsyncClient, options: Options, body: Body, url: str, trace: PhaseTrace
) -> Request:
    """The request, with curl's header rules: ``-H`` wins, ``-H 'Name:'`` removes a field;
    ``trace`` dates its connection's phases (the transport's trace extension)."""
    given = [(name, value) for name, value in options.headers if value is not None]
    defaults = [*body.headers, ("User-Agent", options.user_agent or f"{PROG}/{__version__}")]
    if options.referer is not None:
        defaults.append(("Referer", options.referer))
    cookie = cookie_field(options)
    if cookie is not None:
        defaults.append(("Cookie", cookie))
    request = client.build_request(
        options.request_method,
        url,
        headers=merge_headers(given, defaults),
        content=body.content,
        files=body.parts or None,
        extensions={"trace": trace},
    )
    removed = {name.lower() for name, value in options.headers if value is None}
    if not options.compressed and "accept-encoding" not in {n.lower() for n, _ in given}:
        removed.add("accept-encoding")  # curl asks for no coding unless --compressed
    for name in removed:
        request.headers.pop(name, None)
    return request


async def _attempt(
    client: AsyncClient, options: Options, body: Body, url: str, exchange: Exchange
) -> None:
    """Send the request once and write the response out; raise :class:`Retry` if transient.

    As curl does, a transient response's body is written before the retry
    (a file is started afresh by the next attempt; stdout can't be).
    """
    response = await client.send(
        _request(client, options, body, url, exchange.trace),
        stream=True,
        auth=_auth(options),
        follow_redirects=options.location,
    )
    try:
        status = int(response.status_code)
        transient = exchange.retries_left > 0 and status in _TRANSIENT_STATUSES
        if options.fail and status >= 400 and not transient:
            raise CLIError(Exit.HTTP_STATUS, f"The requested URL returned error: {status}")
        if options.request_method != "HEAD" and not (options.fail and status >= 400):
            await exchange.output.write_body(response)
        if transient:
            raise Retry("HTTP error")
    finally:
        await response.aclose()


async def _attempt_in_time(
    client: AsyncClient, options: Options, body: Body, url: str, exchange: Exchange
) -> None:
    """One attempt under ``-m``'s limit; a timeout is transient for ``--retry``."""
    with trio.move_on_after(options.max_time if options.max_time else math.inf) as scope:
        try:
            await _attempt(client, options, body, url, exchange)
        except CLIError:
            raise
        except Exception as exc:
            status, _ = exit_status(exc, exchange.output.transfer)
            if status == Exit.TIMEOUT and exchange.retries_left > 0:
                raise Retry("timeout") from exc
            raise
    if scope.cancelled_caught:
        transfer = exchange.output.transfer
        if exchange.retries_left > 0:
            raise Retry("timeout")
        expected = "" if transfer.expected is None else f" out of {transfer.expected}"
        raise CLIError(
            Exit.TIMEOUT,
            f"Operation timed out after {transfer.elapsed_ms} milliseconds "
            f"with {transfer.received}{expected} bytes received",
        )


def _output(options: Options, terminal: Terminal, transfer: Transfer, url: str) -> Output:
    path = remote_name(url) if options.remote_name else options.output
    return Output(
        terminal,
        transfer,
        path=None if path == "-" else path,
        dump_header=options.dump_header,
        include_heads=options.include or options.head,
        decoded=options.compressed,
        progress=not options.silent,
        limit_rate=options.limit_rate,
        refuse_binary=options.output is None and not options.remote_name,
    )


def _warn(options: Options, terminal: Terminal, text: str) -> None:
    if not options.silent:
        terminal.stderr.write(f"Warning: {text}\n")
        terminal.stderr.flush()


async def send(options: Options, terminal: Terminal, transfer: Transfer) -> int:
    """Send the request the options describe and write the response; return the exit status.

    The CLI runs :class:`AsyncClient` under its own ``trio.run`` rather than the
    blocking ``Client``: one request needs no portal thread, and errors and
    Ctrl-C then reach :func:`main` straight from the one run, unwrapped.
    """
    transfer.max_redirs = options.max_redirs
    trio.socket.set_custom_hostname_resolver(Resolver(transfer, options.resolve))
    context = build_ssl_context(options)
    verbose = Verbose(terminal.stderr, transfer) if options.verbose else None
    jar = cookie_jar(options)
    with request_body(options, terminal.stdin) as body:
        url = request_url(options, body)
        exchange = Exchange(options, transfer, _output(options, terminal, transfer, url), verbose)
        client = AsyncClient(
            verify=context,
            http1=not options.http2_prior_knowledge,
            http2=not options.http1_1,
            http3="only" if options.http3_only else "prior" if options.http3 else False,
            proxies=options.proxy_url,
            timeout=_timeout(options),
            max_redirects=options.max_redirs if options.max_redirs >= 0 else sys.maxsize,
            cookies=jar,  # the client fills this very jar, for -c to save
            event_hooks=exchange.hooks(),
        )
        delay = 1.0
        async with client:
            for retries_left in range(options.retry, -1, -1):
                exchange.retries_left = retries_left
                # Counted from here: loading CA bundles and files is not the exchange's time.
                transfer.restart()
                try:
                    await _attempt_in_time(client, options, body, url, exchange)
                except Retry as problem:
                    wait = options.retry_delay if options.retry_delay else delay
                    _warn(
                        options,
                        terminal,
                        f"Problem : {problem}. Will retry in {wait:g} seconds. "
                        f"{retries_left} retries left.",
                    )
                    exchange.output.close()
                    exchange.output = _output(options, terminal, transfer, url)
                    await trio.sleep(wait)
                    delay = min(delay * 2, 600.0)
                    continue
                finally:
                    exchange.output.close()
                    transfer.finished = time.perf_counter()
                break
    if options.cookie_jar is not None:
        save_cookies(jar, options.cookie_jar)
    if verbose is not None:
        verbose.finished()
    return Exit.OK


def _write_out(options: Options, terminal: Terminal, transfer: Transfer, status: int) -> None:
    """``-w``: the format filled in, on stdout, whatever the outcome."""
    if options.write_out is None:
        return
    template = options.write_out
    if template.startswith("@"):
        try:
            template = read_local(template, terminal.stdin).decode()
        except CLIError:
            return
    text = write_out(
        template,
        transfer,
        {"exitcode": str(int(status))},
        lambda line: _warn(options, terminal, line),
    )
    try:
        terminal.stdout.write(text.encode())
        terminal.stdout.flush()
    except OSError:
        pass  # a closed stdout already had its say (status 23)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); return the exit status.

    ``--help`` and ``--version`` print and raise ``SystemExit(0)``, as argparse does.
    """
    terminal = Terminal.from_sys()
    transfer = Transfer()
    options: Options | None = None
    try:
        options = parse_args(sys.argv[1:] if argv is None else argv)
        status: int = trio.run(send, options, terminal, transfer)
    except (Exception, KeyboardInterrupt, BaseExceptionGroup) as exc:
        status, message = exit_status(exc, transfer)
        if message is not None and (options is None or options.show_errors):
            report(status, message, terminal.stderr)
    if options is not None and status != Exit.INTERRUPTED:
        _write_out(options, terminal, transfer, status)
    if status == Exit.WRITE:
        # stdout may be a closed pipe: don't let the interpreter's final flush fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return status
