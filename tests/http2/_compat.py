"""Marks for tests of what only _h2compat's shortcuts give (skipped on stock h2)."""

from __future__ import annotations

import pytest

from trio_httpcore._http2 import _h2compat

# Stock h2 (TRIO_HTTPCORE_H2_STOCK=1, or an h2 without its frame dispatch table)
# fails the connection for a body that disagrees with its content-length.
needs_frame_hooks = pytest.mark.skipif(
    not _h2compat.FRAME_HOOKS,
    reason="stream-scoped body-length errors need h2's frame dispatch table (stock h2 fails "
    "the connection)",
)
