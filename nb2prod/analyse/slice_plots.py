"""The slice's last pass over plots: what is left of them after the backward slice.

A plotting helper defined in a ``functions`` cell goes once no exported code calls it (one in a
step cell is an ordinary statement of the slice); and a kept loop or branch loses the plotting
statements inside it (``for C in Cs: clf.set_params(C=C).fit(X, y); ConfusionMatrixDisplay...``
keeps the fit, not the figure).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from nb2prod.analyse.plotting import is_plotting
from nb2prod.read.magics import tree_nodes

if TYPE_CHECKING:
    from nb2prod.analyse.cells import CellCode
    from nb2prod.analyse.slicing import Dropped


def drop_unused_helpers(parsed: list[CellCode], helpers: set[str], info: dict[int, Any]) -> list[Dropped]:
    """Plotting helpers in ``functions`` cells that no kept statement (nor another function there)
    reads: their lines go, with the comments right above them."""
    from nb2prod.analyse.names import statement_events
    from nb2prod.analyse.slice_text import _first_line, _lines_with_comments
    from nb2prod.analyse.slicing import Dropped

    if not helpers:
        return []
    read = {n for p in parsed if p.role == "step" for s in p.kept for n in info[id(s)].reads}
    homes = [p for p in parsed if p.role == "functions" and p.tree is not None]
    read |= {
        e.name for p in homes for s in p.kept
        if not (isinstance(s, ast.FunctionDef) and s.name in helpers)
        for e in statement_events(s) if e.kind in ("read", "keep")
    }
    dropped = []
    for p in homes:
        gone = [s for s in p.kept if isinstance(s, ast.FunctionDef) and s.name in helpers and s.name not in read]
        for stmt in gone:
            p.drop_lines |= _lines_with_comments(p, stmt)
            dropped.append(Dropped(p.cell.index, stmt.lineno, _first_line(p, stmt),
                                   "plotting helper no exported code calls"))
        p.kept = [s for s in p.kept if s not in gone]
    return dropped


def strip_nested_plots(p: CellCode, statements: list[ast.stmt], figures: set[str], read_elsewhere: set[str]
                       ) -> list[Dropped]:
    """Plotting statements inside a kept compound statement go; a body left empty keeps ``pass``
    in place of its first statement (line numbers stay, so the cell's tree still fits).
    ``read_elsewhere``: the names any other kept statement reads."""
    from nb2prod.analyse.slice_text import _first_line
    from nb2prod.analyse.slicing import Dropped

    dropped: list[Dropped] = []
    lines = p.code.splitlines()
    for stmt in statements:
        if not isinstance(stmt, ast.For | ast.AsyncFor | ast.While | ast.If | ast.With | ast.Try):
            continue
        shown = set(figures)
        is_plotting(stmt, shown)  # learn the figures it binds first (`fig, ax = plt.subplots()`)
        gone: set[int] = set()
        for body in _bodies(stmt):
            if id(body[0]) in gone:
                continue  # inside a statement that went already
            plots = [s for s in body if _alone(s, stmt) and is_plotting(s, shown)
                     and not isinstance(s, ast.Pass)]
            for s in plots:
                gone |= {id(n) for n in ast.walk(s)}
                span = set(range(s.lineno, (s.end_lineno or s.lineno) + 1))
                dropped.append(Dropped(p.cell.index, s.lineno, _first_line(p, s), "plotting"))
                if s is body[0] and len(plots) == len(body):
                    line = lines[s.lineno - 1]
                    lines[s.lineno - 1] = line[: s.col_offset] + "pass"
                    span.discard(s.lineno)
                p.drop_lines |= span
        if gone:
            for line, before, after in _unbind_dead_results(stmt, gone, lines, read_elsewhere):
                dropped.append(Dropped(p.cell.index, line, before,
                                       f"value not used: the name goes, `{after}` stays for what it does"))
    p.code = "\n".join(lines) + ("\n" if p.code.endswith("\n") else "")
    return dropped


def _unbind_dead_results(stmt: ast.stmt, gone: set[int], lines: list[str], read_elsewhere: set[str]
                         ) -> list[tuple[int, str, str]]:
    """``m = clf.fit(X, y)`` whose only reader was a plot that went: the call stays, the name goes
    (so ruff's F841 has nothing to say). Returns each rewrite: its line, the code before and after."""
    done = []
    remaining = [n for n in ast.walk(stmt) if id(n) not in gone]
    read = {n.id for n in remaining if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} | read_elsewhere
    for node in remaining:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and node is not stmt
                and node.value.lineno == node.lineno
                and all(isinstance(t, ast.Name) and t.id not in read for t in node.targets)):
            line = lines[node.lineno - 1]
            lines[node.lineno - 1] = line[: node.col_offset] + line[node.value.col_offset :]
            done.append((node.lineno, f"`{line.strip()[:57]}`", ast.unparse(node.value)[:57]))
    return done


def _bodies(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """Every statement list nested in ``stmt`` (not inside a def or class)."""
    found = []
    todo: list[ast.AST] = [stmt]
    while todo:
        node = todo.pop()
        for field in ("body", "orelse", "finalbody", "handlers"):
            children = getattr(node, field, None) or []
            stmts = [c for c in children if isinstance(c, ast.stmt)]
            if stmts:
                found.append(stmts)
            for child in children:
                if isinstance(child, ast.excepthandler) or (
                    isinstance(child, ast.stmt)
                    and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                ):
                    todo.append(child)
    return found


def _alone(stmt: ast.stmt, parent: ast.stmt) -> bool:
    """The statement has its lines to itself: no sibling (``a; b``) and not its parent's header line."""
    if stmt.lineno == parent.lineno:
        return False
    first, last = stmt.lineno, stmt.end_lineno or stmt.lineno
    inside = {id(n) for n in tree_nodes(stmt)}
    others = [n for n in tree_nodes(parent) if isinstance(n, ast.stmt) and id(n) not in inside]
    return not any(first <= n.lineno <= last for n in others) and not any(
        n.lineno < first and (n.end_lineno or n.lineno) >= first and not _contains(n, stmt)
        for n in others  # a sibling ending on its first line: `a = 1; plt.plot(a)`
    )


def _contains(node: ast.AST, stmt: ast.stmt) -> bool:
    return any(n is stmt for n in tree_nodes(node))
