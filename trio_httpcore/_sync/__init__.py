"""The blocking bridge: a portal thread runs the async implementation; sync callers hand work
over and park until it is done. The sync pools and ``Client`` share one read-ahead body bridge
and one open-once helper."""

from ._client import Client
from ._pool import SyncConnectionPool
from ._portal import Portal
from ._proxy import SyncHTTPProxy, SyncSOCKSProxy

__all__ = ["Client", "Portal", "SyncConnectionPool", "SyncHTTPProxy", "SyncSOCKSProxy"]
