"""Python names that code reads inside string literals: pandas expressions and model formulas.

``df.query('x > @cutoff')``, ``df.eval('z = x * @k')`` and ``pd.eval('@a + @b')`` look ``cutoff``,
``k``, ``a`` and ``b`` up in the caller's namespace; a statsmodels or patsy formula
(``smf.ols('y ~ sq(x) + np.log(x)', data=df)``) calls ``sq`` and ``np.log`` from it. Without these
reads the slice drops ``cutoff = 0.2`` and a step is not passed the parameter it filters by. In a
formula only a name that is called (``sq(``, ``np.log(``) is Python's (the others are columns), and
patsy's own helpers are no reads; a called name no cell binds is not reported as undefined, because
it may be one patsy or the data frame provides (*optional*).
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from nb2prod.read.magics import callee, tree_nodes

if TYPE_CHECKING:
    from nb2prod.analyse.cells import CellCode

#: Methods and functions whose first argument (or ``expr=``) is a pandas expression with ``@name``.
EXPRESSION_CALLS = frozenset({"query", "eval"})
#: statsmodels' formula constructors, patsy's design-matrix builders, and ``Model.from_formula``.
FORMULA_CALLS = frozenset({
    "ols", "wls", "gls", "glsar", "logit", "probit", "glm", "gee", "ordinal_gee", "nominal_gee",
    "mixedlm", "poisson", "negativebinomial", "mnlogit", "quantreg", "rlm", "phreg", "conditional_logit",
    "conditional_poisson", "conditional_mnlogit", "dmatrices", "dmatrix", "from_formula",
})
#: Names patsy defines inside a formula, never the notebook's.
PATSY_BUILTINS = frozenset({
    "C", "I", "Q", "center", "standardize", "scale", "bs", "cr", "cc", "te", "Treatment", "Sum",
    "Poly", "Diff", "Helmert", "Reference", "Dev", "Deviation", "ContrastMatrix", "LookupFactor",
})

_AT_NAME = re.compile(r"@\s*([A-Za-z_]\w*)")
_CALLED = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*(?:\.\s*[A-Za-z_]\w*\s*)*\(")


def string_reads(call: ast.Call) -> list[tuple[str, bool]]:
    """(name, optional) for each notebook name the call's string argument reads."""
    func = call.func
    called = callee(call)
    if isinstance(func, ast.Attribute) and called in EXPRESSION_CALLS:
        text = _argument(call, "expr")
        return [(n, False) for n in dict.fromkeys(_AT_NAME.findall(text))] if text else []
    if called in FORMULA_CALLS:
        text = _argument(call, "formula", "formula_like")
        if text:
            names = (n for n in _CALLED.findall(text) if n not in PATSY_BUILTINS)
            return [(n, True) for n in dict.fromkeys(names)]
    return []


def scope_string_reads(node: ast.AST) -> dict[str, bool]:
    """name -> optional, over every call inside ``node`` (a nested scope's body reads them too)."""
    found: dict[str, bool] = {}
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            for name, optional in string_reads(child):
                found[name] = found.get(name, True) and optional
    return found


def _argument(call: ast.Call, *keywords: str) -> str | None:
    value = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg in keywords), None)
    return value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None


_MAY_READ = re.compile(r"@|~").search  # a query/eval `@name`, a formula's `~`: a cheap first look


def string_read_lines(p: CellCode, step_cells: list[CellCode], lines: dict[int, str]) -> dict[int, str]:
    """``lines`` (line -> rewritten line of ``p``) with ``# noqa: F841`` after each one-line
    assignment of a name the step reads only inside strings: in the step's function a linter
    sees ``cutoff = 0.2`` unused, though ``df.query('x > @cutoff')`` reads it."""
    if not any(_MAY_READ(cell.code) for cell in step_cells):
        return lines  # (most steps: no `@name`, no formula)
    in_strings: set[str] = set()
    in_code: set[str] = set()
    for cell in step_cells:
        for stmt in cell.kept:
            for node in tree_nodes(stmt):
                if isinstance(node, ast.Call):
                    in_strings.update(n for n, _ in string_reads(node))
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    in_code.add(node.id)
    only = in_strings - in_code
    if not only:
        return lines
    out = dict(lines)
    code = p.code.splitlines()
    for stmt in p.kept:
        if not isinstance(stmt, ast.Assign | ast.AnnAssign) or stmt.lineno != stmt.end_lineno:
            continue
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if any(isinstance(t, ast.Name) and t.id in only for t in targets):
            text = out.get(stmt.lineno, code[stmt.lineno - 1])
            if "#" not in text:
                out[stmt.lineno] = f"{text}  # noqa: F841 (read inside a string)"
    return out
