"""Running the command line as a subprocess, measured by coverage when the suite is."""

from __future__ import annotations

import os
import pty
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict

import trio
import trio.testing

# Proxy settings from the environment would route the CLI's requests away from
# the local test servers (the CLI's client trusts the environment, as curl does).
_PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def _coverage_starts_itself() -> bool:
    """Whether coverage's ``.pth`` hook (coverage 7.10 and newer install one) started it
    in this interpreter: then it starts in the subprocess too, from the same venv."""
    try:
        import coverage
    except ImportError:  # pragma: no cover (a test venv has coverage)
        return False
    return hasattr(coverage.process_startup, "coverage")


# The installed command: the package's console script, beside this interpreter.
SCRIPT = Path(sys.executable).with_name("trio-httpcore")


def cli_command(*args: str, module: bool = False) -> list[str]:
    """The argv that runs the installed ``trio-httpcore ARGS`` (``module``: ``python -m``).

    The script runs under this interpreter, so PYTHONPATH decides which tree's
    package it imports. Under the nox session (``COVERAGE_PROCESS_START`` set)
    the subprocess must be measured too. Where no ``.pth`` hook starts
    coverage in it by itself, it runs under ``coverage run --parallel-mode``
    (its data is combined with the rest); where one does, a second start would
    measure twice (and on 3.12+ both would claim the same ``sys.monitoring``
    tool), so it runs plainly.
    """
    target = ["-m", "trio_httpcore"] if module or not SCRIPT.exists() else [str(SCRIPT)]
    config = os.environ.get("COVERAGE_PROCESS_START")
    if config is None or _coverage_starts_itself():
        return [sys.executable, *target, *args]
    coverage_run = ["-m", "coverage", "run", "--parallel-mode", f"--rcfile={config}"]
    return [sys.executable, *coverage_run, *target, *args]


CURL = shutil.which("curl")


async def run_curl(*args: str, stdin: bytes = b"", **kwargs: Any) -> Result | None:
    """curl run with the same arguments (``None`` where curl is not installed).

    ``-q`` first: no ``.curlrc`` changes what curl does.
    """
    if CURL is None:  # pragma: no cover (curl is installed where the suite runs)
        return None
    kwargs.setdefault("env", cli_env())
    kwargs.setdefault("capture_stdout", "stdout" not in kwargs)
    process = await trio.run_process(
        [CURL, "-q", *args], stdin=stdin, check=False, capture_stderr=True, **kwargs
    )
    return Result(process.returncode, process.stdout or b"", process.stderr.decode())


