"""Notebook functions that declare ``global x`` for a step's ``x``: closures of the step that calls them.

In the notebook such a function changes the kernel's namespace; in the pipeline each step is a
function, so the function must live inside the calling step and say ``nonlocal x`` instead, with the
step declaring ``x: object`` so the name is the step's own even when only the function assigns it.
A ``functions`` cell's such function is copied into each step that calls it; a step cell's one may
only be called from its own step. Anything else is refused with both cells named. (The copies of
:mod:`nb2prod.analyse.late` functions a step hosts come after these, before the step's cells.)
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from nb2prod.analyse import late
from nb2prod.errors import AnalysisError

if TYPE_CHECKING:
    from nb2prod.analyse.cells import CellCode, FlowState


def check_use(flow: FlowState, p: CellCode, stmt: ast.stmt, name: str, line: int) -> None:
    """A function that declares ``global x`` for a step's ``x`` can only run inside a step: one of
    its own cells' step, or (a ``functions`` cell's) any step, which then hosts a copy."""
    home, node = flow.global_functions[name]
    if stmt is node:
        return  # it calls itself
    names = ", ".join(repr(n) for n, _ in flow.effects[name])
    if p.role == "step" and home.role == "functions":
        flow.relocated.setdefault(p.step or "", {})[name] = None
        return
    if p.role == "step" and home.step == p.step:
        return
    where = f"step {p.step!r}" if p.role == "step" else f"the {p.role} cell"
    raise AnalysisError(
        f"function {name!r} (cell {home.cell.index}) declares global {names}, and {where} uses "
        f"it here; in the pipeline each step is a function of its own, so {name!r} could only "
        f"change the {names} of step {home.step!r}, not the one seen here.",
        path=flow.nb.display_path,
        cell=p.cell.index,
        line=line,
        hint=f"move {name!r} into a 'functions' cell (each step that calls it then gets its own "
        f"copy), or pass {names} to it as arguments and return the new values.",
    )


def closure_prelude(flow: FlowState, parsed: list[CellCode], step: str, cells: list[CellCode]) -> str:
    """What a step needs before its cells when it hosts functions that declare ``global``: the
    names made its own (``x: object``), then copies of the ``functions`` cells' such functions."""
    hosted = list(flow.relocated.get(step, {}))
    own = [f for p in cells for f, (home, _) in flow.global_functions.items() if home is p]
    names = dict.fromkeys(n for f in [*own, *hosted] for n, _ in flow.effects[f])
    copies = late.prelude(flow, step)  # type: ignore[arg-type]  # (functions reading later names)
    if not names:
        return copies
    said = ", ".join(names)
    parts = [f"# this step's own {said}, which its functions below declare global in the notebook\n"
             + "\n".join(f"{n}: object" for n in names)]
    for function in hosted:
        home, node = flow.global_functions[function]
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        lines = nonlocal_lines(flow, home, only=node)
        text = [lines.get(i, line) for i, line in enumerate(home.code.splitlines(), 1)]
        parts.append(f"# cell {home.cell.index}\n" + "\n".join(text[first - 1 : node.end_lineno]))
    return "\n\n".join(parts) + "\n\n" + copies


def nonlocal_lines(flow: FlowState, p: CellCode, only: ast.AST | None = None) -> dict[int, str]:
    """Line -> rewritten line: ``global x`` becomes ``nonlocal x`` in the cell's functions that
    declare a step's ``x`` (module-level names stay ``global``)."""
    out: dict[int, str] = {}
    lines = p.code.splitlines()
    for function, (home, node) in flow.global_functions.items():
        if home is not p or (only is not None and node is not only):
            continue
        own = {n for n, _ in flow.effects[function]}
        for child in ast.walk(node):
            if not isinstance(child, ast.Global):
                continue
            if child.end_lineno != child.lineno:
                raise AnalysisError(
                    f"function {function!r} declares global {', '.join(child.names)} across lines.",
                    path=flow.nb.display_path,
                    cell=p.cell.index,
                    line=child.lineno,
                    hint="write the 'global' statement on one line.",
                )
            raw = out.get(child.lineno, lines[child.lineno - 1]).encode()
            local = [n for n in child.names if n in own]
            rest = [n for n in child.names if n not in own]
            new = "; ".join(
                [f"nonlocal {', '.join(local)}"] * bool(local) + [f"global {', '.join(rest)}"] * bool(rest)
            )
            text = raw[: child.col_offset].decode() + new + raw[child.end_col_offset or 0 :].decode()
            out[child.lineno] = text
    return out


def relocated_lines(flow: FlowState, p: CellCode, relocated: set[str]) -> set[int]:
    """The lines of a ``functions`` cell's functions that live in the steps calling them instead."""
    lines: set[int] = set()
    for function in relocated:
        home, node = flow.global_functions[function]
        if home is p:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            lines |= set(range(first, (node.end_lineno or node.lineno) + 1))
    return lines
