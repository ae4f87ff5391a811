"""Fixtures of the reliability suites: the threaded servers of ``tests/support/threaded.py``."""

from __future__ import annotations

from tests.support.threaded import h2_server, h11_server, slow

__all__ = ["h11_server", "h2_server", "slow"]
