"""Parity and metric targets for a notebook nobody tagged, read from what its cells compute.

A target is only worth inferring when both sides can capture it: the notebook by name after a
cell (or, for a bare last expression, from IPython's ``Out``), the pipeline by returning it. So:

* ``parity:NAME``: a name assigned from a ``predict``-like call (``predict``, ``predict_proba``,
  ``decision_function``, ``transform``, ``forecast``, ``cross_val_predict``); a container that
  collects predictions (``oof[va] = m.predict(X[va])`` or ``preds[name] = ...`` into an empty
  ``np.zeros``/``{}``/``[]``, ``sub_preds += m.predict(X) / n``, ``fold_preds.append(...)``);
  and a name computed from those by arithmetic (``blend = 0.7 * preds['a'] + 0.3 * preds['b']``).
  statsmodels' ``res.fittedvalues``, ``res.get_prediction(x).summary_frame()``,
  ``res.get_forecast(h).predicted_mean`` and ``np.polyval(coef, x)`` are predictions too, and so is
  what a notebook function returns that is named ``predict*``/``forecast*``/``*_predict`` or returns
  one (``y_pred = predict(X)`` of a model written from scratch). A prediction stored as a column
  of a frame (``new['pred'] = res.predict(new)``) makes the frame the target, when nothing else is.
  A name assigned only inside a loop (the last model's ``p``) is left out when anything else is found;
* ``metric:NAME``: a name assigned (``=`` or ``:=``) from a ``*_score``/``*_error``/``*_loss`` function or a
  ``.score(`` call, and a cell whose last expression *is* such a value (``accuracy_score(y, p)``,
  ``np.sqrt(mean_squared_error(y, p))``), named by convention (``accuracy``, ``mae``, ``rmse``).
  A metric only printed or formatted (``print(roc_auc_score(y, p))``, an f-string) is none: the
  notebook keeps no value of it to compare.

Each target is taken after the last cell that assigns it (a container: that changes it).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from nb2prod.analyse.infer_metrics import (
    NUMERIC_FUNCTIONS,
    NUMERIC_METHODS,
    NUMERIC_MODULES,
    SCOPES,
    metric_call,
    metric_name,
    shown_metric,
    unique_name,
)
from nb2prod.analyse.names import root_name, statement_events
from nb2prod.read.notebook import SourceNotebook

PREDICT_METHODS = frozenset({"predict", "predict_proba", "decision_function", "transform", "forecast"})
#: statsmodels: a results object's predictions, and what the prediction objects hold of them.
_PREDICTED_ATTRIBUTES = frozenset({"fittedvalues", "predicted_mean"})
_PREDICTION_OBJECTS = frozenset({"get_prediction", "get_forecast"})
_PREDICTION_FRAMES = frozenset({"summary_frame", "conf_int"})
#: pandas' own ``.transform``: ``df.groupby(k)[c].transform('mean')`` computes a feature, not a prediction.
_PANDAS_CHAINS = frozenset({"groupby", "rolling", "expanding", "ewm", "resample"})
_PREDICTOR_PREFIXES = ("predict", "forecast")


@dataclass
class _Found:
    """Candidates in the order met, with why, and which names only a loop body assigns."""

    parity: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, str] = field(default_factory=dict)
    containers: set[str] = field(default_factory=set)  # filled in place: a mutation changes them
    outside_loop: set[str] = field(default_factory=set)
    empty: dict[str, bool] = field(default_factory=dict)  # name -> its latest value an empty container
    predictors: frozenset[str] = frozenset()  # the notebook's functions that return predictions
    opaque: frozenset[str] = frozenset()  # its other functions
    columns: dict[str, str] = field(default_factory=dict)  # frames a prediction is stored into

    def add_parity(self, name: str, why: str, in_loop: bool) -> None:
        self.parity.setdefault(name, why)
        if not in_loop:
            self.outside_loop.add(name)


def find_targets(
    nb: SourceNotebook, exported: list[tuple[int, ast.Module]], every_write: set[str],
    every_tree: list[ast.Module] | None = None,
) -> tuple[dict[str, tuple[int, str]], dict[str, tuple[int, str]]]:
    """Inferred parity and metric targets of the ``exported`` cells (index, tree): name -> (cell
    after which it is taken, why). None of a kind is inferred when any cell declares one.
    ``every_tree``: all cells' code, where the notebook's predicting functions are looked for."""
    declared_parity = any(c.tags.parity for c in nb.cells)
    declared_metrics = any(c.tags.metrics or c.tags.kale_metrics for c in nb.cells)
    trees = every_tree if every_tree is not None else [tree for _, tree in exported]
    predictors = predicting_functions(trees)
    defined = {s.name for tree in trees for s in tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)}
    found = _Found(predictors=predictors, opaque=frozenset(defined - predictors))
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
    if not parity and found.columns:  # new['pred'] = res.predict(new): the frame is what it predicted
        parity = dict(found.columns)
        found.containers.update(found.columns)
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
        if metric := metric_call(walrus.value):
            found.metrics.setdefault(name, f"({name} := {metric}(…))")
        elif method := _predict_call(walrus.value, found.predictors, found.opaque):
            found.add_parity(name, f"({name} := {method})", in_loop)
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
        if not owner or not (why := _prediction(value, found)):
            continue
        if found.empty.get(owner):
            found.containers.add(owner)  # oof[va] = m.predict_proba(X[va])[:, 1]
            found.add_parity(owner, f"{owner}[…] = {why}", False)
        elif isinstance(target.value, ast.Name) and not in_loop:  # type: ignore[attr-defined]
            found.columns.setdefault(owner, f"{owner}[…] = {why}")  # new['pred'] = res.predict(new)
    if not names:
        return
    name = names[-1]
    if metric := metric_call(value):
        if not (in_loop and metric.endswith("_loss")):  # a training loop's loss is no result
            found.metrics.setdefault(name, f"{name} = {metric}(…)")
    elif why := _prediction(value, found):
        found.add_parity(name, f"{name} = {why}", in_loop)
    for n in names:
        found.empty[n] = _is_empty(value)


def _prediction(value: ast.expr, found: _Found) -> str | None:
    """How ``value`` is predictions: a predict-like call in it, or arithmetic over a name that is."""
    if metric_call(value):
        return None
    if method := _predict_call(value, found.predictors, found.opaque):
        return method
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
                if func.id not in NUMERIC_FUNCTIONS:
                    return None
                callees.add(id(func))
            elif isinstance(func, ast.Attribute):
                numeric = func.attr in NUMERIC_METHODS or func.attr in ("items", "values", "keys", "get")
                if root_name(func) not in NUMERIC_MODULES and not numeric:
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


def _predict_call(value: ast.expr, predictors: frozenset[str] = frozenset(),
                  opaque: frozenset[str] = frozenset()) -> str | None:
    """The predict-like call a value is computed from, as shown: ``….predict`` for ``m.predict(X)``,
    ``m.predict_proba(X)[:, 1]``, ``np.expm1(m.predict(X)) * 0.7 + ...``, ``res.fittedvalues``,
    ``np.polyval(c, x)``, a call of one of the notebook's ``predictors``; not inside a lambda or
    comprehension, nor in the arguments of one of the notebook's ``opaque`` functions."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, SCOPES):
            continue
        if isinstance(node, ast.Attribute) and node.attr in _PREDICTED_ATTRIBUTES:
            return f"….{node.attr}"  # res.fittedvalues, res.get_forecast(12).predicted_mean
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id
            if name.endswith("_predict") or name in predictors or name == "polyval":
                return f"{name}(…)"  # cross_val_predict(model, X, y), predict(X) the notebook defines
            if name in opaque:
                continue  # mse(y, predict(X)): what the notebook's own function returns is no prediction
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr = node.func.attr
            if attr == "transform" and _pandas_transform(node):
                stack.extend(node.args)
                continue
            if attr in PREDICT_METHODS or attr.endswith("_predict") or (
                    attr == "polyval" and root_name(node.func) in NUMERIC_MODULES):
                return f"….{attr}(…)"
            if attr in _PREDICTION_FRAMES and _on_prediction_object(node.func.value):
                return f"….{attr}(…)"  # res.get_prediction(new).summary_frame(alpha=0.05)
            if node.func.attr.startswith(("fit", "partial_fit")) and node.func.attr != "fit_predict":
                stack.append(node.func.value)  # `.fit(scaler.transform(X))` makes a model, not data
                continue
        stack.extend(ast.iter_child_nodes(node))
    return None


