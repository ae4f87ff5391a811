"""The checks every test runs under fail the test that leaked, and a hang fails within its limit.

Each case runs a small test file in a pytest subprocess configured like this
suite (trio mode, warnings as errors, the leak plugin, the time limit), and
reads its outcome: which test failed, and why.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Each case starts a pytest subprocess (seconds on a loaded machine), the hang waits for
# its own limit, and the socket check reads /proc/self/fd.
pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(sys.platform != "linux", reason="the socket check reads /proc/self/fd"),
]

Run = Callable[..., pytest.RunResult]

INI = """\
[pytest]
trio_mode = true
filterwarnings = error
addopts =
    -p no:cacheprovider
    -p tests.support.leaks -p tests.support.limits -p tests.support.trio_run
timeout = 10
"""


@pytest.fixture
def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Run:
    """``result = run(source)``: run ``source`` as a test file in a pytest subprocess."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)
    monkeypatch.delenv("COVERAGE_PROCESS_START", raising=False)
    pytester.makefile(".ini", pytest=INI)

    def run(source: str, *args: str) -> pytest.RunResult:
        pytester.makepyfile(test_case=source)
        return pytester.runpytest_subprocess("-v", *args, timeout=120)

    return run


def failed_with(result: pytest.RunResult, name: str, *phrases: str) -> None:
    """``name`` failed, in its call (FAILED) or its teardown (ERROR, which is where the
    socket and thread checks run), its neighbour passed, and each phrase is in the output."""
    output = result.stdout.str()
    summary = [line for line in output.splitlines() if f"test_case.py::{name} " in line]
    assert any(word in line for line in summary for word in ("FAILED", "ERROR")), output
    result.stdout.fnmatch_lines(["*::test_clean PASSED*"])
    for phrase in phrases:
        assert phrase in output, output


CLEAN = """

def test_clean() -> None:
    pass
"""


def test_a_leaked_system_task_fails_its_test(run: Run) -> None:
    source = (
        """
import trio


async def test_leaks_a_system_task() -> None:
    trio.lowlevel.spawn_system_task(trio.sleep_forever, name="the-leaked-one")
"""
        + CLEAN
    )
    result = run(source)
    failed_with(result, "test_leaks_a_system_task", "left running by the test", "the-leaked-one")


def test_a_leaked_portal_thread_fails_its_test(run: Run) -> None:
    source = """
import trio

import trio_httpcore

POOLS = []


def test_leaks_a_portal_thread() -> None:
    pool = trio_httpcore.SyncConnectionPool()
    pool._portal.run(trio.lowlevel.checkpoint)  # starts the portal thread
    POOLS.append(pool)  # never closed, and still referenced


def test_clean() -> None:
    for pool in POOLS:
        pool.close()
"""
    result = run(source)
    failed_with(result, "test_leaks_a_portal_thread", "thread(s) left running by the test")


def test_a_socket_only_garbage_held_fails_its_test(run: Run) -> None:
    source = (
        """
import socket


def test_leaves_a_socket_to_gc() -> None:
    sock = socket.socket()
    cycle = [sock]
    cycle.append(cycle)  # only the garbage collector can free it
"""
        + CLEAN
    )
    result = run(source)
    failed_with(result, "test_leaves_a_socket_to_gc", "freed only by garbage collection", "socket")


def test_an_open_socket_fails_its_test(run: Run) -> None:
    source = """
import socket

KEPT = []


def test_leaves_a_socket_open() -> None:
    KEPT.append(socket.socket())
""" + CLEAN.replace("pass", "KEPT.pop().close()")
    result = run(source)
    failed_with(result, "test_leaves_a_socket_open", "socket(s) left open by the test")


def test_a_hang_fails_within_the_limit_with_the_stacks(run: Run) -> None:
    source = (
        """
import trio


async def test_hangs() -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.sleep_forever)
        await trio.Event().wait()
"""
        + CLEAN
    )
    result = run(source)
    failed_with(result, "test_hangs", "Timeout: the test ran past 9 s", "in sleep_forever")
    assert "test_case.py:" in result.stdout.str()  # where the test itself waited
    assert result.duration < 60


def test_the_marker_is_checked(run: Run) -> None:
    source = """
import pytest


@pytest.mark.allow_leak("files", reason="no such kind")
def test_clean() -> None:
    pass
"""
    result = run(source)
    assert result.ret != 0
    assert "allow_leak takes some of" in result.stdout.str() + result.stderr.str()


def test_allow_leak_lets_a_test_leave_what_it_names(run: Run) -> None:
    source = (
        """
import pytest
import trio


@pytest.mark.allow_leak("tasks", reason="shows the opt-out")
async def test_leaks_a_system_task() -> None:
    trio.lowlevel.spawn_system_task(trio.sleep_forever)
"""
        + CLEAN
    )
    result = run(source)
    result.assert_outcomes(passed=2)
