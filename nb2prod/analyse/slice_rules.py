"""The slice's rules of thumb: why a statement goes (the reason ``--explain`` shows), what a value
may hold a reference to, and which statements run with a compound one. Helpers of
:mod:`nb2prod.analyse.slicing`."""

from __future__ import annotations

import ast

from nb2prod.analyse.effects import PURE_BUILTINS, PURE_NAME
from nb2prod.analyse.methods import NON_MUTATING_METHODS
from nb2prod.analyse.names import is_display_only
from nb2prod.analyse.operational import is_display_setting
from nb2prod.read.magics import all_nodes


def _reads_only(call: ast.Call) -> bool:
    """``open(path)`` or ``open(path, "rb")``: opening a file to read it changes nothing."""
    mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
    return mode is None or (isinstance(mode, ast.Constant) and isinstance(mode.value, str)
                            and not set(mode.value) & set("wax+"))


def _reason(stmt: ast.stmt, writes: set[str], plot: bool) -> str:
    """Why ``stmt`` goes when nothing needs it, in the words ``nb2prod build --explain`` shows."""
    if plot:
        return "plotting"
    if is_display_setting(stmt):
        return "display setting"
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return "import no exported code uses"
    if isinstance(stmt, ast.Expr):
        return _shows(stmt) or "result not used"
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return f"{stmt.name!r} is never used"
    if isinstance(stmt, ast.If | ast.For | ast.While | ast.Try | ast.AsyncFor):
        # `if DEBUG: print(y[:3])`, `for v in vs: print(v)`: a block that only prints or shows values
        shown = {_shows(s) for s in _body_statements(stmt) if not isinstance(s, ast.If | ast.For | ast.While
                 | ast.Try | ast.AsyncFor | ast.Pass)}
        if shown and None not in shown:
            return shown.pop() if len(shown) == 1 else "only prints or shows values"
        if not writes:
            return "nothing it does is used by any target or later step"
    names = ", ".join(sorted(writes)) or "nothing"
    return f"dead store: {names} not used by any target or later step"


def _shows(stmt: ast.stmt) -> str | None:
    """"shows a value" or "only prints" for a statement that does only that."""
    if not isinstance(stmt, ast.Expr):
        return None
    if is_display_only(stmt):
        return "shows a value"
    call = stmt.value
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in ("print", "display"):
        return "only prints"
    return None


def _closure(name: str, aliases: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        for other in aliases.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def _value_roots(value: ast.expr) -> set[str]:
    """Objects a value may hold a reference to: none for a literal, arithmetic or a method that
    returns a new object (``model.predict(X)``, ``df.copy()``)."""
    if isinstance(value, ast.Constant | ast.BinOp | ast.UnaryOp | ast.Compare | ast.BoolOp | ast.JoinedStr):
        return set()
    if isinstance(value, ast.Call):
        func = value.func
        if isinstance(func, ast.Attribute) and func.attr in NON_MUTATING_METHODS:
            return set()
        if isinstance(func, ast.Name) and (func.id in PURE_BUILTINS or PURE_NAME.search(func.id)):
            return set()
    return {n.id for n in all_nodes(value) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _body_statements(stmt: ast.stmt) -> list[ast.stmt]:
    """The statements nested in a compound statement that run with it (not inside a def)."""
    found: list[ast.stmt] = []
    todo = [stmt]
    while todo:
        node = todo.pop()
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(node, field, []) or []:
                if isinstance(child, ast.stmt) and not isinstance(
                    child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
                ):
                    found.append(child)
                    todo.append(child)
                elif isinstance(child, ast.excepthandler | ast.match_case):
                    todo.append(child)  # type: ignore[arg-type]
    return found


def _side_effect_import(stmt: ast.Import | ast.ImportFrom) -> bool:
    """``from sklearn.experimental import enable_iterative_imputer`` works by being imported."""
    modules = [stmt.module or ""] if isinstance(stmt, ast.ImportFrom) else [a.name for a in stmt.names]
    names = [a.name for a in stmt.names]
    return any("experimental" in m or m == "__future__" for m in modules) or any(
        n.startswith("enable_") for n in names
    )
