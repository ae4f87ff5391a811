"""Time limits: every test fails, with stacks, when it runs past its limit.

Three layers, from the gentlest:

* a trio test is cancelled at :data:`SOFT_SHARE` of its limit by a
  :class:`Watchdog` (see :mod:`tests.support.trio_run`), and fails with the
  await stack of each of its tasks;
* at the limit, pytest-timeout (``timeout`` in pyproject, ``--timeout``, or
  the test's ``timeout`` marker) fails the test from a signal handler, after
  printing every thread's stack;
* a failure raised that way can be swallowed (Hypothesis takes it for a
  failing example and replays the hanging test to shrink it), so past
  :data:`LAST_RESORT` times the limit, :func:`last_resort` dumps every
  thread's stack and ends the process: under xdist the worker's test is
  reported as failed and a new worker goes on with the rest.
"""

from __future__ import annotations

import contextlib
import faulthandler
import threading
from collections.abc import Callable, Iterator

import pytest
import trio

SOFT_SHARE = 0.9
"""The share of its time limit after which a trio test is cancelled."""

LAST_RESORT = 2.0
"""Past this many times its limit, a test that still runs ends the process."""


def time_limit(item: pytest.Item) -> float | None:
    """The test's limit as pytest-timeout sees it: marker, then ``--timeout``, then ini."""
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        value = marker.args[0] if marker.args else marker.kwargs.get("timeout")
    else:
        value = item.config.getoption("timeout", None)
        if value is None:
            try:
                value = item.config.getini("timeout")
            except ValueError:  # pragma: no cover - pytest-timeout not installed
                value = None
    seconds = float(value) if value not in (None, "") else 0.0
    return seconds if seconds > 0 else None


@pytest.fixture(autouse=True)
def last_resort(request: pytest.FixtureRequest) -> Iterator[None]:
    """Dump every thread's stack and exit if the test outlives its limit by far."""
    limit = time_limit(request.node)
    if limit is None:
        yield
        return
    faulthandler.dump_traceback_later(limit * LAST_RESORT, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


class Watchdog:
    """Cancels ``scope`` after ``limit`` real seconds, noting ``snapshot()`` (the stacks
    of the run's tasks) first. Enter it inside the trio run."""

    def __init__(self, limit: float, scope: trio.CancelScope, snapshot: Callable[[], str]) -> None:
        self.limit = limit
        self.scope = scope
        self.snapshot = snapshot
        self.stacks: str | None = None
        self._token = trio.lowlevel.current_trio_token()
        self._timer = threading.Timer(limit, self._fire)
        self._timer.name = "trio test time limit"

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        self._timer.join()

    def _fire(self) -> None:
        with contextlib.suppress(trio.RunFinishedError):  # the test ended meanwhile
            self._token.run_sync_soon(self._expire)

    def _expire(self) -> None:
        self.stacks = self.snapshot()
        self.scope.cancel()

    def failure(self) -> str:
        return (
            f"Timeout: the test ran past {self.limit:g} s ({SOFT_SHARE:.0%} of its limit) "
            f"and was cancelled. Its trio tasks then:\n{self.stacks}"
        )
