"""Targets for the notebooks inference finds no prediction or metric in, and predictions it drops.

An analysis notebook (a regression summary, an A/B test, a KPI table) predicts nothing a model
serves, yet its pipeline must still prove something: with no target at all nothing is compared
and the slicer keeps every value. Its *final values* are compared instead: names the last section
(else the one before...) assigns at top level that no later statement reads (showing them aside),
computed as data (arithmetic, subscripts, numpy/pandas/scipy calls, DataFrame/Series methods,
a fitted model's ``params``), at most the last three. Never a model (a constructor, a ``.fit(...)``
result), a function, a module, a loop variable, a file handle, a ``groupby`` or random generator:
values parity cannot compare.

A prediction made only to be drawn (``zz = clf.predict_proba(np.c_[xx.ravel(), yy.ravel()])`` on a
plotting grid) is no target when another prediction is one: :func:`drop_plot_only`.
"""

from __future__ import annotations

import ast

from nb2prod.analyse.bindings import import_map
from nb2prod.analyse.infer_targets import own_returns
from nb2prod.analyse.names import is_display_only, root_name, statement_events
from nb2prod.analyse.plotting import is_plotting

MAX_FINAL = 3
_DATA_LIBRARIES = ("numpy", "pandas", "scipy", "math")
#: Calls on a data library that make no comparable value.
_NOT_DATA = frozenset({
    "default_rng", "RandomState", "Generator", "SeedSequence", "vectorize", "frompyfunc", "errstate",
    "printoptions", "ExcelWriter", "HDFStore", "Grouper", "option_context", "open", "memmap",
})
_DATA_METHODS = frozenset({
    "mean", "sum", "std", "var", "median", "min", "max", "count", "nunique", "quantile", "prod",
    "agg", "aggregate", "apply", "map", "transform", "pivot_table", "pivot", "merge", "join", "query",
    "assign", "value_counts", "describe", "corr", "cov", "copy", "head", "tail", "sort_values",
    "sort_index", "reset_index", "set_index", "round", "diff", "pct_change", "cumsum", "cumprod",
    "to_frame", "unstack", "stack", "melt", "fillna", "dropna", "drop", "rename", "filter", "nlargest",
    "nsmallest", "idxmax", "idxmin", "abs", "clip", "astype", "to_numpy", "tolist", "to_dict",
    "reshape", "ravel", "flatten", "dot", "sample", "shift", "size", "first", "last", "unique",
    "conf_int", "crosstab", "rank", "explode", "where", "mask", "isna", "notna", "any", "all",
})
_RESULT_ATTRIBUTES = frozenset({
    "params", "pvalues", "bse", "tvalues", "rsquared", "rsquared_adj", "resid", "aic", "bic", "llf",
    "fvalue", "f_pvalue", "values", "T", "shape", "pvalue", "statistic", "coef_", "intercept_",
})


def final_values(
    sections: list[list[tuple[int, ast.Module]]], every_tree: list[ast.Module]
) -> dict[str, tuple[int, str]]:
    """The last section's final values (name -> (cell after which it is taken, why)), else the
    section before's...; ``sections``: the exported cells of each step, in order."""
    libraries = _library_aliases(every_tree)
    libraries |= {name: "notebook" for name in _data_functions(every_tree, libraries)}
    statements = [(index, stmt) for cells in sections for index, tree in cells for stmt in tree.body]
    last_change: dict[str, int] = {}  # name -> position in `statements` of its last write or change
    consumed: dict[str, int] = {}  # name -> position of its last read by code that is no display
    for position, (_, stmt) in enumerate(statements):
        events = statement_events(stmt)
        for e in events:
            if e.kind in ("write", "mutate", "del"):
                last_change[e.name] = position
            elif e.kind == "read" and not _shows(stmt):
                consumed[e.name] = position
    positions = {id(stmt): position for position, (_, stmt) in enumerate(statements)}
    for cells in reversed(sections):
        found: dict[str, tuple[int, str]] = {}
        for _, tree in cells:
            for stmt in tree.body:
                name = _assigned_name(stmt)
                if name is None or not _is_data(stmt.value, libraries):  # type: ignore[attr-defined]
                    continue
                position = positions[id(stmt)]
                if last_change.get(name, -1) > position and _rebinds_later(name, position, statements):
                    continue  # a later statement binds it again: that one is the value, or none
                if consumed.get(name, -1) > position or isinstance(stmt.value, ast.Name):  # type: ignore[attr-defined]
                    continue
                at = statements[last_change.get(name, position)][0]
                found.pop(name, None)
                found[name] = (at, f"final value: {name} = … (nothing later reads it)")
        if found:
            return dict(list(found.items())[-MAX_FINAL:])
    return {}


def drop_plot_only(parity: dict[str, tuple[int, str]], cells: list[tuple[int, ast.Module]],
                   containers: set[str] | None = None) -> dict[str, tuple[int, str]]:
    """``parity`` without the predictions only plots read (a decision surface), unless that
    leaves none. ``cells``: every cell's code (skipped plot cells included), in order."""
    plot_only = {n for n in parity if n not in (containers or set()) and _only_drawn(n, cells)}
    kept = {n: v for n, v in parity.items() if n not in plot_only}
    return kept if kept else parity


