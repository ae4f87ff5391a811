"""The portal (``trio_httpcore._sync._portal``): a trio thread blocking code calls into."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
import trio
import trio.testing

from trio_httpcore._sync._portal import Parker, Portal, PortalClosed, _LockParker


def portal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("test portal")]


@pytest.fixture
def portal() -> Iterator[Portal]:
    portal = Portal("test portal", async_api="the async API")
    yield portal
    portal.close()
    assert not portal_threads()


class Boom(Exception):
    pass


async def fail_with_cause() -> None:
    try:
        raise KeyError("the cause")
    except KeyError as exc:
        raise Boom("the error") from exc


def test_thread_starts_on_first_use_and_stops_on_close() -> None:
    portal = Portal("test portal", async_api="the async API")
    assert not portal_threads()
    assert portal.run_sync(threading.get_ident) != threading.get_ident()
    [thread] = portal_threads()
    assert thread.daemon
    portal.close()
    assert not thread.is_alive()
    portal.close()  # idempotent
    with pytest.raises(PortalClosed, match="test portal is closed"):
        portal.run(trio.sleep, 0)


def test_explicit_start(portal: Portal) -> None:
    portal.start()
    [thread] = portal_threads()
    portal.run(trio.sleep, 0)
    assert portal_threads() == [thread]


def test_calls_run_in_the_portal_thread_in_trio(portal: Portal) -> None:
    async def where() -> tuple[int, str]:
        await trio.lowlevel.checkpoint()
        return threading.get_ident(), trio.lowlevel.current_task().name

    ident, _ = portal.run(where)
    [thread] = portal_threads()
    assert ident == thread.ident
    assert portal.run_sync(threading.get_ident) == thread.ident


def test_close_unstarted_portal_starts_nothing() -> None:
    portal = Portal("test portal", async_api="the async API")
    portal.close()
    assert not portal_threads()
    with pytest.raises(PortalClosed):
        portal.start()


def test_exceptions_reach_the_caller_unchanged(portal: Portal) -> None:
    with pytest.raises(Boom, match="the error") as info:
        portal.run(fail_with_cause)
    assert type(info.value.__cause__) is KeyError
    assert info.value.__cause__.args == ("the cause",)
    # The very same object, not a copy.
    error = Boom("prepared")

    async def raise_it() -> None:
        raise error

    with pytest.raises(Boom) as info:
        portal.run(raise_it)
    assert info.value is error
    with pytest.raises(ZeroDivisionError):
        portal.run_sync(lambda: 1 / 0)


def test_concurrent_callers_share_the_trio_loop(portal: Portal) -> None:
    """N threads block in run() at once; their calls meet inside the one trio loop."""
    n = 16
    everyone_in = trio.Event()
    arrived = 0

    async def meet() -> int:
        nonlocal arrived
        arrived += 1  # only the trio thread touches it: no lock
        if arrived == n:
            everyone_in.set()
        await everyone_in.wait()
        return arrived

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(portal.run(meet))) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [n] * n


async def test_blocking_calls_from_inside_trio_raise() -> None:
    portal = Portal("test portal", async_api="the async API")
    for call in (portal.start, portal.close, lambda: portal.run(trio.sleep, 0)):
        with pytest.raises(RuntimeError, match=r"inside a trio run.*use the async API instead"):
            call()
    assert not portal_threads()


def test_calls_from_the_portal_thread_itself_raise(portal: Portal) -> None:
    async def reenter() -> None:
        portal.run(trio.sleep, 0)

    with pytest.raises(RuntimeError, match="inside a trio run"):
        portal.run(reenter)


def test_entered_contexts_exit_last_in_first_out_at_close() -> None:
    portal = Portal("test portal", async_api="the async API")
    log: list[str] = []

    @asynccontextmanager
    async def resource(name: str) -> AsyncIterator[str]:
        # A nursery: trio requires the task that entered it to exit it.
        async with trio.open_nursery():
            log.append(f"enter {name}")
            yield name.upper()
            log.append(f"exit {name}")

    assert portal.enter_async_context(resource("a")) == "A"
    assert portal.enter_async_context(resource("b")) == "B"
    portal.close()
    assert log == ["enter a", "enter b", "exit b", "exit a"]


def test_errors_entering_and_exiting_reach_the_caller() -> None:
    portal = Portal("test portal", async_api="the async API")

    @asynccontextmanager
    async def fails_entering() -> AsyncIterator[None]:
        await fail_with_cause()
        yield  # pragma: no cover

    @asynccontextmanager
    async def fails_exiting() -> AsyncIterator[None]:
        yield
        raise Boom("exiting")

    with pytest.raises(Boom, match="the error"):
        portal.enter_async_context(fails_entering())
    portal.enter_async_context(fails_exiting())
    with pytest.raises(Boom, match="exiting"):
        portal.close()
    assert not portal_threads()


def test_close_cancels_calls_still_running() -> None:
    portal = Portal("test portal", async_api="the async API")
    started = threading.Event()
    errors: list[BaseException] = []

    async def forever() -> None:
        started.set()
        await trio.sleep_forever()

    def caller() -> None:
        try:
            portal.run(forever)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=caller)
    thread.start()
    started.wait()
    portal.close()
    thread.join()
    [error] = errors
    assert isinstance(error, PortalClosed)
    assert "closed while the call ran" in str(error)


class Owner:
    """An object holding a portal, whose calls refer back to it (as a sync pool's do)."""

    def __init__(self) -> None:
        self.portal = Portal("test portal", async_api="the async API")

    async def method(self) -> None:
        await trio.lowlevel.checkpoint()


def test_garbage_collected_portal_stops_its_thread() -> None:
    owner = Owner()
    owner.portal.run(owner.method)  # the worker task that ran it must not keep it alive
    [thread] = portal_threads()
    del owner
    gc.collect()
    assert not thread.is_alive()


def test_call_soon_does_not_wait(portal: Portal) -> None:
    log: list[int] = []
    portal.call_soon(log.append, 1)  # not started: nothing to schedule on, nothing runs
    portal.start()
    portal.call_soon(log.append, 2)
    portal.call_soon(log.append, 3)
    portal.run_sync(log.append, 4)  # callbacks run first in, first out
    assert log == [2, 3, 4]


def test_start_task_returns_at_started_and_the_task_goes_on() -> None:
    portal = Portal("test portal", async_api="the async API")
    go_on = trio.Event()
    log: list[str] = []

    async def task(name: str, *, task_status: trio.TaskStatus[str]) -> None:
        task_status.started(f"{name} started")
        await go_on.wait()
        log.append("went on")
        try:
            await trio.sleep_forever()
        finally:
            log.append("cancelled with the portal")

    assert portal.start_task(task, "t") == "t started"
    assert log == []
    portal.run_sync(go_on.set)
    portal.run(trio.testing.wait_all_tasks_blocked)
    assert log == ["went on"]
    portal.close()  # the task ends with the portal
    assert log == ["went on", "cancelled with the portal"]


def test_start_task_errors_before_started_reach_the_caller(portal: Portal) -> None:
    async def task(*, task_status: trio.TaskStatus[None]) -> None:
        await fail_with_cause()

    with pytest.raises(Boom, match="the error"):
        portal.start_task(task)


@contextmanager
def sigint_handler(handler: Any) -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def send_sigint_when(event: threading.Event) -> threading.Thread:
    """A helper thread that sends SIGINT to this process once ``event`` is set."""

    def send() -> None:
        event.wait()
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def test_keyboard_interrupt_cancels_the_call(portal: Portal) -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    started = threading.Event()
    cancelled = threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            cancelled.set()
            raise

    helper = send_sigint_when(started)
    with pytest.raises(KeyboardInterrupt):
        portal.run(forever)
    helper.join()
    # The caller returned only once the call had ended, cancelled.
    assert cancelled.is_set()
    assert portal.run(trio.sleep, 0) is None  # still usable


def test_value_produced_despite_interrupt_is_discarded(portal: Portal) -> None:
    """Ctrl-C arrives, but the call finishes with a value anyway: ``discard`` gets it."""
    started = threading.Event()
    interrupted = threading.Event()
    finish = trio.Event()
    discarded: list[str] = []

    def on_sigint(signum: int, frame: Any) -> None:
        interrupted.set()
        raise KeyboardInterrupt

    async def uncancellable() -> str:
        started.set()
        with trio.CancelScope(shield=True):
            await finish.wait()
        return "resource"

    async def discard(value: str) -> None:
        discarded.append(value)

    def let_it_finish() -> None:
        interrupted.wait()
        portal.run_sync(finish.set)

    helper = send_sigint_when(started)
    finisher = threading.Thread(target=let_it_finish)
    finisher.start()
    with sigint_handler(on_sigint), pytest.raises(KeyboardInterrupt):
        portal.run(uncancellable, discard=discard)
    helper.join()
    finisher.join()
    assert discarded == ["resource"]


@pytest.mark.parametrize("parker_class", [Parker, _LockParker])
def test_parker_wakes_its_thread_and_keeps_a_wake_up_for_the_next_park(
    parker_class: type[Parker],
) -> None:
    parker = parker_class()
    parker.unpark()
    parker.unpark()  # wake-ups do not add up: one park takes them
    parker.park()  # returns at once
    parked = threading.Event()
    woken = threading.Event()

    def sleeper() -> None:
        parked.set()
        while not woken.is_set():
            parker.park()

    thread = threading.Thread(target=sleeper)
    thread.start()
    parked.wait()
    woken.set()
    parker.unpark()
    thread.join()


def test_each_thread_has_its_parker() -> None:
    mine = Parker.current()
    assert Parker.current() is mine
    theirs: list[Parker] = []
    thread = threading.Thread(target=lambda: theirs.append(Parker.current()))
    thread.start()
    thread.join()
    assert theirs[0] is not mine


def test_forked_child_does_not_share_its_parents_parker() -> None:
    """Parent and child sharing a pipe would take each other's wake-ups."""
    script = (
        "import os\n"
        "from trio_httpcore._sync._portal import Parker\n"
        "parent = Parker.current()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0 if Parker.current() is not parent else 1)\n"
        "print(os.waitpid(pid, 0)[1])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout == "0\n", done.stderr


def test_out_of_file_descriptors_a_thread_parks_on_a_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pipe() -> tuple[int, int]:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(os, "pipe", no_pipe)
    parkers: list[Parker] = []
    thread = threading.Thread(target=lambda: parkers.append(Parker.current()))
    thread.start()
    thread.join()
    assert isinstance(parkers[0], _LockParker)
