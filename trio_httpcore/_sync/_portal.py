"""A portal: one background thread running trio, and blocking calls into it from any thread.

Blocking APIs (the sync pools and proxies, the client layer's ``Client``)
run the one async implementation on a :class:`Portal`: a daemon thread whose
``trio.run`` keeps a nursery open until the portal closes. There is no
generated sync copy of any protocol.

Using it::

    portal = Portal("Client", async_api="AsyncClient (`async with AsyncClient() as c`)")
    client = portal.enter_async_context(AsyncClient(...))  # entered in the trio thread
    response = portal.run(client.get, url)                 # blocks this thread only
    portal.close()                                         # exits AsyncClient, joins the thread

* :meth:`Portal.enter_async_context` enters an async context manager in a
  task of the portal that lives until :meth:`Portal.close`, which exits the
  entered managers last-in first-out. This is how a nursery-owning object
  (``AsyncConnectionPool``) is kept open: trio requires a nursery to be
  exited by the task that entered it.
* :meth:`Portal.run` runs ``await async_fn(*args)`` in a task of the portal
  (tasks are reused from call to call: a call must not leave context
  variables set), under a cancel scope of its own, and returns its result or raises
  its exception: the same object, so class, ``__cause__`` and traceback are
  kept. Any number of threads may call it at once: the calls run
  concurrently in the one trio loop, so they share the objects living there
  (connections, HTTP/2 streams) with trio's own guarantees, and no lock.
* :meth:`Portal.run_sync` runs a plain function in the trio thread (to read
  state that only the trio thread changes).
* :meth:`Portal.call_soon` schedules a plain function in the trio thread
  without waiting and without taking any lock: the one call that is safe
  from ``__del__`` and from garbage collection at any point.
* :meth:`Portal.start_task` is ``nursery.start()`` across threads: it returns
  what the task passes to ``task_status.started()``, and the task goes on in
  the portal (the sync pool's request task goes on reading the response body).
  Its ``task_status`` is a :class:`CallStatus`, which also gives the call's
  cancel scope, to stop the task once it goes on unattended.

Rules:

* The thread starts on first use, or on :meth:`Portal.start`; it stops on
  :meth:`Portal.close`, or when the portal is garbage-collected, or at
  interpreter exit (a ``weakref.finalize``), so forgetting ``close()`` never
  hangs the interpreter. A closed portal cannot be restarted; calls raise
  :class:`PortalClosed` (a ``RuntimeError``).
* Blocking calls from inside a trio run (any thread where
  ``trio.lowlevel.current_trio_token()`` succeeds, the portal's own thread included)
  raise ``RuntimeError`` naming the async API to use instead: blocking
  there would stall that event loop, or deadlock the portal.
* If the waiting thread is interrupted (``KeyboardInterrupt`` from Ctrl-C,
  or any exception a signal handler raises), the call is cancelled in the
  trio thread, the caller waits for it to end, and the interruption is
  re-raised. If the call had already produced a value, ``discard(value)``
  runs in the portal first (for a response: close it, so its connection is
  not held by nobody).
* Closing exits the entered context managers, then cancels the calls still
  running (their callers get :class:`PortalClosed`), then joins the thread.
* A waiting thread sleeps on its :class:`Parker`; the trio thread wakes it
  at the end of its batch of task steps (:class:`_Waker`), with the GIL
  released: one context switch each way per call, when nothing else runs.
"""

from __future__ import annotations

import os
import select
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, suppress
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import outcome
import trio

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

if TYPE_CHECKING:
    from typing_extensions import TypeVarTuple, Unpack

    PosArgsT = TypeVarTuple("PosArgsT")

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)

# How long a waiting thread sleeps between checks of what it waits for. It is
# woken at once when that happens; the slice bounds what a lost wake-up costs
# (a signal handler that itself calls the portal, while the thread waited, may
# take the thread's wake-up), and how late Ctrl-C is seen where a wait cannot
# be interrupted.
WAIT_SLICE = 0.1


def _current_token_exists() -> bool:
    try:
        trio.lowlevel.current_trio_token()
    except RuntimeError:
        return False
    return True


# Whether this thread is inside a trio run (in_trio_run() is trio >= 0.26, and cheaper).
_in_trio_run: Callable[[], bool] = getattr(trio.lowlevel, "in_trio_run", _current_token_exists)


class PortalClosed(RuntimeError):
    """The portal was closed: before the call, or while it ran."""


