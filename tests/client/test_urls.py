"""URL and Origin: parsing, normalisation and RFC 3986 reference resolution."""

from __future__ import annotations

import string
from typing import Any
from urllib.parse import urljoin

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from trio_httpcore._client import URL, Origin, QueryParams
from trio_httpcore._exceptions import HTTPError, InvalidURL

BASE = "http://a/b/c/d;p?q"

# RFC 3986 section 5.4.1, "Normal Examples".
NORMAL_EXAMPLES = [
    ("g:h", "g:h"),
    ("g", "http://a/b/c/g"),
    ("./g", "http://a/b/c/g"),
    ("g/", "http://a/b/c/g/"),
    ("/g", "http://a/g"),
    ("//g", "http://g"),
    ("?y", "http://a/b/c/d;p?y"),
    ("g?y", "http://a/b/c/g?y"),
    ("#s", "http://a/b/c/d;p?q#s"),
    ("g#s", "http://a/b/c/g#s"),
    ("g?y#s", "http://a/b/c/g?y#s"),
    (";x", "http://a/b/c/;x"),
    ("g;x", "http://a/b/c/g;x"),
    ("g;x?y#s", "http://a/b/c/g;x?y#s"),
    ("", "http://a/b/c/d;p?q"),
    (".", "http://a/b/c/"),
    ("./", "http://a/b/c/"),
    ("..", "http://a/b/"),
    ("../", "http://a/b/"),
    ("../g", "http://a/b/g"),
    ("../..", "http://a/"),
    ("../../", "http://a/"),
    ("../../g", "http://a/g"),
]

# RFC 3986 section 5.4.2, "Abnormal Examples" (the strict parser's answers).
ABNORMAL_EXAMPLES = [
    ("../../../g", "http://a/g"),
    ("../../../../g", "http://a/g"),
    ("/./g", "http://a/g"),
    ("/../g", "http://a/g"),
    ("g.", "http://a/b/c/g."),
    (".g", "http://a/b/c/.g"),
    ("g..", "http://a/b/c/g.."),
    ("..g", "http://a/b/c/..g"),
    ("./../g", "http://a/b/g"),
    ("./g/.", "http://a/b/c/g/"),
    ("g/./h", "http://a/b/c/g/h"),
    ("g/../h", "http://a/b/c/h"),
    ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
    ("g;x=1/../y", "http://a/b/c/y"),
    ("g?y/./x", "http://a/b/c/g?y/./x"),
    ("g?y/../x", "http://a/b/c/g?y/../x"),
    ("g#s/./x", "http://a/b/c/g#s/./x"),
    ("g#s/../x", "http://a/b/c/g#s/../x"),
    ("http:g", "http:g"),
]


@pytest.mark.parametrize(("reference", "expected"), NORMAL_EXAMPLES + ABNORMAL_EXAMPLES)
def test_rfc3986_reference_resolution(reference: str, expected: str) -> None:
    base = URL(BASE)
    assert str(base.join(reference)) == expected
    assert str(base.join(URL(reference, allow_relative=True))) == expected
    assert base.resolve_with(reference) == base.join(reference)


def test_rfc3986_tables_are_complete() -> None:
    # 23 normal and 19 abnormal examples are printed in RFC 3986 section 5.4.
    assert (len(NORMAL_EXAMPLES), len(ABNORMAL_EXAMPLES)) == (23, 19)


