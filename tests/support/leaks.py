"""The leak checks every test runs under (a plugin: an autouse fixture; trio tasks are
checked by the runner of :mod:`tests.support.trio_run`).

Each check fails the test that leaked, not a later one:

* sockets: the socket file descriptors of the process are compared before and
  after the test; garbage is collected first, inside the check, and a
  ``ResourceWarning`` raised by that collection (a socket, a response or a pool
  that only garbage held) fails the test too;
* trio tasks (:mod:`tests.support.trio_run`): a trio test's run must end with no
  task but trio's own: once the test and its fixtures are done, the whole task
  tree, system tasks included, is walked (after every task had the chance to finish);
* threads: every thread the test started (portal threads and server threads
  included) must have ended; a thread that was told to stop gets a bounded
  wait. Trio's idle worker threads (``trio.to_thread``'s cache) are trio's,
  not the test's.

A test opts out with ``@pytest.mark.allow_leak("sockets", "tasks", "threads",
reason=...)`` naming what it may leave; few should.
"""

from __future__ import annotations

import gc
import os
import threading
import time
import warnings
from collections.abc import Iterator

import pytest

from .servers import release_held

KINDS = frozenset({"sockets", "tasks", "threads"})

THREAD_GRACE = 5.0
"""Seconds the threads the test started may take, all together, to end after it (a bound,
not a wait: a thread that already ended costs nothing)."""

# ---------------------------------------------------------------------------
# Which checks apply


def allowed(node: pytest.Item) -> set[str]:
    """The kinds of leak ``node``'s ``allow_leak`` markers allow."""
    kinds: set[str] = set()
    for marker in node.iter_markers("allow_leak"):
        unknown = set(marker.args) - KINDS
        if unknown or not marker.args or "reason" not in marker.kwargs:
            raise pytest.UsageError(
                f"{node.nodeid}: allow_leak takes some of {sorted(KINDS)} and a reason="
            )
        kinds.update(marker.args)
    return kinds


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "allow_leak(*kinds, reason): let the test leave sockets, tasks or threads "
        "(kinds: sockets, tasks, threads)",
    )


# ---------------------------------------------------------------------------
# Sockets and threads: an autouse sync fixture, set up before a trio test's run
# starts and torn down after it ended


def socket_fds() -> dict[int, str]:
    """The open socket file descriptors of this process: ``{fd: "socket:[inode]"}``."""
    found = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # closed while we looked (the listdir fd itself)
            continue
        if target.startswith("socket:"):
            found[int(name)] = target
    return found


def collect_garbage() -> list[str]:
    """Run a full garbage collection; the ``ResourceWarning`` messages it raised.

    Under ``filterwarnings = error`` a warning raised in a finalizer would become
    an "unraisable" exception, reported wherever pytest next looks, so they are
    recorded here instead and blamed on the test being checked.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def _is_trios(thread: threading.Thread) -> bool:
    """A worker of ``trio.to_thread``'s thread cache (it idles, then ends by itself)."""
    return thread.name.startswith("Trio thread ") or thread.name.startswith("trio.to_thread")


def threads_left(before: set[threading.Thread], grace: float = THREAD_GRACE) -> list[str]:
    """The threads started since ``before`` that are still alive after ``grace`` seconds."""
    new = [t for t in threading.enumerate() if t not in before and not _is_trios(t)]
    deadline = time.monotonic() + grace
    left = []
    for thread in new:
        thread.join(max(0.0, deadline - time.monotonic()))  # at once if it already ended
        if thread.is_alive():
            left.append(repr(thread))
    return left


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if it leaves a socket open or a thread running (see the module doc)."""
    allow = allowed(request.node)
    sockets_before = socket_fds()
    threads_before = set(threading.enumerate())
    yield
    release_held()
    problems: list[str] = []
    warned = collect_garbage()
    if warned and "sockets" not in allow:
        problems.append(f"freed only by garbage collection: {warned}")
    if "sockets" not in allow:
        after = socket_fds()
        leaked = {fd: t for fd, t in after.items() if sockets_before.get(fd) != t}
        if leaked:
            problems.append(f"socket(s) left open by the test: {leaked}")
    if "threads" not in allow:
        left = threads_left(threads_before)
        if left:
            problems.append(f"thread(s) left running by the test: {left}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
