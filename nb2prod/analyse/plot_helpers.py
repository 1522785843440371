"""The notebook's own plotting helpers: ``def plot_cm(cm, title): plt.imshow(cm); plt.title(title)``.

A function counts as plotting when its body draws something and does nothing a caller could see:
it returns no value (or only the axes it drew on), declares no ``global``, stores into no item or attribute, and every call in it
either draws (:func:`nb2prod.analyse.plotting.draws`), prints, or only computes a value (a library
function, a built-in, a method that leaves its object as it was: ``model.predict``, ``.reshape``).
Its locals die with it, so a call of such a helper is plotting, and the slice drops it like
``plt.show()``. Anything the analysis is unsure of keeps the function an ordinary one.
"""

from __future__ import annotations

import ast
import re

from nb2prod.analyse.effects import (
    ARG_MUTATORS,
    DYNAMIC_CALLS,
    PURE_BUILTINS,
    PURE_MODULE_FUNCTIONS,
    PURE_NAME,
    RNG_CALL,
    WORLD_MODULES,
    WRITE_METHOD,
    WRITE_METHODS,
    callee,
    changes_files,
    dotted,
)
from nb2prod.analyse.methods import NON_MUTATING_METHODS
from nb2prod.analyse.names import root_name
from nb2prod.analyse.operational import is_logging_call
from nb2prod.analyse.plotting import draws
from nb2prod.read.magics import tree_nodes

#: Parameters that by convention hold a figure or axes (``def plot_x(data, ax=None)``).
FIGURE_PARAMETER = re.compile(r"^(ax|axes|axs|ax\d+|fig|figure|axis)$")
_ALLOWED = (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.If, ast.Pass, ast.Return,
            ast.With)


def plotting_functions(trees: list[ast.Module], modules: set[str], figures: set[str]) -> set[str]:
    """Names of the top-level functions in ``trees`` that only plot (and print); a helper that calls
    another plotting helper counts too. ``modules`` are the names imports bind; ``figures`` the
    names already known to hold figures."""
    defs: dict[str, list[ast.FunctionDef]] = {}
    for tree in trees:
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef):
                defs.setdefault(stmt.name, []).append(stmt)
    found: set[str] = set()
    while True:
        more = {
            name for name, nodes in defs.items() if name not in found
            and all(_only_plots(node, modules, figures | found) for node in nodes)
        }
        if not more:
            return found
        found |= more


def _only_plots(node: ast.FunctionDef, modules: set[str], figures: set[str]) -> bool:
    if node.decorator_list:
        return False
    local = set(figures) | {a.arg for a in _arguments(node) if FIGURE_PARAMETER.match(a.arg)}
    drew = _Walk()
    body = node.body[1:] if _is_docstring(node.body[0]) else node.body
    return bool(body) and all(_statement_ok(s, modules, local, drew) for s in body) and drew.drew


def computing_functions(trees: list[ast.Module], modules: set[str], known: set[str]) -> set[str]:
    """Names of the top-level functions in ``trees`` whose call only computes a value (or draws,
    or prints): ``def mape(a, f): return float(np.mean(np.abs((a - f) / a)))``. A call of one
    changes none of its arguments, no global, no file and no random stream, so a bare call of one
    with its result thrown away does nothing. ``known``: names already known to be such."""
    defs: dict[str, list[ast.FunctionDef]] = {}
    for tree in trees:
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef):
                defs.setdefault(stmt.name, []).append(stmt)
    found = set(known)
    while True:
        more = {name for name, nodes in defs.items() if name not in found
                and all(_only_computes(node, modules, found) for node in nodes)}
        if not more:
            return found - known
        found |= more


def _only_computes(node: ast.FunctionDef, modules: set[str], functions: set[str]) -> bool:
    if node.decorator_list or any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                                  for n in tree_nodes(node) if n is not node):
        return False
    local = set(functions) | {a.arg for a in _arguments(node) if FIGURE_PARAMETER.match(a.arg)}
    walk = _Walk(values=True)
    body = node.body[1:] if _is_docstring(node.body[0]) else node.body
    params = {a.arg for a in _arguments(node)}
    if any(isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name) and n.target.id in params
           for n in tree_nodes(node)):
        return False  # `items += [x]` extends the caller's list
    return bool(body) and all(_statement_ok(s, modules, local, walk) for s in body)


class _Walk:
    """What a walk over a function body learnt (``drew``) and what it accepts: ``values`` for a
    function that may return any value it computes, but must not log or touch the world."""

    def __init__(self, values: bool = False) -> None:
        self.drew = False
        self.values = values


