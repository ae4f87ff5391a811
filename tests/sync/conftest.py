"""The sync tests' servers run on threads of their own (``tests/support/threaded.py``)."""

from __future__ import annotations

from tests.support.threaded import h2_server, h11_server, slow, tls_h2_server

__all__ = ["h11_server", "h2_server", "slow", "tls_h2_server"]
