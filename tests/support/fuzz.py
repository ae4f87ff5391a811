"""What the cancellation fuzz suites share, whatever protocol they cancel: Hypothesis settings,
the request timeouts, a cancel after N checkpoints, and a count of the run's tasks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio
from hypothesis import HealthCheck, settings

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
EXT: dict[str, Any] = {"timeout": {"connect": 5, "read": 5, "write": 5, "pool": 5}}


def count_tasks() -> int:
    """Every task of the trio run, system tasks included."""

    def walk(task: trio.lowlevel.Task) -> int:
        return 1 + sum(walk(child) for n in task.child_nurseries for child in n.child_tasks)

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return walk(root)


async def cancel_after(
    ready: Callable[[], Awaitable[None]], checkpoints: int, scope: trio.CancelScope
) -> None:
    """Once ``ready()`` returns, let ``checkpoints`` checkpoints pass, then cancel ``scope``."""
    await ready()
    for _ in range(checkpoints):
        await trio.lowlevel.checkpoint()
    scope.cancel()
