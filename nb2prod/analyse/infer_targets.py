"""Parity and metric targets for a notebook nobody tagged, read from what its cells compute.

A target is only worth inferring when both sides can capture it: the notebook by name after a
cell (or, for a bare last expression, from IPython's ``Out``), the pipeline by returning it. So:

* ``parity:NAME``: a name assigned from a ``predict``-like call (``predict``, ``predict_proba``,
  ``decision_function``, ``transform``, ``forecast``, ``cross_val_predict``); a container that
  collects predictions (``oof[va] = m.predict(X[va])`` or ``preds[name] = ...`` into an empty
  ``np.zeros``/``{}``/``[]``, ``sub_preds += m.predict(X) / n``, ``fold_preds.append(...)``);
  and a name computed from those by arithmetic (``blend = 0.7 * preds['a'] + 0.3 * preds['b']``).
  A name assigned only inside a loop (the last model's ``p``) is left out when anything else is found;
* ``metric:NAME``: a name assigned (``=`` or ``:=``) from a ``*_score``/``*_error`` function or a
  ``.score(`` call, and a cell whose last expression *is* such a value (``accuracy_score(y, p)``,
  ``np.sqrt(mean_squared_error(y, p))``), named by convention (``accuracy``, ``mae``, ``rmse``).
  A metric only printed or formatted (``print(roc_auc_score(y, p))``, an f-string) is none: the
  notebook keeps no value of it to compare.

Each target is taken after the last cell that assigns it (a container: that changes it).
"""

from __future__ import annotations

import ast
import keyword
from collections.abc import Iterator
from dataclasses import dataclass, field

from nb2prod.analyse.names import root_name, statement_events
from nb2prod.read.notebook import SourceNotebook

PREDICT_METHODS = frozenset({"predict", "predict_proba", "decision_function", "transform", "forecast"})
#: Calls that keep a number a number: a metric wrapped in one is still the metric's value.
_NUMERIC_FUNCTIONS = frozenset({"round", "float", "abs", "min", "max", "sum"})
_NUMERIC_MODULES = frozenset({"np", "numpy", "math", "scipy", "torch"})
_NUMERIC_METHODS = frozenset({
    "mean", "std", "sum", "round", "item", "min", "max", "median", "clip", "astype", "ravel",
    "flatten", "reshape", "argmax", "squeeze", "copy", "to_numpy", "tolist", "cumsum", "rank",
})
_FORMATTING_FUNCTIONS = frozenset({"print", "display", "str", "repr", "format"})
_FORMATTING_METHODS = frozenset({"format", "info", "debug", "warning", "log", "write"})  # str, logger, file
_SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass
class _Found:
    """Candidates in the order met, with why, and which names only a loop body assigns."""

    parity: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, str] = field(default_factory=dict)
    containers: set[str] = field(default_factory=set)  # filled in place: a mutation changes them
    outside_loop: set[str] = field(default_factory=set)
    empty: dict[str, bool] = field(default_factory=dict)  # name -> its latest value an empty container

    def add_parity(self, name: str, why: str, in_loop: bool) -> None:
        self.parity.setdefault(name, why)
        if not in_loop:
            self.outside_loop.add(name)


def find_targets(
    nb: SourceNotebook, exported: list[tuple[int, ast.Module]], every_write: set[str]
) -> tuple[dict[str, tuple[int, str]], dict[str, tuple[int, str]]]:
    """Inferred parity and metric targets of the ``exported`` cells (index, tree): name -> (cell
    after which it is taken, why). None of a kind is inferred when any cell declares one."""
    declared_parity = any(c.tags.parity for c in nb.cells)
    declared_metrics = any(c.tags.metrics or c.tags.kale_metrics for c in nb.cells)
    found = _Found()
    last_write: dict[str, int] = {}
    last_change: dict[str, int] = {}
    deleted_after: dict[str, int] = {}
    for index, tree in exported:
        for stmt, in_loop in _top_statements(tree.body):
            _statement(stmt, in_loop, found)
        for stmt in tree.body:
            for e in statement_events(stmt):
                if e.kind == "write":
                    last_write[e.name] = last_change[e.name] = index
                elif e.kind == "mutate":
                    last_change[e.name] = index
                elif e.kind == "del":
                    deleted_after[e.name] = index
    parity = found.parity
    if found.containers or found.outside_loop:  # the last model's `p` is no better than the others
        parity = {n: w for n, w in parity.items() if n in found.outside_loop or n in found.containers}
    parity_at = {n: (last_change if n in found.containers else last_write).get(n) for n in parity}
    exported_ids = {index for index, _ in exported}
    taken_parity = {} if declared_parity else _placed(parity, parity_at, deleted_after, exported_ids, "parity")
    metric_at = {n: last_write.get(n) for n in found.metrics}
    taken_metrics = {} if declared_metrics else _placed(found.metrics, metric_at, deleted_after,
                                                        exported_ids, "metric")
    if not declared_metrics:
        used = set(every_write) | set(taken_parity)
        for index, tree in exported:
            last = tree.body[-1] if tree.body else None
            if isinstance(last, ast.Expr) and (metric := shown_metric(last.value)):
                name = unique_name(metric_name(metric), used)
                taken_metrics[name] = (index, f"the cell shows {metric}(…)")
    return taken_parity, taken_metrics


