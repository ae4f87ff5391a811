"""What every protocol's response body shares: holding a connection, and letting go of it."""

from __future__ import annotations

import warnings
from contextlib import suppress

import trio

from .._streams import AsyncByteStream


class ConnectionBoundStream(AsyncByteStream):
    """A response body that holds its connection (or HTTP/2 stream) until read or closed.

    One that is garbage-collected before either warns with ``ResourceWarning``
    and has its connection released. The release is scheduled on the trio
    loop, never run inside ``__del__``: garbage collection can strike in the
    middle of the pool's bookkeeping, which must not be re-entered.
    """

    def __init__(self, origin: str) -> None:
        self._origin = origin
        self._done = False
        self._trio_token = trio.lowlevel.current_trio_token()

    def _abandon(self) -> None:
        """Release the connection of a body nobody will read (subclasses say how)."""
        raise NotImplementedError()

    def _holds_connection(self) -> bool:
        """Whether the connection is still held for this body (not yet released or closed)."""
        raise NotImplementedError()

    def __del__(self) -> None:
        if self._done or not self._holds_connection():
            return
        self._done = True
        # Release first: under an "error" warnings filter the warning raises.
        with suppress(trio.RunFinishedError):
            self._trio_token.run_sync_soon(self._abandon)
        warnings.warn(
            f"a response stream from {self._origin} was garbage-collected without being "
            "read to the end or closed: close it (`await stream.aclose()`) to free its "
            "connection promptly",
            ResourceWarning,
            source=self,
            stacklevel=1,
        )