def test_components() -> None:
    url = URL("HTTPS://us%65r:p%40ss@Example.ORG:8443/a%2fb/c?x=1&y=%7e#Frag")
    assert url.scheme == "https"
    assert url.userinfo == "user:p%40ss"
    assert (url.username, url.password) == ("user", "p@ss")
    assert url.host == "example.org"
    assert url.raw_host == b"example.org"
    assert url.port == 8443
    assert url.authority == "user:p%40ss@example.org:8443"
    assert url.path == "/a%2Fb/c"
    assert url.query == "x=1&y=~"
    assert url.full_path == "/a%2Fb/c?x=1&y=~"
    assert url.fragment == "Frag"
    assert url.is_ssl and url.is_absolute_url and not url.is_relative_url
    assert url.params == QueryParams({"x": "1", "y": "~"})
    assert url.raw == (b"https", b"example.org", 8443, b"/a%2Fb/c?x=1&y=~")


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("http://example.org:80/", "http://example.org/"),
        ("https://example.org:443", "https://example.org"),
        ("http://example.org:443/", "http://example.org:443/"),
        ("http://example.org:/x", "http://example.org/x"),
        ("http://EXAMPLE.org/%7efoo/%2a", "http://example.org/~foo/%2A"),
        ("http://example.org/a b/ü", "http://example.org/a%20b/%C3%BC"),
        ("http://example.org/100%", "http://example.org/100%25"),
        ("http://example.org/a/./b/../c", "http://example.org/a/c"),
        ("http://example.org/?q=a b&r=<>", "http://example.org/?q=a%20b&r=%3C%3E"),
        ("http://[::FFFF:1.2.3.4]:8080/", "http://[::ffff:102:304]:8080/"),
        ("  http://example.org/\n", "http://example.org/"),
        ("http://münchen.de/", "http://xn--mnchen-3ya.de/"),
    ],
)
def test_normalisation(given: str, normalised: str) -> None:
    url = URL(given)
    assert str(url) == normalised
    assert str(URL(str(url))) == normalised
    assert url == normalised


def test_default_port_is_none_and_origin_fills_it() -> None:
    assert URL("http://example.org").port is None
    assert URL("https://example.org:443/").port is None
    assert Origin("https://example.org") == Origin("HTTPS://EXAMPLE.ORG:443")
    assert Origin("http://example.org").port == 80
    assert Origin("http://example.org") != Origin("https://example.org")
    assert URL("https://example.org:8443/x").origin.port == 8443
    assert Origin("https://example.org").is_ssl
    assert hash(Origin("https://a:443")) == hash(Origin("https://a"))
    assert repr(Origin("http://[::1]:8000/")) == "Origin('http://[::1]:8000')"


def test_idna() -> None:
    url = URL("https://Bücher.example/")
    assert url.raw_host == b"xn--bcher-kva.example"
    assert url.host == "bücher.example"
    assert URL("https://xn--bcher-kva.example/").host == "bücher.example"


def test_ipv6() -> None:
    url = URL("http://[::1]:8080/path")
    assert url.host == "::1"
    assert url.raw_host == b"::1"
    assert url.authority == "[::1]:8080"
    assert str(url) == "http://[::1]:8080/path"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("example.org/path", "No scheme"),
        ("/path", "No scheme"),
        ("http:///path", "No host"),
        ("http://example.org:99999/", "Invalid port"),
        ("http://example.org:8x/", "Invalid port"),
        ("http://[::1/", "closing bracket"),
        ("http://[zz::1]/", "Invalid IPv6"),
        ("http://exa mple.org/", "Invalid host"),
        ("http://exa<mple.org/", "Invalid host"),
        ("1http://example.org/", "Invalid scheme"),
        ("http://%90/", "not UTF-8"),
        ("http://xn--mnchen-3ya.example/\u2603", None),
    ],
)
def test_invalid_urls(url: str, reason: str | None) -> None:
    if reason is None:
        # Not every odd URL is invalid: this one only has a non-ASCII path.
        assert URL(url).path == "/%E2%98%83"
        return
    with pytest.raises(InvalidURL, match=reason) as info:
        URL(url)
    assert isinstance(info.value, HTTPError)


def test_invalid_idna_host() -> None:
    with pytest.raises(InvalidURL, match="IDNA"):
        URL("http://a\u0300b\u200d.example/")


def test_relative_urls() -> None:
    url = URL("../x?y#z", allow_relative=True)
    assert url.is_relative_url and not url.is_absolute_url
    assert (url.scheme, url.host, url.path, url.query, url.fragment) == ("", "", "../x", "y", "z")
    assert str(url) == "../x?y#z"
    assert URL("//host/p", allow_relative=True).host == "host"


