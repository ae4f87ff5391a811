"""Opening once: the async object a blocking one wraps is entered in the portal's thread by the
first thread that needs it, while the other threads wait for that one. Exiting it is the
portal's job (:meth:`Portal.close`), so nothing here closes."""

from __future__ import annotations

import threading
from contextlib import AbstractAsyncContextManager

from ._portal import Portal


class OpenOnce:
    """``manager`` entered in ``portal`` on the first call, by one thread; later calls return
    the portal at once (no lock once open)."""

    def __init__(self, portal: Portal, manager: AbstractAsyncContextManager[object]) -> None:
        self._portal = portal
        self._manager = manager
        self._lock = threading.Lock()
        self.opened = False

    def __call__(self) -> Portal:
        """The portal, with the manager entered in it (raises ``PortalClosed`` once closed)."""
        if not self.opened:
            with self._lock:  # one thread enters; the others wait for it
                if not self.opened:
                    self._portal.enter_async_context(self._manager)
                    self.opened = True
        return self._portal
