"""docs/migrating.rst's httpx 0.28 test suite runs as shown, after its one changed import."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

PAGE = Path(__file__).resolve().parents[2] / "docs" / "migrating.rst"


def code_blocks() -> list[str]:
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", PAGE.read_text())
    return [re.sub(r"^    ", "", block, flags=re.MULTILINE) for block in blocks]


async def test_the_httpx_test_suite_runs_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    async def home(request: Any) -> PlainTextResponse:
        return PlainTextResponse("home")

    myapp = types.ModuleType("myapp")
    myapp.app = Starlette(routes=[Route("/", home)])  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "myapp", myapp)
    program, suite = code_blocks()
    assert "import trio_httpcore as httpx" in program and "trio.run(main)" in program
    namespace: dict[str, Any] = {}
    exec(compile(suite, "docs/migrating.rst", "exec"), namespace)
    await namespace["test_mocked"]()
    await namespace["test_app"]()
