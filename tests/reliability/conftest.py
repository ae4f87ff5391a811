"""Fixtures of the reliability suites.

The servers come from ``tests/_servers.py`` (read-only reuse). The sync
facade's threaded servers are borrowed from ``tests/sync/conftest.py`` for the
FIELD-LESSONS rows this suite adds (13, 14, 23).
"""

from __future__ import annotations

from tests.sync.conftest import h2_server, h11_server, slow

__all__ = ["h11_server", "h2_server", "slow"]