def test_params_replace_the_query_and_copy_merge_params_replaces_keys() -> None:
    url = URL("http://example.org/?a=1", params={"b": ["2", "3"], "c": None})
    assert url.query == "b=2&b=3&c="
    merged = URL("http://example.org/?a=1#f").copy_merge_params({"a": 2, "t": True})
    assert str(merged) == "http://example.org/?a=2&t=true#f"


def test_copy_with() -> None:
    url = URL("https://user:pw@example.org:8443/p?q=1#f")
    assert str(url.copy_with(scheme="http", port=None)) == "http://user:pw@example.org/p?q=1#f"
    assert str(url.copy_with(host="münchen.de")) == (
        "https://user:pw@xn--mnchen-3ya.de:8443/p?q=1#f"
    )
    assert str(url.copy_with(path="/a b?c", query=None, fragment=None)) == (
        "https://user:pw@example.org:8443/a%20b%3Fc"
    )
    assert (
        str(url.copy_with(username="a@b", password="")) == "https://a%40b@example.org:8443/p?q=1#f"
    )
    assert str(url.copy_with(params={"x": "1"})) == "https://user:pw@example.org:8443/p?x=1#f"
    assert url.copy_with(path="relative").path == "/relative"
    assert str(url.copy_with(authority="other:81")) == "https://other:81/p?q=1#f"
    with pytest.raises(TypeError, match="nonsense"):
        unknown: dict[str, Any] = {"nonsense": 1}
        url.copy_with(**unknown)


def test_equality_hash_and_repr() -> None:
    url = URL("https://user:secret@example.org/")
    assert url == URL("HTTPS://user:secret@EXAMPLE.ORG:443/")
    assert url == "https://user:secret@example.org:443/"
    assert url != "http://[bad"
    assert url != 42
    assert hash(url) == hash(URL(str(url)))
    assert "secret" not in repr(url)
    assert repr(url) == "URL('https://user:[secure]@example.org/')"
    assert URL(url) == url
    assert URL(b"http://example.org/") == URL("http://example.org/")


def test_bad_input_types() -> None:
    with pytest.raises(InvalidURL, match="ASCII"):
        URL(b"http://\xff/")
    with pytest.raises(TypeError, match="int"):
        URL(42)  # type: ignore[arg-type]


# Properties.

_URL_CHARS = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@%/ äö\u2603"
_segment = st.text(alphabet=_URL_CHARS, max_size=12)
_hosts = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){0,2}", fullmatch=True),
    st.sampled_from(["[::1]", "127.0.0.1", "münchen.de", "EXAMPLE.COM"]),
)
_urls = st.builds(
    lambda scheme, userinfo, host, port, path, query, fragment: (
        f"{scheme}://{userinfo}{host}{port}/{path}{query}{fragment}"
    ),
    st.sampled_from(["http", "https", "HTTP", "ws"]),
    st.sampled_from(["", "user@", "user:pass@", "a%20b:c@"]),
    _hosts,
    st.sampled_from(["", ":80", ":443", ":8080", ":"]),
    _segment,
    st.one_of(st.just(""), _segment.map(lambda q: "?" + q.replace("/", "="))),
    st.one_of(st.just(""), _segment.map(lambda f: "#" + f)),
)
_references = st.lists(st.sampled_from(["g", ".", "..", "", "x;y", "%41", "a b"]), max_size=5).map(
    "/".join
) | st.sampled_from(["?y", "#s", "//g/h", "/abs/../x", "http://h/./p"])


@given(_urls)
def test_normalisation_is_idempotent(text: str) -> None:
    url = URL(text)
    again = URL(str(url))
    assert str(again) == str(url)
    assert again == url
    assert again.raw == url.raw
    assert (again.host, again.port, again.path, again.query) == (
        url.host, url.port, url.path, url.query,
    )  # fmt: skip


