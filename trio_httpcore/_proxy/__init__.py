"""Proxies: HTTP forwarding and CONNECT tunnels, and SOCKS5, each a pool whose connections open
through the proxy."""
