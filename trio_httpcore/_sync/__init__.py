"""The blocking bridge: a portal thread runs the async implementation; sync callers hand work
over and park until it is done."""

from ._once import OpenOnce
from ._pool import SyncConnectionPool
from ._portal import Portal
from ._proxy import SyncHTTPProxy, SyncSOCKSProxy

__all__ = ["OpenOnce", "Portal", "SyncConnectionPool", "SyncHTTPProxy", "SyncSOCKSProxy"]
