"""How every trio test runs: cancelled with its tasks' stacks when it passes its time
limit, and failed if it leaves a task behind (a plugin; pytest-trio calls the runner).

* Time limit (:mod:`tests.support.limits`). pytest-timeout's limit raises from
  a signal handler; inside trio's loop that abandons the run, and the stack it
  shows is the loop's, not the test's. So a trio test is cancelled a little
  earlier, at :data:`~tests.support.limits.SOFT_SHARE` of its limit, by a
  watchdog thread (real time, whatever the test's clock), and fails with the
  await stack of every task of the run.
* Tasks left. Once the test and its fixtures are done, every task of the run,
  system tasks included, must have ended: only trio's own remain.

A test opts out of the task check with ``@pytest.mark.allow_leak("tasks", reason=...)``
(see :mod:`tests.support.leaks`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest
import trio
import trio.testing

from .leaks import allowed
from .limits import SOFT_SHARE, Watchdog, time_limit

_RUN_SYNC_SOON_TASK = "<TrioToken.run_sync_soon task>"


def tasks_left() -> list[trio.lowlevel.Task]:
    """Every task of this run but the root, the calling task and trio's run_sync_soon task."""
    root = trio.lowlevel.current_root_task()
    me = trio.lowlevel.current_task()
    found = []
    stack = [root]
    while stack:
        task = stack.pop()
        if task is None:
            continue
        if task is not root and task is not me and task.name != _RUN_SYNC_SOON_TASK:
            found.append(task)
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return found


def describe(task: trio.lowlevel.Task) -> str:
    """A task's name and where it waits, outermost frame first."""
    frames = [
        f"    {frame.f_code.co_filename}:{lineno} in {frame.f_code.co_name}"
        for frame, lineno in task.iter_await_frames()
    ]
    return "\n".join([f"  {task.name}", *frames])


def _stacks() -> str:
    return "\n".join(describe(task) for task in tasks_left())


async def _run_test(
    fn: Callable[..., Awaitable[Any]], limit: float | None, check_tasks: bool, *args: Any
) -> Any:
    with trio.CancelScope() as scope:
        watchdog = Watchdog(limit, scope, _stacks) if limit else None
        with watchdog or contextlib.nullcontext():
            try:
                result = await fn(*args)
            except BaseException:
                if watchdog is None or watchdog.stacks is None:
                    raise
                # Timed out: what the cancellation raised on its way out is noise.
    if watchdog is not None and watchdog.stacks is not None:
        pytest.fail(watchdog.failure(), pytrace=False)
    if check_tasks:
        # A task that was only finishing (a close in a system task) gets to finish.
        await trio.testing.wait_all_tasks_blocked()
        left = tasks_left()
        if left:
            listed = "\n".join(describe(task) for task in left)
            pytest.fail(f"trio task(s) left running by the test:\n{listed}", pytrace=False)
    return result


def run_test(
    fn: Callable[..., Awaitable[Any]],
    *args: Any,
    limit: float | None = None,
    check_tasks: bool = True,
    **kwargs: Any,
) -> Any:
    """``trio.run(fn)`` cancelled after ``limit`` real seconds, failing if a task is left."""
    return trio.run(partial(_run_test, fn, limit, check_tasks), *args, **kwargs)


@pytest.hookimpl(trylast=True)  # after pytest-trio marked the async tests
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each trio test that did not pick a runner of its own :func:`run_test`."""
    for item in items:
        marker = item.get_closest_marker("trio")
        if marker is None or marker.kwargs.get("run", trio.run) is not trio.run:
            continue
        limit = time_limit(item)
        runner = partial(
            run_test,
            limit=limit * SOFT_SHARE if limit else None,
            check_tasks="tasks" not in allowed(item),
        )
        item.add_marker(pytest.mark.trio(run=runner), append=False)
