"""The slice's edits to a cell's text: what a dropped statement takes with it (the comments right
above it), and a kept call whose result nobody reads losing its name. Line numbers never change,
so the cell's parsed tree still fits its code."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nb2prod.analyse.cells import CellCode


def _rebinds_names_only(stmt: ast.stmt) -> bool:
    """``x = call(...)`` or ``a, b = call(...)``, the value starting on the statement's line."""
    if not isinstance(stmt, ast.Assign) or not isinstance(stmt.value, ast.Call):
        return False
    names = [n for t in stmt.targets for n in ast.walk(t)]
    plain = all(isinstance(n, ast.Name | ast.Tuple | ast.List | ast.Store) for n in names)
    return plain and stmt.value.lineno == stmt.lineno


def _drop_unused_results(unused: list[tuple[CellCode, ast.stmt]]) -> None:
    """``housing_prepared = prep.fit_transform(X)`` kept only because it fits ``prep``: the call
    stays, the name nobody reads goes (line numbers stay, so the cell's tree still fits)."""
    for p, stmt in unused:
        lines = p.code.splitlines()
        line = lines[stmt.lineno - 1]
        lines[stmt.lineno - 1] = line[: stmt.col_offset] + line[stmt.value.col_offset :]  # type: ignore[attr-defined]
        p.code = "\n".join(lines) + ("\n" if p.code.endswith("\n") else "")


def _first_line(p: CellCode, stmt: ast.stmt) -> str:
    line = p.code.splitlines()[stmt.lineno - 1].strip() if stmt.lineno <= len(p.code.splitlines()) else ""
    more = (stmt.end_lineno or stmt.lineno) > stmt.lineno
    text = line if len(line) <= 60 else line[:57] + "..."
    return f"`{text}{' ...' if more and len(text) < 60 else ''}`"


def _lines_with_comments(p: CellCode, stmt: ast.stmt) -> set[int]:
    """The statement's lines and the comment lines right above it (they describe it)."""
    lines = p.code.splitlines()
    found = set(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
    above = stmt.lineno - 1
    while above >= 1 and lines[above - 1].lstrip().startswith("#") and above not in p.drop_lines:
        found.add(above)
        above -= 1
    return found
