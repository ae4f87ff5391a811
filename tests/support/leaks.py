"""The leak checks every test runs under (an autouse fixture, loaded as a plugin).

The socket file descriptors of the process are compared before and after each
test (after ``gc.collect()``), so a test that leaves a socket open fails.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest


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


@pytest.fixture(autouse=True)
def no_socket_leak(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if it leaves a socket open (servers included: they stop with it).

    A socket that only garbage still holds counts as closed: ``gc.collect()`` runs
    before the verdict.

    This is a sync fixture, so it is set up before the test's trio run starts and
    torn down after it ended; trio's own wakeup sockets are gone by then.
    """
    if request.node.get_closest_marker("allow_socket_leak"):  # pragma: no cover
        yield
        return
    before = socket_fds()  # garbage collected later can only shrink "after"
    yield

    def leaked_now() -> dict[int, str]:
        after = socket_fds()
        return {fd: target for fd, target in after.items() if before.get(fd) != target}

    leaked = leaked_now()
    if leaked:  # only garbage holding them? (gc.collect() is slow: only when needed)
        gc.collect()
        leaked = leaked_now()
    assert not leaked, f"socket(s) left open by the test: {leaked}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_socket_leak: skip the socket-leak check for this test"
    )
