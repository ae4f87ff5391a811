"""Tracing a request's steps: httpcore's ``ext["trace"]`` callback and DEBUG logging.

A step is reported as ``<name>.started`` with its inputs, then ``<name>.complete``
with its result or ``<name>.failed`` with the error, to the request's
``trace(event_name, info)`` callback (a coroutine function, or a plain one) as
``<logger suffix>.<name>.<state>``, and as a DEBUG record of its logger
(``trio_httpcore.connection``, ``trio_httpcore.http11``). With neither a callback
nor DEBUG enabled there is no tracer, and a step costs one ``is None`` test.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from .._types import Extensions

TraceCallback = Callable[[str, dict[str, Any]], Awaitable[None] | None]


class Tracer:
    """Reports the steps of one request to its trace callback and to ``logger``."""

    __slots__ = ("_callback", "_logger", "_prefix")

    def __init__(self, logger: logging.Logger, callback: TraceCallback | None) -> None:
        self._logger = logger
        self._callback = callback
        self._prefix = logger.name.rpartition(".")[2]

    async def __call__(self, event: str, info: dict[str, Any] | None = None) -> None:
        """Report ``event`` (e.g. ``"connect_tcp.started"``) with ``info``."""
        info = info or {}
        if self._callback is not None:
            result = self._callback(f"{self._prefix}.{event}", info)
            if inspect.isawaitable(result):
                await result
        if self._logger.isEnabledFor(logging.DEBUG):
            if not info or info.get("return_value", ...) is None:
                self._logger.debug(event)
            else:
                arguments = " ".join(f"{key}={value!r}" for key, value in info.items())
                self._logger.debug("%s %s", event, arguments)


def tracer_for(logger: logging.Logger, ext: Extensions) -> Tracer | None:
    """The tracer of a request with extensions ``ext``, or ``None`` when nobody listens."""
    callback = ext.get("trace")
    if callback is None and not logger.isEnabledFor(logging.DEBUG):
        return None
    return Tracer(logger, callback)


Result = TypeVar("Result")


async def traced(
    trace: Tracer | None, step: str, info: dict[str, Any], work: Coroutine[Any, Any, Result]
) -> Result:
    """Await ``work``, reported to ``trace`` as the step ``step``: started, then complete
    with its result, or failed with its error (cancellation is not reported)."""
    if trace is None:
        return await work
    try:
        await trace(f"{step}.started", info)
    except BaseException:
        work.close()  # never started: closed rather than left for the collector to warn about
        raise
    try:
        result = await work
    except Exception as exc:
        await trace(f"{step}.failed", {"exception": exc})
        raise
    await trace(f"{step}.complete", {"return_value": result})
    return result
