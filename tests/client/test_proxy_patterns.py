"""proxies= patterns and proxies from the environment."""

from __future__ import annotations

import pytest

from trio_httpcore._client._proxies import URLPattern, environment_proxies, sorted_patterns
from trio_httpcore._client._urls import URL
from trio_httpcore._exceptions import InvalidURL


@pytest.mark.parametrize(
    ("pattern", "url", "matches"),
    [
        ("all://", "http://example.org", True),
        ("http://", "https://example.org", False),
        ("https://", "https://example.org", True),
        ("all://example.org", "http://example.org/x", True),
        ("all://example.org", "http://www.example.org/x", False),
        ("all://*.example.org", "http://www.example.org", True),
        ("all://*.example.org", "http://example.org", False),
        ("all://*example.org", "http://example.org", True),
        ("all://*example.org", "http://notexample.org", False),
        ("https://example.org:8443", "https://example.org:8443/", True),
        ("https://example.org:8443", "https://example.org/", False),
        ("all://10.0.0.0/8", "http://10.1.2.3/", True),
        ("all://10.0.0.0/8", "http://11.1.2.3/", False),
        ("all://10.0.0.0/8", "http://example.org/", False),
        ("all://[::1]", "http://[::1]:8080/", True),
        ("all://127.0.0.1", "http://127.0.0.1/", True),
    ],
)
def test_pattern_matching(pattern: str, url: str, matches: bool) -> None:
    assert URLPattern(pattern).matches(URL(url)) is matches


def test_most_specific_first() -> None:
    keys = ["all://", "https://", "all://example.org", "https://example.org:8443", "all://*.org"]
    ordered = [p.pattern for p in sorted_patterns(dict.fromkeys(keys))]
    assert ordered == [
        "https://example.org:8443",
        "all://example.org",
        "all://*.org",
        "https://",
        "all://",
    ]


def test_a_key_that_is_not_a_pattern() -> None:
    with pytest.raises(InvalidURL, match="not a URL pattern"):
        URLPattern("example.org")


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    monkeypatch.setenv("HTTPS_PROXY", "proxy:3129")
    monkeypatch.setenv("ALL_PROXY", "socks5://proxy:1080")
    monkeypatch.setenv("NO_PROXY", "localhost, .internal,example.org,10.0.0.0/8,::1,*.wild.net")
    proxies = environment_proxies()
    assert proxies == {
        "http://": "http://proxy:3128",
        "https://": "http://proxy:3129",
        "all://": "socks5://proxy:1080",
        "all://*localhost": None,
        "all://*.internal": None,
        "all://*example.org": None,
        "all://10.0.0.0/8": None,
        "all://[::1]": None,
        "all://*.wild.net": None,
    }
    patterns = {p.pattern: p for p in sorted_patterns(proxies)}
    assert patterns["all://*example.org"].matches(URL("http://api.example.org"))
    assert patterns["all://[::1]"].matches(URL("http://[::1]/"))
    monkeypatch.setenv("NO_PROXY", "*")
    assert environment_proxies()["all://"] is None
