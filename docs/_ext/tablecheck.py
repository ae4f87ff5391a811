"""A Sphinx check: a table whose rows were split mid-sentence is a build warning (fatal with -W).

In a reStructuredText simple table every line whose first column holds text
starts a new row. A first-column text wrapped onto a second line therefore
makes a row of its own, and the other column's sentence is cut between two
rows: docutils reports nothing, and the page shows half-sentences. This check
looks at every table after parsing and reports a row that begins with an
empty first cell, or that follows a cell ending mid-phrase (on a word such as
"its" or "the", or on a colon or comma).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from docutils import nodes

# Words a cell's text cannot end on unless its sentence goes on in the next row.
# (Not "on", "in" and the like: "goes on" ends a sentence well.)
_DANGLING = """a an the and or nor but of to for with from into
its their his her our your is are was be"""
DANGLING_WORDS = frozenset(_DANGLING.split())
DANGLING_MARKS = (":", ",", "/", "(", "-")


def _rows(table: nodes.table) -> Iterator[list[tuple[str, bool]]]:
    """Each row's cells: the text, and whether it ends in prose (not in ``code``)."""
    for body in table.findall(nodes.tbody):
        for row in body.children:
            if isinstance(row, nodes.row):
                yield [(" ".join(cell.astext().split()), _ends_in_prose(cell)) for cell in row]


def _ends_in_prose(cell: nodes.Node) -> bool:
    texts = [text for text in cell.findall(nodes.Text) if text.strip()]
    return bool(texts) and not isinstance(texts[-1].parent, nodes.literal)


def split_rows(table: nodes.table) -> list[str]:
    """Why each row of ``table`` looks like the continuation of the row before it."""
    problems = []
    previous: list[tuple[str, bool]] | None = None
    for cells in _rows(table):
        first = cells[0][0] if cells else ""
        if previous is not None:
            if not first:
                problems.append(f"a row after {previous[0][0]!r} has an empty first cell")
            for text, prose in previous:
                if prose and (
                    text.endswith(DANGLING_MARKS) or text.split()[-1].lower() in DANGLING_WORDS
                ):
                    problems.append(
                        f"cell {text!r} ends mid-phrase and the next row starts {first!r}"
                    )
        previous = cells
    return problems


def check_tables(app: Any, doctree: nodes.document) -> None:
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    for table in doctree.findall(nodes.table):
        for problem in split_rows(table):
            logger.warning(
                "table rows split mid-sentence (use a list-table or a grid table): %s",
                problem,
                # A table node carries no line number; its first paragraph does.
                location=next(iter(table.findall(nodes.paragraph)), table),
            )


def setup(app: Any) -> dict[str, Any]:
    app.connect("doctree-read", check_tables)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
