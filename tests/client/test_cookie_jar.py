"""The cookie jar's rules: domain, path, expiry, Secure, host-only, HttpOnly."""

from __future__ import annotations

from http.cookiejar import CookieJar

import pytest

from trio_httpcore._client._cookies import Cookies
from trio_httpcore._client._models import Request, Response
from trio_httpcore._exceptions import CookieConflict


def _receive(cookies: Cookies, url: str, *set_cookie: str) -> None:
    request = Request("GET", url)
    response = Response(
        200, headers=[("Set-Cookie", value) for value in set_cookie], request=request
    )
    cookies.extract_cookies(response)


def _sent(cookies: Cookies, url: str) -> str | None:
    request = Request("GET", url)
    cookies.set_cookie_header(request)
    return request.headers.get("Cookie")


def test_domain_cookie_reaches_subdomains_host_only_does_not() -> None:
    cookies = Cookies()
    _receive(
        cookies,
        "https://www.example.org/",
        "dom=1; Domain=example.org",
        "host=2",
    )
    assert _sent(cookies, "https://www.example.org/") == "dom=1; host=2"
    assert _sent(cookies, "https://api.example.org/") == "dom=1"
    assert _sent(cookies, "https://example.com/") is None


def test_a_domain_cookie_for_another_site_is_refused() -> None:
    cookies = Cookies()
    _receive(cookies, "https://www.example.org/", "evil=1; Domain=example.com")
    assert len(cookies) == 0


def test_path_matching() -> None:
    cookies = Cookies()
    _receive(cookies, "http://example.org/app/login", "p=1; Path=/app")
    assert _sent(cookies, "http://example.org/app/x") == "p=1"
    assert _sent(cookies, "http://example.org/application") is None
    assert _sent(cookies, "http://example.org/") is None


def test_secure_cookies_go_over_https_only() -> None:
    cookies = Cookies()
    _receive(cookies, "https://example.org/", "s=1; Secure", "plain=2")
    assert set((_sent(cookies, "https://example.org/") or "").split("; ")) == {"plain=2", "s=1"}
    assert _sent(cookies, "http://example.org/") == "plain=2"


def test_expired_cookies_are_dropped_and_max_age_zero_deletes() -> None:
    cookies = Cookies()
    _receive(cookies, "http://example.org/", "old=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    assert "old" not in cookies
    _receive(cookies, "http://example.org/", "k=1; Max-Age=3600")
    assert cookies["k"] == "1"
    _receive(cookies, "http://example.org/", "k=1; Max-Age=0")
    assert "k" not in cookies


def test_httponly_is_kept() -> None:
    cookies = Cookies()
    _receive(cookies, "http://example.org/", "h=1; HttpOnly")
    (cookie,) = list(cookies.jar)
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert _sent(cookies, "http://example.org/") == "h=1"


def test_mapping_interface_and_disambiguation() -> None:
    cookies = Cookies({"a": "1"})
    cookies["b"] = "2"
    cookies.set("c", "3", domain="example.org", path="/x")
    cookies.set("c", "4", domain="example.com")
    assert cookies["a"] == "1" and cookies.get("missing") is None
    assert sorted(cookies) == ["a", "b", "c", "c"]
    with pytest.raises(CookieConflict, match="several cookies"):
        cookies.get("c")
    assert cookies.get("c", domain="example.com") == "4"
    cookies.delete("c", domain="example.com")
    assert cookies["c"] == "3"
    del cookies["a"]
    with pytest.raises(KeyError):
        del cookies["a"]
    with pytest.raises(KeyError):
        cookies["a"]
    copy = Cookies(cookies)
    copy.update({"z": "9"}, y="8")
    assert copy["z"] == "9" and copy["y"] == "8" and "z" not in cookies
    assert bool(Cookies()) is False and bool(copy) is True
    assert "=..." in repr(copy) and "9" not in repr(copy)
    cookies.clear(domain="example.org")
    assert "c" not in cookies
    cookies.clear()
    assert len(cookies) == 0


def test_get_by_domain_matches_the_domain_exactly() -> None:
    """``domain=`` names one domain: not its parent, not a subdomain, not a name that
    merely ends with it or contains it."""
    cookies = Cookies()
    cookies.set("c", "parent", domain="example.org")
    cookies.set("c", "sub", domain="www.example.org")
    cookies.set("c", "look-alike", domain="badexample.org")
    assert cookies.get("c", domain="example.org") == "parent"
    assert cookies.get("c", domain="www.example.org") == "sub"
    assert cookies.get("c", domain="badexample.org") == "look-alike"
    assert cookies.get("c", domain="ample.org") is None
    assert cookies.get("c", domain="org") is None
    assert cookies.get("c", domain="api.www.example.org") is None


def test_wraps_an_existing_jar() -> None:
    jar = CookieJar()
    cookies = Cookies(jar)
    cookies["a"] = "1"
    assert cookies.jar is jar and len(jar) == 1
    assert Cookies([("x", "1")])["x"] == "1"
