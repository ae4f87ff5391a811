"""Every row of FIELD-LESSONS.md has a test named after its reference, somewhere in tests/.

A row's references are its ``owner/repo#N`` strings (``encode/httpcore#1093``);
a test is named after one when its name holds ``<repo>_<N>`` as whole words
between underscores (``test_httpcore_1093_...``, ``test_encode_httpx_1169_...``),
so ``#85`` is not matched by ``test_httpcore_785_...``.
"""

from __future__ import annotations

import ast
import functools
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
_LESSONS_CANDIDATES = [
    Path(os.environ.get("FIELD_LESSONS", "/nonexistent")),
    ROOT.parent / "shared" / "FIELD-LESSONS.md",
    ROOT / "FIELD-LESSONS.md",
]
LESSONS = next((p for p in _LESSONS_CANDIDATES if p.is_file()), None)

_REF = re.compile(r"\b([\w.-]+)/([\w.-]+)#(\d+)")

# The table's row numbers, and each row's first reference, as the table had them
# when this suite was written: used when the shared file is not there (a CI
# checkout holds only the repository), and checked against it when it is.
KNOWN_ROWS: dict[int, str] = {
    1: "encode/httpcore#1093",
    2: "encode/httpcore#550",
    3: "encode/httpcore#785",
    4: "encode/httpx#1461",
    5: "encode/httpcore#564",
    6: "encode/httpcore#642",
    7: "encode/httpcore#943",
    8: "pydantic/httpx2#1133",
    9: "pydantic/httpx2#1216",
    10: "encode/httpcore#85",
    11: "encode/httpcore#730",
    12: "encode/httpcore#1079",
    13: "pydantic/httpx2#1153",
    14: "encode/httpcore#996",
    15: "encode/httpcore#722",
    16: "encode/httpx#1169",
    17: "encode/httpx#473",
    18: "encode/httpx#2983",
    19: "theelous3/asks#65",
    20: "python-trio/hip#235",
    21: "python-trio/hip#125",
    22: "encode/httpx#3215",
    23: "encode/httpx#572",
    24: "encode/httpx#825",
    25: "encode/httpcore#1022",
}


def parse_rows(text: str) -> dict[int, list[str]]:
    """``{row number: [owner/repo#N, ...]}`` from the markdown table's Ref column."""
    rows: dict[int, list[str]] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].isdigit():
            continue
        refs = [f"{owner}/{repo}#{n}" for owner, repo, n in _REF.findall(cells[1])]
        rows[int(cells[0])] = refs
    return rows


@functools.cache
def _test_names() -> dict[str, str]:
    """Every test function under tests/: ``{name: "path::name"}``."""
    return {name: where for name, (where, _) in _test_functions().items()}


@functools.cache
def _test_functions() -> dict[str, tuple[str, bool]]:
    """``{name: ("path::name", switched_off)}``: switched off means marked ``skip`` or
    ``xfail`` unconditionally (``@pytest.mark.skip``, ``@pytest.mark.xfail`` without a
    condition), so it proves nothing."""
    found: dict[str, tuple[str, bool]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test_"
            ):
                off = any(_switches_off(d) for d in node.decorator_list)
                found.setdefault(node.name, (f"{path.relative_to(ROOT)}::{node.name}", off))
    return found


def _switches_off(decorator: ast.expr) -> bool:
    call = decorator if isinstance(decorator, ast.Call) else None
    target = call.func if call is not None else decorator
    name = ast.unparse(target)
    if name.endswith(("mark.skip", "mark.xfail")):
        return call is None or not call.args  # a condition as first argument: conditional
    return False


def _tests_for(ref: str, names: dict[str, str]) -> list[str]:
    """The tests named after ``ref`` (``owner/repo#N``)."""
    match = _REF.fullmatch(ref)
    assert match is not None, ref
    repo = match.group(2).lower().replace("-", "_").replace(".", "_")
    word = re.compile(rf"(^|_){re.escape(repo)}_{match.group(3)}(_|$)")
    return [where for name, where in names.items() if word.search(name.lower())]


def _rows() -> dict[int, list[str]]:
    if LESSONS is None:
        return {n: [ref] for n, ref in KNOWN_ROWS.items()}
    return parse_rows(LESSONS.read_text(encoding="utf-8"))


def test_parser_reads_all_25_rows() -> None:
    table = _rows()
    assert sorted(table) == list(range(1, 26))
    assert all(table[n] for n in table), {n: r for n, r in table.items() if not r}
    for n, ref in KNOWN_ROWS.items():
        assert table[n][0] == ref, (n, table[n])


def test_a_skipped_or_xfailed_test_does_not_count() -> None:
    tree = ast.parse(
        "@pytest.mark.skip\ndef a(): pass\n"
        "@pytest.mark.xfail(reason='x')\ndef b(): pass\n"
        "@pytest.mark.skipif(True, reason='x')\ndef c(): pass\n"
        "@pytest.mark.xfail(sys.platform == 'win32', reason='x')\ndef d(): pass\n"
        "@pytest.mark.parametrize('x', [1])\ndef e(x): pass\n"
    )
    off = {
        f.name: any(_switches_off(d) for d in f.decorator_list)
        for f in tree.body
        if isinstance(f, ast.FunctionDef)
    }
    assert off == {"a": True, "b": True, "c": False, "d": False, "e": False}


def test_matching_is_by_whole_words() -> None:
    names = {
        "test_httpcore_785_x": "a::test_httpcore_785_x",
        "test_encode_httpx_1169_y": "b::test_encode_httpx_1169_y",
        "test_httpx2_1133": "c::test_httpx2_1133",
    }
    assert _tests_for("encode/httpcore#85", names) == []
    assert _tests_for("encode/httpcore#785", names) == ["a::test_httpcore_785_x"]
    assert _tests_for("encode/httpx#1169", names) == ["b::test_encode_httpx_1169_y"]
    assert _tests_for("encode/httpx#1133", names) == []  # httpx2 is not httpx
    assert _tests_for("pydantic/httpx2#1133", names) == ["c::test_httpx2_1133"]


@pytest.mark.parametrize("row", range(1, 26))
def test_every_field_lesson_has_a_test_named_after_it(row: int) -> None:
    refs = _rows()[row]
    names = _test_names()
    found = {ref: _tests_for(ref, names) for ref in refs}
    functions = _test_functions()
    live = [w for ws in found.values() for w in ws if not functions[w.split("::")[1]][1]]
    assert live or not any(found.values()), (
        f"FIELD-LESSONS row {row}: every test named after it is skipped or xfailed: {found}"
    )
    assert any(found.values()), (
        f"FIELD-LESSONS row {row} ({', '.join(refs)}): no test under tests/ is named after "
        f"any of its references (e.g. test_{refs[0].split('/')[1].split('#')[0]}_"
        f"{refs[0].split('#')[1]}_...)"
    )