def _only_drawn(name: str, cells: list[tuple[int, ast.Module]]) -> bool:
    """Whether what binds ``name`` is last followed by plotting statements only reading it (and
    nothing else reads it, showing it aside), or sits in a cell whose every other statement plots."""
    readers: list[bool] = []
    assigned_in: list[ast.stmt] | None = None
    for _, tree in cells:
        figures: set[str] = set()
        for stmt in tree.body:
            plots = is_plotting(stmt, figures)
            events = statement_events(stmt)
            writes = any(e.kind == "write" and e.name == name for e in events)
            if writes and not plots:
                readers, assigned_in = [], tree.body
                if any(e.kind == "read" and e.name == name for e in events):
                    continue  # Z = Z.reshape(xx.shape): still the same prediction
            elif assigned_in is not None and any(e.kind == "read" and e.name == name for e in events):
                if not is_display_only(stmt):  # a bare `grid` shows the prediction: neither way
                    readers.append(plots)
    if assigned_in is None:
        return False
    if readers:
        return all(readers)
    others = [s for s in assigned_in if not any(e.name == name for e in statement_events(s))]
    figures: set[str] = set()
    draws = [is_plotting(s, figures) for s in others]
    return bool(others) and all(draws) and not all(is_display_only(s) for s in others)


def _assigned_name(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None and isinstance(stmt.target, ast.Name):
        return stmt.target.id
    return None


def _rebinds_later(name: str, position: int, statements: list[tuple[int, ast.stmt]]) -> bool:
    return any(e.kind in ("write", "del") and e.name == name and not e.in_place
               for _, stmt in statements[position + 1 :] for e in statement_events(stmt))


def _shows(stmt: ast.stmt) -> bool:
    """A statement that only shows values (a bare name, ``print``, ``display``, ``df.head()``)."""
    if not isinstance(stmt, ast.Expr):
        return False
    value = stmt.value
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("print", "display"):
        return not any(isinstance(n, ast.NamedExpr) for n in ast.walk(value))
    return is_plotting(stmt, set())


def _data_functions(trees: list[ast.Module], libraries: dict[str, str]) -> set[str]:
    """The notebook's functions whose every ``return`` (in each definition of the name) is data:
    ``summarise(df)`` returning ``df.groupby(k).agg(...)``."""
    returns: dict[str, list[ast.expr | None]] = {}
    for tree in trees:
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef):
                returns.setdefault(stmt.name, []).extend(r.value for r in own_returns(stmt))
    chosen: set[str] = set()
    changed = True
    while changed:  # one such function may return another's value
        known = libraries | {name: "notebook" for name in chosen}
        found = {name for name, values in returns.items()
                 if values and all(v is not None and _is_data(v, known) for v in values)}
        changed, chosen = found != chosen, found
    return chosen


def _library_aliases(trees: list[ast.Module]) -> dict[str, str]:
    """Names the notebook binds to numpy, pandas, scipy (or what they hold) and math -> which:
    ``np`` -> numpy, ``stats`` -> scipy (scipy's tests return result objects, not numbers); a
    class imported from one (``DataFrame``) is none."""
    return {
        local: origin.split(".")[0] for local, origin in import_map(dict(enumerate(trees))).items()
        if origin.split(".")[0] in _DATA_LIBRARIES and origin.rpartition(".")[2][:1].islower()
    }


def _is_data(value: ast.expr, libraries: dict[str, str]) -> bool:
    """Whether ``value`` computes data parity can compare (see the module docstring)."""
    if any(isinstance(n, ast.Lambda | ast.Await | ast.Yield | ast.YieldFrom) for n in ast.walk(value)):
        return False
    if isinstance(value, ast.BinOp | ast.UnaryOp | ast.Compare):
        return not isinstance(value, ast.BinOp) or not isinstance(value.left, ast.Constant | ast.JoinedStr)
    if isinstance(value, ast.Subscript):  # a column, a row, stats.ttest_ind(a, b)[1]
        inner = value.value
        return isinstance(inner, ast.Name) and inner.id not in libraries or _is_data(inner, libraries) or (
            isinstance(inner, ast.Call) and _is_module(inner.func, libraries))
    if isinstance(value, ast.Attribute):
        return value.attr in _RESULT_ATTRIBUTES and not _is_module(value.value, libraries)
    if isinstance(value, ast.List | ast.Tuple | ast.Dict):
        items = [v for v in (value.values if isinstance(value, ast.Dict) else value.elts) if v is not None]
        return bool(items) and all(
            isinstance(v, ast.Constant) or _is_data(v, libraries) for v in items
        ) and not all(isinstance(v, ast.Constant) for v in items)
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    if isinstance(func, ast.Name):  # from numpy import where
        return libraries.get(func.id) not in (None, "scipy") and func.id not in _NOT_DATA
    if not isinstance(func, ast.Attribute) or func.attr in _NOT_DATA:
        return False
    if _is_module(func.value, libraries):
        return libraries[root_name(func) or ""] != "scipy"  # stats.ttest_ind(a, b): a result object
    if func.attr.startswith("fit") or func.attr[:1].isupper():
        return False  # a model, or a class made from one
    return func.attr in _DATA_METHODS


def _is_module(node: ast.expr, libraries: dict[str, str]) -> bool:
    """``np``, ``np.linalg``, ``stats``: a chain of plain attributes from a library's alias."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id in libraries
