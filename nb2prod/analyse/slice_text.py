"""The slice's edits to a cell's text: what a dropped statement takes with it (the comments right
above it), and a kept call whose result nobody reads losing its name. Line numbers never change,
so the cell's parsed tree still fits its code."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nb2prod.analyse.cells import CellCode


def _rebinds_names_only(stmt: ast.stmt) -> bool:
    """``x = call(...)`` or ``a, b = call(...)``, the value starting on the statement's line; or a
    one-line ``theta = np.random.randn(3) * 0.01`` whose calls always run (no ``and``, ``if`` or
    comprehension that may skip one)."""
    if not isinstance(stmt, ast.Assign):
        return False
    names = [n for t in stmt.targets for n in ast.walk(t)]
    if not all(isinstance(n, ast.Name | ast.Tuple | ast.List | ast.Store) for n in names):
        return False
    if isinstance(stmt.value, ast.Call):
        return stmt.value.lineno == stmt.lineno
    return stmt.lineno == stmt.end_lineno and bool(_outer_calls(stmt.value)) and not any(
        isinstance(n, ast.BoolOp | ast.IfExp | ast.Lambda | ast.NamedExpr | ast.ListComp | ast.SetComp
                   | ast.DictComp | ast.GeneratorExp | ast.Await | ast.Starred) for n in ast.walk(stmt.value))


def _drop_unused_results(unused: list[tuple[CellCode, ast.stmt]]) -> list[tuple[CellCode, ast.stmt, str, str]]:
    """``housing_prepared = prep.fit_transform(X)`` kept only because it fits ``prep``: the call
    stays, the name nobody reads goes (line numbers stay, so the cell's tree still fits); in
    ``theta = np.random.randn(3) * 0.01`` only the draw stays. Returns each rewrite: the cell, the
    statement, its first line before and the code that stays."""
    done = []
    for p, stmt in unused:
        before = _first_line(p, stmt)
        lines = p.code.splitlines()
        line = lines[stmt.lineno - 1]
        value = stmt.value  # type: ignore[attr-defined]
        if isinstance(value, ast.Call):
            lines[stmt.lineno - 1] = line[: stmt.col_offset] + line[value.col_offset :]
            after = ast.unparse(value)
        else:
            after = "; ".join(line[c.col_offset : c.end_col_offset] for c in _outer_calls(value))
            lines[stmt.lineno - 1] = line[: stmt.col_offset] + after
        p.code = "\n".join(lines) + ("\n" if p.code.endswith("\n") else "")
        done.append((p, stmt, before, after if len(after) <= 60 else after[:57] + "..."))
    return done


def _outer_calls(value: ast.expr) -> list[ast.Call]:
    """The calls in ``value`` not inside another call (their arguments run with them), in order."""
    inner = {id(n) for c in ast.walk(value) if isinstance(c, ast.Call) for n in ast.walk(c) if n is not c}
    calls = [c for c in ast.walk(value) if isinstance(c, ast.Call) and id(c) not in inner]
    return sorted(calls, key=lambda c: c.col_offset)


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