def _statement_ok(stmt: ast.stmt, modules: set[str], figures: set[str], drew: _Walk) -> bool:
    if not isinstance(stmt, _ALLOWED):
        return False  # nested defs, global, del, try, while, raise...: not sure
    if isinstance(stmt, ast.Return):  # nothing, or the figure it drew on (`return ax`)
        if drew.values and stmt.value is not None:
            return _expr_ok(stmt.value, modules, figures, drew)
        return stmt.value is None or (isinstance(stmt.value, ast.Name) and stmt.value.id in figures)
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if not all(isinstance(n, ast.Name | ast.Tuple | ast.List | ast.Store | ast.Starred)
                   for t in targets for n in ast.walk(t)):
            return False  # `cm[0, 0] = ...`, `self.x = ...`: may change an object the caller holds
        if stmt.value is not None and _expr_ok(stmt.value, modules, figures, drew):
            if any(isinstance(c, ast.Call) and draws(c, figures) for c in ast.walk(stmt.value)):
                figures.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
            return True
        return False
    if isinstance(stmt, ast.Expr):
        return _expr_ok(stmt.value, modules, figures, drew)
    if isinstance(stmt, ast.For):
        if not all(isinstance(n, ast.Name | ast.Tuple | ast.List | ast.Store) for n in ast.walk(stmt.target)):
            return False
        if not _expr_ok(stmt.iter, modules, figures, drew):
            return False
        if any(isinstance(c, ast.Call) and draws(c, figures) for c in ast.walk(stmt.iter)):
            figures.update(n.id for n in ast.walk(stmt.target) if isinstance(n, ast.Name))  # zip(axes, ...)
        if isinstance(stmt.iter, ast.Name) and stmt.iter.id in figures:
            figures.update(n.id for n in ast.walk(stmt.target) if isinstance(n, ast.Name))
    elif isinstance(stmt, ast.If):
        if not _expr_ok(stmt.test, modules, figures, drew):
            return False
    elif isinstance(stmt, ast.With):
        if not all(_expr_ok(i.context_expr, modules, figures, drew) and i.optional_vars is None
                   for i in stmt.items):
            return False
    return all(_statement_ok(s, modules, figures, drew) for s in [*stmt.body, *getattr(stmt, "orelse", [])])


def _expr_ok(node: ast.expr, modules: set[str], figures: set[str], drew: _Walk) -> bool:
    """Every call in ``node`` draws, prints or only computes; no walrus, await or yield."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.NamedExpr | ast.Await | ast.Yield | ast.YieldFrom | ast.Lambda):
            return False
        if not isinstance(sub, ast.Call):
            continue
        if any(k.arg == "inplace" for k in sub.keywords):
            return False
        if draws(sub, figures):
            drew.drew = True
        elif not _computes(sub, modules, figures) or drew.values and not _harmless(sub):
            return False
    return True


def _computes(call: ast.Call, modules: set[str], figures: set[str]) -> bool:
    """A call that only returns a value: it changes none of its arguments and draws no random number."""
    func = call.func
    name = callee(call)
    if not name or RNG_CALL.search(name) or name in ARG_MUTATORS:
        return False
    if WRITE_METHOD.match(name) or name in WRITE_METHODS:
        return False
    if isinstance(func, ast.Name):
        return func.id in PURE_BUILTINS or bool(PURE_NAME.search(func.id)) or func.id in modules
    root = root_name(func)
    if root in modules:
        return "random" not in (dotted(func) or "")  # np.meshgrid(...), np.c_[...].reshape: a library function
    return name in NON_MUTATING_METHODS or root in figures  # model.predict(...), ax.get_xlim()


def _harmless(call: ast.Call) -> bool:
    """For a function that computes: a library call that neither logs, seeds, nor touches the world
    (``os.remove``, ``rmtree``, ``logging.info``), as far as its name tells."""
    func = call.func
    name = callee(call)
    if is_logging_call(call) or changes_files(call) or "seed" in name or name in DYNAMIC_CALLS:
        return False
    root = root_name(func) or ""
    if isinstance(func, ast.Name):
        return root not in WORLD_MODULES and (name in PURE_BUILTINS or bool(PURE_NAME.search(name))
                                              or name in PURE_MODULE_FUNCTIONS or name[:1].isupper())
    return root not in WORLD_MODULES


def _arguments(node: ast.FunctionDef) -> list[ast.arg]:
    args = node.args
    return [*args.posonlyargs, *args.args, *args.kwonlyargs,
            *([args.vararg] if args.vararg else []), *([args.kwarg] if args.kwarg else [])]


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(
        stmt.value.value, str)
