"""The README's client examples run as written, against a local TLS server.

Only the host changes (``https://example.org`` becomes the local server);
the server's CA is trusted through ``SSL_CERT_FILE``, which the client
honours with ``trust_env=True`` (the default), so the code is untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import Server

README = Path(__file__).resolve().parents[2] / "README.rst"


def readme_example(section: str) -> str:
    """The first ``code-block:: python`` of the README section titled ``section``."""
    text = README.read_text(encoding="utf-8")
    match = re.search(
        rf"^{section}\n-+\n\n\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text, re.MULTILINE
    )
    assert match is not None, f"README has no {section!r} example"
    lines = match.group(1).splitlines()
    return "\n".join(line[3:] for line in lines) + "\n"


@pytest.mark.parametrize("section", ["Async", "Sync"])
def test_readme_example(
    section: str,
    serve_in_thread: Callable[..., Server],
    tls: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = serve_in_thread(certfile=tls.certfile, keyfile=tls.keyfile)
    monkeypatch.setenv("SSL_CERT_FILE", tls.ca_file)
    code = readme_example(section)
    assert "https://example.org" in code
    code = code.replace("https://example.org", f"https://localhost:{server.port}")
    exec(compile(code, f"README.rst ({section})", "exec"), {"__name__": "__readme__"})
    requests = server.extra["app"].requests
    assert len(requests) == 1
    if section == "Async":
        assert requests[0]["query_string"] == b"q=trio"
        status, version, content_type = capsys.readouterr().out.splitlines()[0].split()
        # A status prints as its number on every Python version (3.10 included).
        assert status == "200"
        assert content_type == "application/json"
        assert version in ("HTTP/1.1", "HTTP/2")
    else:
        assert (requests[0]["method"], requests[0]["path"]) == ("POST", "/items")