def _pandas_transform(call: ast.Call) -> bool:
    """``df.groupby(k)[c].transform('mean')``, ``s.transform(lambda v: ...)``: pandas, not a model."""
    if any(isinstance(a, ast.Lambda) or isinstance(a, ast.Constant) and isinstance(a.value, str)
           for a in call.args):
        return True
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _PANDAS_CHAINS
               for n in ast.walk(call.func))


def _on_prediction_object(node: ast.expr) -> bool:
    """Whether ``node`` is (a call chain on) ``res.get_prediction(...)``/``res.get_forecast(...)``."""
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _PREDICTION_OBJECTS
               for n in ast.walk(node))


def predicting_functions(trees: list[ast.Module]) -> frozenset[str]:
    """The notebook's own functions whose value is a prediction: named ``predict*``/``forecast*``/
    ``*_predict``, or returning a predict-like call (``return model.predict(frame[cols])``); each
    returns a value that is no tuple (a model beside predictions is none to compare)."""
    defs = [s for tree in trees for s, _ in _top_statements(tree.body)
            if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]
    returns = {d.name: [r.value for r in own_returns(d) if r.value is not None] for d in defs}
    chosen: set[str] = set()
    changed = True
    while changed:  # def predict(X): return proba(X) > 0.5, where proba returns m.predict_proba(X)
        changed = False
        for d in defs:
            values = returns[d.name]
            if d.name in chosen or not values or any(isinstance(v, ast.Tuple) for v in values):
                continue
            named = d.name.startswith(_PREDICTOR_PREFIXES) or d.name.endswith("_predict")
            opaque = frozenset(returns) - chosen  # mse(y, m.predict(X)) returns what mse does
            if named or any(_predict_call(v, frozenset(chosen), opaque) and not metric_call(v) for v in values):
                chosen.add(d.name)
                changed = True
    return frozenset(chosen)


def own_returns(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.Return]:
    """The function's own ``return`` statements, not those of a function or class defined in it."""
    stack: list[ast.AST] = list(node.body)
    while stack:
        sub = stack.pop()
        if isinstance(sub, ast.Return):
            yield sub
        elif not isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(sub))


__all__ = ["find_targets", "metric_name", "predicting_functions", "shown_metric", "unique_name"]
