"""Proxies: HTTP forwarding and CONNECT tunnels, and SOCKS5, each a pool whose connections open
through the proxy."""

from ._http import AsyncHTTPProxy
from ._socks import AsyncSOCKSProxy

__all__ = ["AsyncHTTPProxy", "AsyncSOCKSProxy"]
