"""Quality gates: ``nox`` runs them all, ``nox -s NAME`` one of them."""

from __future__ import annotations

import os

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
# Branch coverage of the package below which the test session fails. It only rises:
# just under what the session measures (96.33% on CPython 3.11 with HTTP/3 and the CLI merged).
COVERAGE_THRESHOLD = 96

nox.options.sessions = [
    "lint",
    "typecheck",
    "tests",
    "tests_h2_stock",
    "tests_h11_pure",
    "tests_h2_newest",
    "docs",
    "examples",
]
nox.options.error_on_missing_interpreters = True


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite on two workers with branch coverage; fail under COVERAGE_THRESHOLD.

    Subprocesses the tests start (the CLI) are measured too: they see
    COVERAGE_PROCESS_START, and pytest-cov combines their data. Then the decoder
    tests run again with brotlicffi in place of brotli (what the ``brotli`` extra
    installs off CPython), newest and pre-1.2, adding to the same coverage before
    the gate.

    The load tests against nginx need an ``nginx`` binary (Debian's ``nginx``
    package; on PATH or in /usr/sbin). Where it is missing they skip, unless
    ``TRIO_HTTPCORE_NEED_NGINX=1`` says it must be there, as ``.ci/run`` does: CI
    installs it and fails without it. To run them elsewhere, install nginx
    (``apt-get install nginx``, ``brew install nginx``...) and run ``nox -s tests``.
    """
    session.install("-e", ".[test]")
    session.env["COVERAGE_PROCESS_START"] = os.path.abspath("pyproject.toml")
    session.run("coverage", "erase")
    session.run("pytest", "-n", "2", "--cov", "--cov-report=", *session.posargs)
    session.run("python", "-m", "pip", "uninstall", "--yes", "--quiet", "brotli")
    try:
        # The newest brotlicffi, then one from before it could bound its output.
        for brotlicffi in ("brotlicffi", "brotlicffi<1.2"):
            session.install(brotlicffi)
            decoders = ["tests/client/test_decoders.py"]
            session.run("pytest", "--cov", "--cov-append", "--cov-report=", *decoders)
    finally:  # the test extra as declared, for the next run
        session.run("python", "-m", "pip", "uninstall", "--yes", "--quiet", "brotlicffi")
        session.install("brotli")
    session.run("coverage", "report", f"--fail-under={COVERAGE_THRESHOLD}")


@nox.session(python="3.11")
def tests_h2_stock(session: nox.Session) -> None:
    """The HTTP/2 tests on stock h2: every shortcut of _http2/_h2compat.py off.

    As if an h2 release had dropped each internal the shortcuts rely on:
    the fallbacks must give the same results.
    """
    session.install("-e", ".[test]")
    session.env["TRIO_HTTPCORE_H2_STOCK"] = "1"
    session.run("pytest", "-n", "2", "tests/http2", *session.posargs)


@nox.session(python="3.11")
def tests_h11_pure(session: nox.Session) -> None:
    """The HTTP/1.1 tests on h11 alone: the accelerator (httptools) turned off.

    The tests session runs them with httptools parsing response heads; here
    h11 parses every head, as where httptools is not installed.
    """
    session.install("-e", ".[test]")
    session.env["TRIO_HTTPCORE_NO_HTTPTOOLS"] = "1"
    session.run("pytest", "-n", "2", "tests/http11", "tests/transport", *session.posargs)


@nox.session(python="3.11")
def tests_h2_newest(session: nox.Session) -> None:
    """The HTTP/2 tests against the newest h2, hpack and hyperframe, past the pin in pyproject.

    pip warns that the pin is not met; the run says whether the next release can be allowed.
    """
    session.install("-e", ".[test]")
    session.install("-U", "h2", "hpack", "hyperframe")
    session.run("python", "-c", "import h2; print('h2', h2.__version__)")
    session.run("pytest", "-n", "2", "tests/http2", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff (lint and formatting), and the layers contract of docs/design.rst (import-linter)."""
    session.install("ruff", "import-linter")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # import-linter reads the package's source from the checkout; nothing is imported.
    session.run("lint-imports", env={"PYTHONPATH": os.getcwd()})


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package and on the tests (pyproject's [tool.mypy])."""
    session.install("-e", ".[test]", "mypy", "exceptiongroup")
    session.run("mypy", "--strict", "trio_httpcore")
    session.run("mypy")


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """Build the Sphinx docs (any warning fails, a broken table included), then the docs tests.

    The diagrams need Graphviz's ``dot`` on PATH (``.ci/run`` installs it on Debian).
    tests/test_docs.py runs here too: its table checks need docutils, which Sphinx brings.
    """
    session.install("-e", ".[docs,test]")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")
    session.run("pytest", "-q", "tests/test_docs.py")


@nox.session(python="3.11")
def examples(session: nox.Session) -> None:
    """Run every example script; each starts its own local server (the ``examples`` extra)."""
    session.install(".[examples]")
    for name in sorted(os.listdir("examples")):
        if name.endswith(".py"):
            session.run("python", os.path.join("examples", name))


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Benchmarks beside httpx, httpcore, aiohttp, urllib3 and peers (not a default session).

    nginx should be installed first: see benchmarks/README.md. ``-- --quick`` for a short run.
    """
    clients = ["httpx[http2]", "httpcore", "anyio", "aiohttp", "urllib3"]
    session.install("-e", ".[speedups]", *clients, "trustme", "hypercorn", "pyinstrument")
    # The peers, each on its own: one that does not install (no wheel for this
    # platform, say) is a column printed as n/a, not a failed session.
    for peer in ("httpx2", "niquests", "pyreqwest", "pycurl"):
        session.install(peer, success_codes=[0, 1])
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session(python="3.11")
def soak(session: nox.Session) -> None:
    """The full load test: 20,000 requests, 500 in flight (not a default session).

    Prints each run's figures; ``TRIO_HTTPCORE_SOAK_REPORT=path`` also appends them there.
    """
    session.install("-e", ".[test]")
    session.env["TRIO_HTTPCORE_SOAK"] = "1"
    session.run(
        "pytest", "-m", "soak", "-s", "-q", "tests/reliability/test_load.py", *session.posargs
    )
