"""Every public name has a docstring and a place in the API reference."""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path
from types import ModuleType

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


# -- Tables: rows split mid-sentence (docs/_ext/tablecheck.py, run by Sphinx in nox -s docs)

# The concurrency page's cancellation table as it was: two first-column texts
# wrapped onto a second line, which a simple table reads as two more rows.
SPLIT_TABLE = """
=================================== ============================================
cancelled while...                  then
=================================== ============================================
waiting for a free connection       the request leaves the queue; nothing else
                                    changed
waiting for / reading the response  as above: the connection is closed and its
head or body, HTTP/1.1              slot released
closing a response (``aclose()``)   the connection is still released or closed:
under a cancelled scope             an HTTP/1.1 socket is closed synchronously
=================================== ============================================
"""


def _tablecheck() -> ModuleType:
    pytest.importorskip("docutils", reason="the docs extra (Sphinx) brings docutils")
    spec = importlib.util.spec_from_file_location("tablecheck", DOCS / "_ext" / "tablecheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table_problems(text: str) -> list[str]:
    tablecheck = _tablecheck()  # first: it skips the test where docutils is missing
    # docutils ships no type information (its stubs are a separate package, not a dev dependency).
    from docutils import nodes  # type: ignore[import-untyped]
    from docutils.core import publish_doctree  # type: ignore[import-untyped]

    # Sphinx's roles and directives are unknown to plain docutils: quietly left as they are.
    doctree = publish_doctree(text, settings_overrides={"report_level": 5, "halt_level": 5})
    return [
        problem
        for table in doctree.findall(nodes.table)
        for problem in tablecheck.split_rows(table)
    ]


def test_table_check_catches_rows_split_mid_sentence() -> None:
    problems = _table_problems(SPLIT_TABLE)
    assert len(problems) == 2, problems
    assert "ends mid-phrase" in problems[0] and "'head or body, HTTP/1.1'" in problems[0]


def test_table_check_passes_the_same_table_as_a_list_table() -> None:
    fixed = """
.. list-table::
   :header-rows: 1

   * - cancelled while...
     - then
   * - waiting for / reading the response head or body, HTTP/1.1
     - as above: the connection is closed and its slot released
"""
    assert _table_problems(fixed) == []


def test_no_table_in_the_docs_has_rows_split_mid_sentence() -> None:
    problems = {
        page.name: found
        for page in sorted(DOCS.glob("*.rst"))
        if (found := _table_problems(page.read_text(encoding="utf-8")))
    }
    assert problems == {}
