"""The transport layer: one request in, one response out, with raw bytes."""