class Parker:
    """Where a thread sleeps until the trio thread wakes it: one per thread, reused.

    A wake-up is a byte written to a pipe: a system call that CPython makes with
    the interpreter lock (GIL) released, so the woken thread finds it free. (A
    ``threading.Lock`` released by the trio thread wakes its waiter while the
    trio thread still holds the GIL: the waiter runs only to block on the GIL,
    and the scheduler tends to run it at once on the trio thread's core. That
    costs about four context switches more per handoff, measured.)

    Wake-ups may be spurious (one may outlive the wait it was meant for), so
    whoever parks checks again what it waits for, in a loop.
    """

    _local = threading.local()

    @classmethod
    def current(cls) -> Parker:
        """The calling thread's parker."""
        try:
            parker: Parker = cls._local.parker
        except AttributeError:
            parker = cls._local.parker = cls._new()
        return parker

    @classmethod
    def _new(cls) -> Parker:
        if _NO_POLL:
            return _LockParker()
        try:
            return cls()
        except OSError:  # out of file descriptors: slower, but the call goes on
            return _LockParker()

    def __init__(self) -> None:
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._poll = select.poll()
        self._poll.register(self._read_fd, select.POLLIN)
        # Closed once nothing holds the parker, hence once no trio thread can
        # write to it; never at interpreter exit, while a daemon portal thread may.
        weakref.finalize(self, _close_pipe, self._read_fd, self._write_fd).atexit = False

    def park(self) -> None:
        """Sleep until woken, ``WAIT_SLICE`` at most; a signal handler's exception ends it."""
        if self._poll.poll(WAIT_SLICE * 1000):
            with suppress(BlockingIOError):  # a nested park (a signal handler's) took it
                os.read(self._read_fd, 64)

    def unpark(self) -> None:
        """Wake the thread (if parked; else its next ``park`` returns at once). Any thread."""
        with suppress(BlockingIOError):  # the pipe is full: wake-ups are pending anyway
            os.write(self._write_fd, b"\0")


class _LockParker(Parker):
    """A lock, released to wake: the parker where a pipe cannot be polled (no
    ``select.poll``: Windows) or made (no file descriptors left).

    It has the GIL handoff cost that :class:`Parker` avoids. Where a lock wait
    cannot be interrupted (Windows), Ctrl-C is seen within ``WAIT_SLICE``.
    """

    def __init__(self) -> None:  # no pipe: the base class's is not made
        self._lock = threading.Lock()
        self._lock.acquire()

    def park(self) -> None:
        self._lock.acquire(timeout=WAIT_SLICE)

    def unpark(self) -> None:
        with suppress(RuntimeError):  # released already: a wake-up is pending
            self._lock.release()


_NO_POLL = not hasattr(select, "poll")


def _close_pipe(read_fd: int, write_fd: int) -> None:
    os.close(read_fd)
    os.close(write_fd)


def _forget_parkers() -> None:
    # A forked child must not share its parent's pipes: each would take the other's wake-ups.
    Parker._local = threading.local()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parkers)


class CallStatus(trio.TaskStatus[T_contra], Protocol[T_contra]):
    """The ``task_status`` of a task run by :meth:`Portal.start_task`."""

    @property
    def cancel_scope(self) -> trio.CancelScope:
        """The scope the task runs under, as the call's: cancelling it stops the task
        (before ``started``, as an interrupt of the caller would)."""
        ...