def _statement(stmt: ast.stmt, in_loop: bool, found: _Found) -> None:
    """What one statement adds to ``found``: assigned predictions, metrics, filled containers."""
    for walrus in _walruses(stmt):
        name = walrus.target.id
        if metric := _metric_call(walrus.value):
            found.metrics.setdefault(name, f"({name} := {metric}(…))")
        elif method := _predict_call(walrus.value):
            found.add_parity(name, f"({name} := ….{method}(…))", in_loop)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value  # fold_preds.append(m.predict(X))
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in ("append", "extend") and call.args:
            owner = func.value.id if isinstance(func.value, ast.Name) else None
            if owner and found.empty.get(owner) and (why := _prediction(call.args[0], found)):
                found.containers.add(owner)
                found.add_parity(owner, f"{owner}.{func.attr}({why})", False)
        return
    if isinstance(stmt, ast.AugAssign):
        owner = root_name(stmt.target)
        plain = isinstance(stmt.target, ast.Name)
        if owner and (plain or found.empty.get(owner)) and (why := _prediction(stmt.value, found)):
            found.containers.add(owner)
            found.add_parity(owner, f"{owner} … += {why}", False)
        return
    if not isinstance(stmt, ast.Assign | ast.AnnAssign) or stmt.value is None:
        return
    value = stmt.value
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    names = [t.id for t in targets if isinstance(t, ast.Name)]
    for target in targets:
        owner = root_name(target) if isinstance(target, ast.Subscript) else None
        if owner and found.empty.get(owner) and (why := _prediction(value, found)):
            found.containers.add(owner)  # oof[va] = m.predict_proba(X[va])[:, 1]
            found.add_parity(owner, f"{owner}[…] = {why}", False)
    if not names:
        return
    name = names[-1]
    if metric := _metric_call(value):
        found.metrics.setdefault(name, f"{name} = {metric}(…)")
    elif why := _prediction(value, found):
        found.add_parity(name, f"{name} = {why}", in_loop)
    for n in names:
        found.empty[n] = _is_empty(value)


def _prediction(value: ast.expr, found: _Found) -> str | None:
    """How ``value`` is predictions: a predict-like call in it, or arithmetic over a name that is."""
    if method := _predict_call(value):
        return f"….{method}(…)"
    if _metric_call(value):
        return None
    source = _derived_from(value, set(found.parity))
    return f"… {source} …" if source else None


def _derived_from(value: ast.expr, predicted: set[str]) -> str | None:
    """The predicted name ``value`` is computed from by arithmetic only (numbers, numpy, ``sum``,
    ``.mean()``, subscripts, comprehensions): ``0.5 * preds['a'] + 0.5 * preds['b']``."""
    if not predicted:
        return None
    source = None
    callees: set[int] = set()
    for node in ast.walk(value):
        if isinstance(node, ast.Lambda | ast.NamedExpr | ast.Await | ast.Yield | ast.YieldFrom):
            return None
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                if func.id not in _NUMERIC_FUNCTIONS:
                    return None
                callees.add(id(func))
            elif isinstance(func, ast.Attribute):
                numeric = func.attr in _NUMERIC_METHODS or func.attr in ("items", "values", "keys", "get")
                if root_name(func) not in _NUMERIC_MODULES and not numeric:
                    return None
            else:
                return None
        elif isinstance(node, ast.Name) and id(node) not in callees and node.id in predicted and source is None:
            source = node.id
    return source


def _is_empty(value: ast.expr) -> bool:
    """A container made to be filled: ``np.zeros(n)``, ``np.zeros_like(y)``, ``{}``, ``[]``, ``0``."""
    if isinstance(value, ast.Dict | ast.List) and not (value.keys if isinstance(value, ast.Dict) else value.elts):
        return True
    if isinstance(value, ast.Constant) and not isinstance(value.value, bool) and value.value in (0, 0.0):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name == "defaultdict" or name in ("dict", "list", "OrderedDict") and not value.args:
            return True
        if isinstance(func, ast.Attribute) and root_name(func) in ("np", "numpy"):
            return name in ("zeros", "zeros_like", "empty", "empty_like", "full", "full_like", "ones", "ones_like")
    return False


def _walruses(stmt: ast.stmt) -> Iterator[ast.NamedExpr]:
    """``(mae := mean_absolute_error(y, p))`` in the statement itself, not in a def or lambda."""
    stack: list[ast.AST] = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            yield node
        if node is not stmt and isinstance(node, ast.stmt):
            continue  # a block's inner statements come from _top_statements
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        stack.extend(ast.iter_child_nodes(node))


