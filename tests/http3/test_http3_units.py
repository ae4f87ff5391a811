"""The I/O-free parts of HTTP/3: the Alt-Svc policy and the control stream's GOAWAY reader."""

from __future__ import annotations

import pytest

from trio_httpcore._http3 import HTTP3Policy, parse_alt_svc
from trio_httpcore._http3._control import ControlStreamReader

ORIGIN = (b"https", b"example.org", 443)


def test_parse_alt_svc() -> None:
    entries = parse_alt_svc('h3=":8443"; ma=60, h2="other.example:443", bad, h3="no-port"')
    assert entries is not None
    assert [(e.protocol, e.host, e.port, e.max_age) for e in entries] == [
        ("h3", "", 8443, 60.0),
        ("h2", "other.example", 443, 86400.0),
    ]
    assert parse_alt_svc("clear") is None


def test_advertised_port_is_used_until_max_age() -> None:
    policy = HTTP3Policy("alt-svc")
    assert policy.target(ORIGIN, 0.0) is None
    assert policy.observe(ORIGIN, [(b"Alt-Svc", b'h3=":8443"; ma=10')], 0.0)
    assert policy.target(ORIGIN, 5.0) == 8443
    assert not policy.observe(ORIGIN, [(b"alt-svc", b'h3=":8443"; ma=10')], 5.0)
    assert policy.target(ORIGIN, 16.0) is None
    policy.observe(ORIGIN, [(b"alt-svc", b'h3=":8443"')], 20.0)
    policy.observe(ORIGIN, [(b"alt-svc", b"clear")], 21.0)
    assert policy.target(ORIGIN, 21.0) is None


def test_other_hosts_and_plain_http_are_ignored() -> None:
    policy = HTTP3Policy("alt-svc")
    assert not policy.observe(ORIGIN, [(b"alt-svc", b'h3="cdn.example:443"')], 0.0)
    http_origin = (b"http", b"example.org", 80)
    assert not policy.observe(http_origin, [(b"alt-svc", b'h3=":443"')], 0.0)
    assert HTTP3Policy("prior").target(http_origin, 0.0) is None


@pytest.mark.parametrize("mode", ["prior", "alt-svc"])
def test_a_failed_handshake_sends_the_origin_to_tcp_for_a_while(mode: str) -> None:
    policy = HTTP3Policy(mode)  # type: ignore[arg-type]
    policy.observe(ORIGIN, [(b"alt-svc", b'h3=":443"')], 0.0)
    assert policy.target(ORIGIN, 0.0) == 443
    policy.failed(ORIGIN, 0.0)
    assert policy.target(ORIGIN, 299.0) is None
    assert policy.target(ORIGIN, 301.0) == 443
    policy.failed(ORIGIN, 400.0)
    policy.succeeded(ORIGIN)
    assert policy.target(ORIGIN, 401.0) == 443


def test_http3_only_ignores_failures() -> None:
    policy = HTTP3Policy("only")
    policy.failed(ORIGIN, 0.0)
    assert policy.target(ORIGIN, 1.0) == 443


def test_goaway_is_read_from_the_control_stream_byte_by_byte() -> None:
    # Stream type 0 (control); SETTINGS (type 4, 2 bytes); an unknown frame
    # (type 0x21, 3 bytes); GOAWAY (type 7) with stream id 400 (2-byte varint 0x4190).
    data = bytes([0x00, 0x04, 0x02, 0x01, 0x02, 0x21, 0x03, 9, 9, 9, 0x07, 0x02, 0x41, 0x90])
    reader = ControlStreamReader()
    found = []
    for i in range(len(data)):
        found += reader.feed(data[i : i + 1])
    assert found == [400]
    assert ControlStreamReader().feed(data) == [400]


def test_other_unidirectional_streams_are_ignored() -> None:
    reader = ControlStreamReader()
    assert reader.feed(bytes([0x02, 0x07, 0x01, 0x00])) == []  # a QPACK encoder stream
    assert reader.feed(bytes([0x07, 0x01, 0x00])) == []
