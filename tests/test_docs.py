"""Every public name has a docstring and a place in the API reference."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import trio_httpcore

DOCS = Path(__file__).resolve().parent.parent / "docs"

# ``.. autoclass:: trio_httpcore.Name`` and friends; a bare ``Name`` counts too
# (it resolves against ``.. module:: trio_httpcore``).
AUTODOC = re.compile(
    r"^\s*\.\.\s+auto(?:class|exception|function|data|attribute|decorator)::\s+(\S+)",
    re.MULTILINE,
)


def documented_names() -> set[str]:
    names = set()
    for page in DOCS.glob("*.rst"):
        for target in AUTODOC.findall(page.read_text(encoding="utf-8")):
            if target.startswith("trio_httpcore."):
                target = target.removeprefix("trio_httpcore.")
            if "." not in target:
                names.add(target)
    return names


def own_docstring(obj: object) -> str | None:
    """The docstring written for ``obj`` itself, not one inherited from a base class."""
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return doc if isinstance(doc, str) and doc.strip() else None


def test_all_lists_existing_unique_names() -> None:
    assert len(set(trio_httpcore.__all__)) == len(trio_httpcore.__all__)
    for name in trio_httpcore.__all__:
        assert hasattr(trio_httpcore, name), f"__all__ names {name!r}, which does not exist"


@pytest.mark.parametrize("name", trio_httpcore.__all__)
def test_public_name_has_docstring(name: str) -> None:
    obj = getattr(trio_httpcore, name)
    if not (inspect.isclass(obj) or inspect.isroutine(obj)):
        pytest.skip(f"{name} is data: its description lives in docs/api.rst")
    assert own_docstring(obj), f"trio_httpcore.{name} has no docstring"


@pytest.mark.parametrize("name", trio_httpcore.__all__)
def test_public_name_in_api_reference(name: str) -> None:
    assert name in documented_names(), (
        f"trio_httpcore.{name} is public but no autodoc directive in docs/*.rst names it; "
        "add it to docs/api.rst"
    )


def test_api_reference_names_only_public_objects() -> None:
    stale = documented_names() - set(trio_httpcore.__all__)
    assert not stale, f"docs name objects that are not in trio_httpcore.__all__: {sorted(stale)}"


EXAMPLES = DOCS.parent / "examples"
LITERALINCLUDE = re.compile(r"^\.\.\s+literalinclude::\s+\.\./examples/(\S+)$", re.MULTILINE)


def test_every_example_is_shown_in_the_docs() -> None:
    shown = set(LITERALINCLUDE.findall((DOCS / "examples.rst").read_text(encoding="utf-8")))
    scripts = {path.name for path in EXAMPLES.glob("*.py")}
    assert scripts - shown == set(), "examples missing from docs/examples.rst"
    assert shown - scripts == set(), "docs/examples.rst includes scripts that do not exist"