@given(_urls)
def test_components_round_trip(text: str) -> None:
    url = URL(text)
    rebuilt = url.copy_with(
        scheme=url.scheme, host=url.host, port=url.port, path=url.path,
        query=url.query if "?" in str(url) else None,
        fragment=url.fragment if "#" in str(url) else None,
    )  # fmt: skip
    assert rebuilt == url


@given(_urls, _references)
@example("http://[::1]/", "//")
def test_join_gives_a_normalised_absolute_url(base_text: str, reference: str) -> None:
    base = URL(base_text)
    try:
        joined = base.join(reference)
    except InvalidURL:
        # Only a network-path reference ("//a b/...") brings its own, possibly invalid, host.
        assert reference.startswith("//")
        return
    # "//" followed by nothing is a reference with an empty authority: no host.
    assert joined.is_absolute_url or reference.startswith("//")
    assert str(URL(str(joined), allow_relative=True)) == str(joined)
    assert "/./" not in joined.path and "/../" not in joined.path
    # Joining a result again changes nothing: it is already absolute.
    assert base.join(joined) == joined
    assert joined.join("") == joined.copy_with(fragment=None)


_plain_segments = st.lists(st.sampled_from(["g", "h;x", ".", ".."]), max_size=6)
_plain_references = st.builds(
    lambda absolute, segments, query: ("/" if absolute else "") + "/".join(segments) + query,
    st.booleans(),
    _plain_segments,
    st.sampled_from(["", "?y", "?a=1&b"]),
)
_plain_bases = st.builds(
    lambda segments, query: "http://a/" + "/".join(segments) + query,
    st.lists(st.sampled_from(["b", "c", "d;p"]), max_size=4),
    st.sampled_from(["", "?q"]),
)


@given(_plain_bases, _plain_references)
def test_join_agrees_with_the_standard_library(base: str, reference: str) -> None:
    # On plain paths and queries urllib.parse.urljoin implements RFC 3986 section 5.2
    # too; it departs from it on empty segments ("g//h"), which RFC 3986 keeps.
    assert str(URL(base).join(reference)) == urljoin(base, reference)


_url_alphabet = st.sampled_from(list(":/?#[]@!$&'()*+,;=%-._~ aZ09\u00fc\u2603\x00\t\\"))
_url_like = st.builds(
    lambda scheme, rest: scheme + rest,
    st.sampled_from(["", "http://", "https://", "HTTP://", "x:", "//"]),
    st.text(alphabet=_url_alphabet, max_size=30),
)


@given(st.one_of(_url_like, st.text(max_size=30)))
def test_any_input_parses_or_raises_invalid_url(text: str) -> None:
    try:
        url = URL(text, allow_relative=True)
    except InvalidURL:
        return
    assert str(URL(str(url), allow_relative=True)) == str(url)
    assert str(url).isascii()


@pytest.mark.parametrize(
    "host", ["xn--.test", "XN--.test", "abc.xn--", "xn--a.test", "xn--zz-.test", "xn---.test"]
)
def test_an_empty_or_invalid_a_label_is_invalid_url(host: str) -> None:
    """An A-label is the Punycode of a Unicode label (RFC 5890 section 2.3.2.1): an empty
    one, one that does not decode, decodes to ASCII or a control character, or is not the
    encoding of what it decodes to, makes the URL invalid (issue 19)."""
    with pytest.raises(InvalidURL, match="A-label"):
        URL(f"http://{host}/")


@pytest.mark.parametrize(
    ("host", "shown"), [("xn--mnchen-3ya.de", "münchen.de"), ("xn--ls8h.la", "xn--ls8h.la")]
)
def test_valid_a_labels_are_kept(host: str, shown: str) -> None:
    """Real A-labels pass, including one IDNA 2008 refuses (an emoji, as browsers allow)."""
    url = URL(f"http://{host}/")
    assert (url.raw_host, url.host) == (host.encode(), shown)