class _Call(Generic[T]):
    """One blocking call: what to run, its cancel scope, and how the caller learns the end.

    The trio thread sets ``finished`` once ``result`` is set (or left ``None``:
    the caller interrupted the call and its own cancel scope caught the
    cancellation, or it never started), and has ``waker`` wake the caller's ``parker``.
    ``spawned`` and ``finished`` are set by the trio thread when it takes the
    call up and when it hands the result over. A call made with
    :meth:`Portal.start_task` is its own ``task_status``: :meth:`started`
    hands the result over while the task goes on.
    """

    __slots__ = (
        "args",
        "cancel_scope",
        "finished",
        "fn",
        "kwargs",
        "parker",
        "result",
        "spawned",
        "waker",
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        waker: _Waker,
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.cancel_scope = trio.CancelScope()
        self.spawned = False
        self.finished = False
        self.result: outcome.Outcome[T] | None = None
        self.parker = Parker.current()
        self.waker = waker

    def finish(self, result: outcome.Outcome[T] | None) -> None:
        self.result = result
        self.finished = True
        self.waker.wake(self.parker)

    def started(self, value: T) -> None:
        if self.finished:
            raise RuntimeError("task_status.started() called twice")
        self.finish(outcome.Value(value))

    def wait(self) -> None:
        while not self.finished:
            self.parker.park()


class _Waker(trio.abc.Instrument):
    """Wakes the threads the trio thread has news for, at the end of its batch of task steps.

    :meth:`wake` (from the trio thread) only queues the thread's parker;
    trio calls :meth:`before_io_wait` once per batch, just before it waits for
    I/O. A thread woken earlier would compete for the GIL with the rest of the
    batch, and the wake-ups of one batch for one thread (several body chunks)
    make one. A thread waits at most one batch longer: the wake-ups go out
    also when the trio thread goes on without sleeping (timeout 0).
    """

    def __init__(self) -> None:
        self._pending: list[Parker] = []

    def wake(self, parker: Parker) -> None:
        """In the trio thread: wake ``parker`` at the end of this batch."""
        self._pending.append(parker)

    def before_io_wait(self, timeout: float) -> None:
        if self._pending:
            self.wake_all()

    def wake_all(self) -> None:
        """Send the queued wake-ups (each at most once: a parker may be queued twice)."""
        pending, self._pending = self._pending, []
        for parker in dict.fromkeys(pending):
            parker.unpark()


class _Entered:
    """An async context manager held open by a task of the portal until told to exit."""

    def __init__(self, manager: AbstractAsyncContextManager[Any]) -> None:
        self._manager = manager
        self._exit = trio.Event()
        self._exited = trio.Event()
        self.error: Exception | None = None

    async def hold(self, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        # An error entering goes to nursery.start(), hence to whoever entered;
        # an error exiting is kept for close() to raise (it must not take the
        # portal's nursery down before the other managers exited).
        entered = False
        try:
            async with self._manager as value:
                task_status.started(value)
                entered = True
                await self._exit.wait()
        except Exception as exc:
            if not entered:
                raise
            self.error = exc
        finally:
            self._exited.set()

    async def exit(self) -> None:
        self._exit.set()
        await self._exited.wait()


class _PortalThread:
    """Everything the portal's thread uses. The :class:`Portal` owns it, never the reverse,
    so a portal nobody holds can be garbage-collected (and its thread stopped)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._state_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self.closed = False
        self.token: trio.lowlevel.TrioToken | None = None
        # Trio-thread state: set in _main, used only by callbacks and tasks there.
        self.nursery: trio.Nursery | None = None
        self._stop_requested: trio.Event | None = None
        self._accepting = False
        self._entered: list[_Entered] = []
        self._idle_workers: list[trio.lowlevel.Task] = []
        self._errors: list[Exception] = []
        self._crash: BaseException | None = None
        self.waker = _Waker()

    # -- From any thread.

    def start(self) -> trio.lowlevel.TrioToken:
        """The trio token, starting the thread first if needed."""
        token = self.token
        if token is not None and not self.closed:
            return token
        with self._state_lock:
            if self.closed:
                raise PortalClosed(f"{self.name} is closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._thread_main, name=self.name, daemon=True
                )
                self._thread.start()
                self._started.wait()
            if self.token is None:
                raise RuntimeError(f"{self.name}: the trio thread failed to start") from self._crash
            return self.token

    def stop(self) -> None:
        """Exit the entered managers, end the thread, and raise what exiting raised.

        Idempotent; from the portal's own thread it only asks the thread to end.
        """
        with self._state_lock:
            if self.closed:
                return
            self.closed = True
            thread, token = self._thread, self.token
        if thread is None or token is None:
            return
        with suppress(trio.RunFinishedError):  # the run crashed: nothing left to stop
            token.run_sync_soon(self._request_stop)
        if thread is threading.current_thread():
            return
        thread.join()
        if self._crash is not None:
            raise RuntimeError(f"{self.name}: the trio thread failed") from self._crash
        if len(self._errors) == 1:
            raise self._errors[0]
        if self._errors:
            raise ExceptionGroup(f"errors closing {self.name}", self._errors)

    # -- The thread.

    def _thread_main(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:  # kept for stop()/start() to raise in a caller
            self._crash = exc
        finally:
            self.waker.wake_all()  # calls that ended in the run's last batch
            self._started.set()  # also when the run failed before starting

    async def _main(self) -> None:
        self._stop_requested = trio.Event()
        trio.lowlevel.add_instrument(self.waker)
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            self._accepting = True
            self.token = trio.lowlevel.current_trio_token()
            self._started.set()
            await self._stop_requested.wait()
            # Order matters: refuse new calls, then exit the managers (a pool
            # closes its connections, so calls using them fail with its own
            # errors), last-in first-out; only then cancel what still runs.
            self._accepting = False
            for entered in reversed(self._entered):
                await entered.exit()
                if entered.error is not None:
                    self._errors.append(entered.error)
            nursery.cancel_scope.cancel()

    def _request_stop(self) -> None:
        assert self._stop_requested is not None
        self._stop_requested.set()

    # -- Callbacks run in the trio thread (trio.lowlevel.TrioToken.run_sync_soon).
    # They must never raise: trio would turn that into a TrioInternalError.

    def spawn(self, call: _Call[Any]) -> None:
        call.spawned = True
        if not self._accepting:
            call.finish(outcome.Error(PortalClosed(f"{self.name} is closed")))
            return
        if self._idle_workers:
            trio.lowlevel.reschedule(self._idle_workers.pop(), outcome.Value(call))
        else:
            assert self.nursery is not None
            self.nursery.start_soon(self._worker, call)

    def abandon(self, call: _Call[Any]) -> None:
        """The caller was interrupted: cancel its call, or end it if it never got here.

        Callbacks run first in, first out: if ``spawn`` was queued for this
        call, it ran before this.
        """
        if call.spawned:
            call.cancel_scope.cancel()
        else:
            call.spawned = True
            call.finish(None)

    def run_sync_now(self, call: _Call[Any]) -> None:
        call.spawned = True
        call.finish(outcome.capture(call.fn, *call.args))

    # -- Tasks.

    async def _worker(self, call: _Call[Any]) -> None:
        """Run calls, one at a time; between them, wait (parked) to be handed the next.

        Reusing tasks spares each call a task spawn. There are as many workers
        as calls ever ran at once; they end with the portal.
        """
        task = trio.lowlevel.current_task()

        def abort(_: Any) -> trio.lowlevel.Abort:
            self._idle_workers.remove(task)  # the portal is closing
            return trio.lowlevel.Abort.SUCCEEDED

        while True:
            await self._run_call(call)
            # Parked, it must not keep the last call alive: its function may hold
            # the portal, which would then never be collected (nor its thread stopped).
            del call
            self._idle_workers.append(task)
            call = await trio.lowlevel.wait_task_rescheduled(abort)

    async def _run_call(self, call: _Call[Any]) -> None:
        try:
            with call.cancel_scope:
                value = await call.fn(*call.args, **call.kwargs)
                if not call.finished:
                    call.finish(outcome.Value(value))
        except trio.Cancelled:
            # Not the call's own scope (that one catches its Cancelled): the portal is closing.
            if not call.finished:
                call.finish(
                    outcome.Error(PortalClosed(f"{self.name} was closed while the call ran"))
                )
            raise
        except BaseException as exc:
            if call.finished:
                raise  # a started task's own error: nobody is left to hand it to
            call.finish(outcome.Error(exc))
        finally:
            if not call.finished:
                call.finish(None)  # cancelled by its own scope: the caller was interrupted

    async def enter(self, manager: AbstractAsyncContextManager[T]) -> T:
        assert self.nursery is not None
        entered = _Entered(manager)
        value: T = await self.nursery.start(entered.hold)
        self._entered.append(entered)
        return value


class Portal:
    """A trio thread that blocking code calls into; see the module docstring for the rules.

    ``name`` names the owner in errors and the thread (``"SyncConnectionPool"``);
    ``async_api`` is what to use instead from async code, for the error raised
    when a blocking call is made inside a trio run.
    """

    def __init__(self, name: str, *, async_api: str) -> None:
        self._name = name
        self._async_api = async_api
        self._thread = _PortalThread(name)
        self._finalizer = weakref.finalize(self, self._thread.stop)

    def __repr__(self) -> str:
        state = "closed" if self._thread.closed else "open"
        return f"<Portal {self._name} {state}>"

    @property
    def closed(self) -> bool:
        return self._thread.closed

    def check_not_in_trio(self) -> None:
        """Raise ``RuntimeError`` (naming the async API) if this thread is in a trio run."""
        if not _in_trio_run():
            return
        raise RuntimeError(
            f"{self._name} blocks the calling thread, so it cannot be used inside a trio "
            f"run (it would stall the event loop): use {self._async_api} instead"
        )

    def start(self) -> None:
        """Start the thread now rather than on first use."""
        self.check_not_in_trio()
        self._thread.start()

    def close(self) -> None:
        """Exit the entered managers (raising what they raise), stop and join the thread."""
        self.check_not_in_trio()
        self._finalizer()

    def enter_async_context(self, manager: AbstractAsyncContextManager[T]) -> T:
        """Enter ``manager`` in the trio thread; it is exited by :meth:`close`."""
        return self.run(self._thread.enter, manager)

    def run(
        self,
        async_fn: Callable[[Unpack[PosArgsT]], Awaitable[T]],
        *args: Unpack[PosArgsT],
        discard: Callable[[T], Awaitable[object]] | None = None,
    ) -> T:
        """``await async_fn(*args)`` in the trio thread; block until it ends and pass on its end.

        ``discard`` handles a value produced although the caller was
        interrupted (see the module docstring).
        """
        result: T = self._call(_Call(async_fn, args, {}, self._thread.waker), discard)
        return result

    def start_task(
        self,
        async_fn: Callable[..., Awaitable[object]],
        *args: object,
        discard: Callable[[Any], Awaitable[object]] | None = None,
    ) -> Any:
        """``nursery.start()`` across threads: run ``async_fn(*args, task_status=...)`` in
        the trio thread, and return the value it passes to ``task_status.started()``.

        The task goes on in the portal after that, under the cancel scope of the
        call (an interrupt before ``started`` cancels it, as in :meth:`run`),
        until it returns or the portal closes. After ``started`` it must handle
        its own errors: nobody is left to receive them, so one would stop the portal.
        """
        call: _Call[Any] = _Call(async_fn, args, {"task_status": None}, self._thread.waker)
        return self._call(call, discard)

    def _call(self, call: _Call[T], discard: Callable[[T], Awaitable[object]] | None) -> T:
        self.check_not_in_trio()
        thread = self._thread
        token = thread.start()
        if "task_status" in call.kwargs:
            call.kwargs["task_status"] = call
        try:
            try:
                token.run_sync_soon(thread.spawn, call)
            except trio.RunFinishedError:
                raise PortalClosed(f"{self._name} is closed") from None
            call.wait()
        except PortalClosed:
            raise
        except BaseException:
            # Interrupted (Ctrl-C) while submitting or waiting: cancel the call
            # where it runs, and let it end before we go, so nothing is left
            # half-done. (If the run is over, it ended the call already.)
            with suppress(trio.RunFinishedError):
                token.run_sync_soon(thread.abandon, call)
                call.wait()
            if discard is not None and isinstance(call.result, outcome.Value):
                with suppress(PortalClosed):  # closed meanwhile: it closed everything
                    self.run(discard, call.result.value)
            raise
        # Only an interrupted call ends without a result. Taken, not kept: a task that goes
        # on (start_task) must not keep its value alive.
        result, call.result = call.result, None
        assert result is not None
        return result.unwrap()

    def run_sync(self, fn: Callable[[Unpack[PosArgsT]], T], *args: Unpack[PosArgsT]) -> T:
        """``fn(*args)`` in the trio thread, between its tasks' steps."""
        self.check_not_in_trio()
        thread = self._thread
        token = thread.start()
        call: _Call[T] = _Call(fn, args, {}, thread.waker)
        try:
            token.run_sync_soon(thread.run_sync_now, call)
        except trio.RunFinishedError:
            raise PortalClosed(f"{self._name} is closed") from None
        call.wait()
        assert call.result is not None
        return call.result.unwrap()

    def wake(self, parker: Parker) -> None:
        """In the trio thread: wake the thread of ``parker`` at the end of this batch of task
        steps (see :class:`_Waker`), for it to check again what it waits for."""
        self._thread.waker.wake(parker)

    def call_soon(self, fn: Callable[[Unpack[PosArgsT]], object], *args: Unpack[PosArgsT]) -> None:
        """Schedule ``fn(*args)`` in the trio thread and return at once.

        Takes no lock and never raises, so ``__del__`` may call it from any
        thread, the portal's own included. Does nothing unless the portal is
        running (a closed portal closed whatever the call would close).
        ``fn`` must not raise: trio would stop the portal with a TrioInternalError.
        """
        thread = self._thread
        token = thread.token
        if token is None or thread.closed:
            return
        with suppress(trio.RunFinishedError):
            token.run_sync_soon(fn, *args)
