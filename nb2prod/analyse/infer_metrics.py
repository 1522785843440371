"""Metrics a notebook computes: which calls are one, which only format one into text, and the
conventional name a shown metric's value gets (:mod:`nb2prod.analyse.infer_targets` uses them)."""

from __future__ import annotations

import ast
import keyword

from nb2prod.analyse.names import root_name

#: Calls that keep a number a number: a metric wrapped in one is still the metric's value.
NUMERIC_FUNCTIONS = frozenset({"round", "float", "abs", "min", "max", "sum"})
NUMERIC_MODULES = frozenset({"np", "numpy", "math", "scipy", "torch"})
_METRIC_MODULES = frozenset({"metrics", "sklearn", "skm", "skmetrics"})  # sklearn.metrics.log_loss
NUMERIC_METHODS = frozenset({
    "mean", "std", "sum", "round", "item", "min", "max", "median", "clip", "astype", "ravel",
    "flatten", "reshape", "argmax", "squeeze", "copy", "to_numpy", "tolist", "cumsum", "rank",
})
_FORMATTING_FUNCTIONS = frozenset({"print", "display", "str", "repr", "format"})
_FORMATTING_METHODS = frozenset({"format", "info", "debug", "warning", "log", "write"})  # str, logger, file
SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _metric_function(node: ast.AST) -> str | None:
    """``accuracy_score`` for a call of it, ``….score`` for ``model.score(...)``, else None."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    if name.endswith("_loss") and isinstance(func, ast.Attribute) and root_name(func) not in _METRIC_MODULES:
        return None  # torch's F.nll_loss(out, y) is a tensor of a training step
    if name.endswith(("_score", "_error", "_loss")) or (name == "score" and isinstance(func, ast.Attribute)):
        return f"….{name}" if isinstance(func, ast.Attribute) else name
    return None


def metric_call(value: ast.expr) -> str | None:
    """The metric function a value comes from: ``accuracy_score(...)``, ``np.sqrt(mean_squared_error(...))``,
    ``model.score(X, y)``; not inside a lambda or comprehension, nor only formatted into text
    (an f-string, ``'%.3f' % ...``, ``print(...)``, ``str(...)``)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, SCOPES) or formats(node):
            continue
        if metric := _metric_function(node):
            return metric
        stack.extend(ast.iter_child_nodes(node))
    return None


def formats(node: ast.AST) -> bool:
    """Text made of values: what it shows is not a value either side keeps."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return isinstance(node.left, ast.Constant | ast.JoinedStr) and isinstance(
            getattr(node.left, "value", ""), str)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in _FORMATTING_FUNCTIONS
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in _FORMATTING_METHODS and root_name(node.func) not in NUMERIC_MODULES
    return False


def shown_metric(value: ast.expr) -> str | None:
    """The metric a bare last expression shows as its value (what ``Out`` keeps): the call itself,
    or it under numeric wrapping (``np.sqrt(...)``, ``round(..., 3)``, ``1 - ...``,
    ``cross_val_score(...).mean()``). Never a tuple of several, a print or formatted text."""
    if metric := _metric_function(value):
        return metric
    if isinstance(value, ast.UnaryOp):
        return shown_metric(value.operand)
    if isinstance(value, ast.BinOp) and not formats(value):
        return shown_metric(value.left) or shown_metric(value.right)
    if not isinstance(value, ast.Call):
        return None
    func, first = value.func, value.args[0] if value.args else None
    if isinstance(func, ast.Name) and func.id in NUMERIC_FUNCTIONS and first is not None:
        return shown_metric(first)  # round(accuracy_score(y, p), 3)
    if isinstance(func, ast.Attribute) and root_name(func) in NUMERIC_MODULES and first is not None:
        return shown_metric(first)  # np.sqrt(mean_squared_error(y, p))
    if isinstance(func, ast.Attribute) and func.attr in NUMERIC_METHODS:
        return shown_metric(func.value)  # cross_val_score(m, X, y).mean()
    return None


#: A metric function's conventional short name, where its initials are not it.
_METRIC_NAMES = {"score": "score", "max_error": "max_error", "cross_val_score": "cv_score"}


def metric_name(function: str) -> str:
    """The name a shown metric's value gets: ``accuracy_score`` -> ``accuracy``,
    ``mean_absolute_error`` -> ``mae``, ``root_mean_squared_error`` -> ``rmse``, ``.score`` -> ``score``,
    ``log_loss`` -> ``logloss``."""
    function = function.rpartition(".")[2]
    if function in _METRIC_NAMES:
        name = _METRIC_NAMES[function]
    elif function.endswith("_error"):
        name = "".join(word[0] for word in function.split("_") if word)
    elif function.endswith("_loss"):  # `log_loss = log_loss(y, p)` would hide the function
        name = function.replace("_", "")
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