def cli_env(**extra: str) -> dict[str, str]:
    """This process's environment without proxy settings and colour hints, plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name.lower() not in _PROXY_VARIABLES and name not in ("NO_COLOR", "TERM")
    }
    if "COVERAGE_PROCESS_START" in os.environ:
        # Measured runs write their data here whatever their working directory.
        env["COVERAGE_FILE"] = os.path.abspath(os.environ.get("COVERAGE_FILE", ".coverage"))
    env.update(extra)
    return env


@dataclass
class Result:
    """What a run of the CLI left: its exit status and both output streams."""

    status: int
    stdout: bytes
    stderr: str

    @property
    def error_line(self) -> str:
        """The one line an error prints on stderr (asserting it is one line, no traceback)."""
        assert "Traceback" not in self.stderr, self.stderr
        lines = self.stderr.splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith(f"trio-httpcore: ({self.status}) "), lines[0]
        return lines[0]


async def run_cli(*args: str, stdin: bytes = b"", module: bool = False, **kwargs: Any) -> Result:
    """Run the CLI to its end with ``stdin``; ``kwargs`` go to ``trio.run_process``."""
    kwargs.setdefault("capture_stdout", "stdout" not in kwargs)
    kwargs.setdefault("capture_stderr", "stderr" not in kwargs)
    kwargs.setdefault("env", cli_env())
    command = cli_command(*args, module=module)
    process = await trio.run_process(command, stdin=stdin, check=False, **kwargs)
    stderr = (process.stderr or b"").decode()
    return Result(process.returncode, process.stdout or b"", stderr)


async def _read_terminal(master: int, into: bytearray) -> None:
    """Collect what a pseudo-terminal shows until its last writer is gone (EIO)."""
    async with trio.lowlevel.FdStream(master) as terminal:
        while True:
            try:
                data = await terminal.receive_some()
            except trio.BrokenResourceError:  # EIO: every slave end closed
                return
            if not data:  # pragma: no cover (Linux reports EIO, other systems EOF)
                return
            into += data


class _Terminals(TypedDict, total=False):
    """The pseudo-terminal slave ends given to the CLI, as ``run_process`` keywords."""

    stdout: int
    stderr: int


async def run_cli_on_terminal(
    *args: str, stdout_tty: bool = False, env: dict[str, str] | None = None
) -> Result:
    """Run the CLI with stderr (and with ``stdout_tty`` stdout too) on a pseudo-terminal.

    What the terminal showed comes back as ``stdout``/``stderr``, with the
    terminal's ``\\r\\n`` for each newline. The readers start before the CLI
    does and read while it runs, so a full terminal buffer can't block it.
    """
    shown = {"stdout": bytearray(), "stderr": bytearray()}
    streams: list[Literal["stdout", "stderr"]] = ["stderr", "stdout"] if stdout_tty else ["stderr"]
    async with trio.open_nursery() as nursery:
        slaves: _Terminals = {}
        for name in streams:
            master, slaves[name] = pty.openpty()
            nursery.start_soon(_read_terminal, master, shown[name])
        try:
            process = await trio.run_process(
                cli_command(*args),
                stdin=b"",
                check=False,
                env=env or cli_env(),
                capture_stdout=not stdout_tty,
                **slaves,
            )
            # Let the readers take all the CLI wrote before the slave ends close: Linux may
            # drop what a master had not read yet when they do.
            await trio.testing.wait_all_tasks_blocked()
        finally:
            for name in streams:
                os.close(slaves[name])
    stdout = bytes(shown["stdout"]) if stdout_tty else process.stdout
    return Result(process.returncode, stdout, shown["stderr"].decode())


# ---------------------------------------------------------------------------
# Running both: ours and curl, compared


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


async def both(
    tmp_path: Path, *args: str, stdin: bytes = b"", same_stdout: bool = True
) -> tuple[Result, Result | None]:
    """Run ``trio-httpcore ARGS`` and ``curl ARGS``, each in a directory of its own.

    Where curl is installed, the exit statuses, stdout (unless told not to)
    and the files each left behind must be the same.
    """
    ours_dir, curl_dir = tmp_path / "ours", tmp_path / "curl"
    ours_dir.mkdir()
    curl_dir.mkdir()
    ours = await run_cli(*args, stdin=stdin, cwd=ours_dir)
    assert "Traceback" not in ours.stderr, ours.stderr
    theirs = await run_curl(*args, stdin=stdin, cwd=curl_dir)
    if theirs is not None:
        assert ours.status == theirs.status, (ours, theirs)
        if same_stdout:
            assert ours.stdout == theirs.stdout, (ours, theirs)
        assert _files(ours_dir) == _files(curl_dir)
    return ours, theirs


def curl_words(result: Result | None) -> str | None:
    """curl's error message without its ``curl: (N) `` prefix (its first such line)."""
    if result is None:
        return None
    # curl's progress meter may end without a newline before the message.
    found = re.search(r"curl: (?:\(\d+\) )?(.*)", result.stderr)
    assert found is not None, result.stderr
    return found[1]


def our_words(result: Result) -> str:
    """Our error line without its ``trio-httpcore: (N) `` prefix."""
    return re.sub(r"^trio-httpcore: \(\d+\) ", "", result.error_line)