def _placed(found: dict[str, str], at: dict[str, int | None], deleted: dict[str, int],
            exported: set[int], kind: str) -> dict[str, tuple[int, str]]:
    placed = {}
    for name, why in found.items():
        cell = at.get(name)
        if cell is None or cell not in exported or deleted.get(name, -1) >= cell:
            continue
        placed[name] = (cell, f"{kind} target: {why}")
    return placed


def _top_statements(body: list[ast.stmt], in_loop: bool = False) -> Iterator[tuple[ast.stmt, bool]]:
    """Statements at the notebook's top level, into if/for/while/with/try blocks but not into defs,
    each with whether a loop body holds it."""
    for stmt in body:
        yield stmt, in_loop
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        loop = in_loop or isinstance(stmt, ast.For | ast.AsyncFor | ast.While)
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, list):
                yield from _top_statements([s for s in inner if isinstance(s, ast.stmt)], loop)
        for handler in getattr(stmt, "handlers", []) or []:
            yield from _top_statements(handler.body, loop)


def _predict_call(value: ast.expr) -> str | None:
    """The predict-like method a value is computed from: ``m.predict(X)``, ``m.predict_proba(X)[:, 1]``,
    ``np.expm1(m.predict(X)) * 0.7 + ...``; not inside a lambda or comprehension."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.endswith("_predict"):
            return node.func.id  # cross_val_predict(model, X, y)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in PREDICT_METHODS or node.func.attr.endswith("_predict"):
                return node.func.attr
            if node.func.attr.startswith(("fit", "partial_fit")) and node.func.attr != "fit_predict":
                stack.append(node.func.value)  # `.fit(scaler.transform(X))` makes a model, not data
                continue
        stack.extend(ast.iter_child_nodes(node))
    return None


def _metric_function(node: ast.AST) -> str | None:
    """``accuracy_score`` for a call of it, ``….score`` for ``model.score(...)``, else None."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    if name.endswith(("_score", "_error")) or (name == "score" and isinstance(func, ast.Attribute)):
        return f"….{name}" if isinstance(func, ast.Attribute) else name
    return None


def _metric_call(value: ast.expr) -> str | None:
    """The metric function a value comes from: ``accuracy_score(...)``, ``np.sqrt(mean_squared_error(...))``,
    ``model.score(X, y)``; not inside a lambda or comprehension, nor only formatted into text
    (an f-string, ``'%.3f' % ...``, ``print(...)``, ``str(...)``)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES) or _formats(node):
            continue
        if metric := _metric_function(node):
            return metric
        stack.extend(ast.iter_child_nodes(node))
    return None


def _formats(node: ast.AST) -> bool:
    """Text made of values: what it shows is not a value either side keeps."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return isinstance(node.left, ast.Constant | ast.JoinedStr) and isinstance(
            getattr(node.left, "value", ""), str)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in _FORMATTING_FUNCTIONS
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in _FORMATTING_METHODS and root_name(node.func) not in _NUMERIC_MODULES
    return False


def shown_metric(value: ast.expr) -> str | None:
    """The metric a bare last expression shows as its value (what ``Out`` keeps): the call itself,
    or it under numeric wrapping (``np.sqrt(...)``, ``round(..., 3)``, ``1 - ...``,
    ``cross_val_score(...).mean()``). Never a tuple of several, a print or formatted text."""
    if metric := _metric_function(value):
        return metric
    if isinstance(value, ast.UnaryOp):
        return shown_metric(value.operand)
    if isinstance(value, ast.BinOp) and not _formats(value):
        return shown_metric(value.left) or shown_metric(value.right)
    if not isinstance(value, ast.Call):
        return None
    func, first = value.func, value.args[0] if value.args else None
    if isinstance(func, ast.Name) and func.id in _NUMERIC_FUNCTIONS and first is not None:
        return shown_metric(first)  # round(accuracy_score(y, p), 3)
    if isinstance(func, ast.Attribute) and root_name(func) in _NUMERIC_MODULES and first is not None:
        return shown_metric(first)  # np.sqrt(mean_squared_error(y, p))
    if isinstance(func, ast.Attribute) and func.attr in _NUMERIC_METHODS:
        return shown_metric(func.value)  # cross_val_score(m, X, y).mean()
    return None


#: A metric function's conventional short name, where its initials are not it.
_METRIC_NAMES = {"score": "score", "max_error": "max_error", "cross_val_score": "cv_score"}


def metric_name(function: str) -> str:
    """The name a shown metric's value gets: ``accuracy_score`` -> ``accuracy``,
    ``mean_absolute_error`` -> ``mae``, ``root_mean_squared_error`` -> ``rmse``, ``.score`` -> ``score``."""
    function = function.rpartition(".")[2]
    if function in _METRIC_NAMES:
        name = _METRIC_NAMES[function]
    elif function.endswith("_error"):
        name = "".join(word[0] for word in function.split("_") if word)
    else:
        name = function.removesuffix("_score")
    return name if name.isidentifier() and not keyword.iskeyword(name) else "score"


def unique_name(name: str, used: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``... when taken; the one returned is taken from now on."""
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name}_{n}", n + 1
    used.add(candidate)
    return candidate
