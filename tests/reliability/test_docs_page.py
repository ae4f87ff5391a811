"""docs/reliability.rst names only tests that exist, and every FIELD-LESSONS row has one."""

from __future__ import annotations

import re
from pathlib import Path

from tests.reliability.test_field_lessons_index import _rows, _test_names, _tests_for

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reliability.rst"
_CITED = re.compile(r"``(tests/[\w/]+\.py)::(test_\w+)``")


def test_every_test_the_page_names_exists() -> None:
    cited = _CITED.findall(PAGE.read_text(encoding="utf-8"))
    assert len(cited) >= 25
    names = _test_names()
    missing = [f"{path}::{name}" for path, name in cited if names.get(name) != f"{path}::{name}"]
    assert not missing, missing


def test_every_field_lessons_row_cites_a_test_named_after_it() -> None:
    text = PAGE.read_text(encoding="utf-8")
    table = text.split("Bugs other clients shipped", 1)[1].split("Fault injection", 1)[0]
    entries = re.split(r"\n   \* - (\d+)\n", table)
    cited_by_row = {int(entries[i]): entries[i + 1] for i in range(1, len(entries), 2)}
    assert sorted(cited_by_row) == list(range(1, 26))
    for row, refs in _rows().items():
        cited = {f"{p}::{n}" for p, n in _CITED.findall(cited_by_row[row])}
        named = {where for ref in refs for where in _tests_for(ref, _test_names())}
        assert cited & named, (row, refs)
