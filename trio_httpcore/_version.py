"""The package's version: one place, read by the root, the client's User-Agent and the CLI."""

__version__ = "0.1.0.dev0"
