"""Tests of the HTTP/1.1 driver (trio_httpcore._http11)."""
