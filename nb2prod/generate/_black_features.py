"""Which of black's newer-than-3.6 syntax features a piece of code may use.

black infers the target versions from the whole module; a piece formatted alone must not use syntax
that would change that inference, or its layout could differ from the whole module's.
"""

from __future__ import annotations

import ast
import re
import sys

from nb2prod.read.magics import all_nodes


def _newer_syntax(text: str) -> str:
    """What ``text`` may use of the syntax black ties to a Python newer than 3.6 (walrus, ``match``,
    positional-only parameters, ``async``/``await``, ``f"{x=}"``, ...: black's ``Feature`` list
    past ``TargetVersion.PY36``), which would change the versions black infers for the module.
    ``"posonly"`` when positional-only parameters are all it found (nb2prod's own ``predict()``
    has them), ``"other"`` for anything else, ``""`` for none. Errs towards ``"other"``, which only
    costs the piece-by-piece saving."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return "other"
    found = ""
    lines = text.splitlines()
    for node in all_nodes(tree):
        if type(node) not in _TELLING:  # (most nodes: names, calls, constants) nothing to see
            continue
        if isinstance(node, _NEWER_NODES):
            return "other"
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            return "other"
        if isinstance(node, ast.arguments) and node.posonlyargs:
            found = "posonly"
        if isinstance(node, ast.comprehension) and node.is_async:
            return "other"
        if isinstance(node, ast.Return | ast.Yield) and _starred_tuple(node.value):
            return "other"
        if isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Tuple):
            return "other"
        if isinstance(node, ast.Subscript) and _starred_tuple(node.slice, bare=True):
            return "other"
        if isinstance(node, ast.arg) and isinstance(node.annotation, ast.Starred):
            return "other"
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp) and isinstance(node.elt, ast.Starred):
            return "other"
        if isinstance(node, ast.DictComp) and node.key is None:
            return "other"
        if _UNPARENTHESIZED_EXCEPT and isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Tuple):
            return "other"  # 3.14 allows them unparenthesised; ast cannot tell
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and (
            getattr(node, "type_params", None) or any(not _plain_decorator(d) for d in node.decorator_list)
        ):
            return "other"
        if isinstance(node, ast.JoinedStr) and _may_be_debug_fstring(node, text):
            return "other"
        if isinstance(node, ast.With) and lines[node.lineno - 1][node.col_offset + 4 :].lstrip().startswith("("):
            return "other"  # parenthesized context managers (or a parenthesized first item)
    return found


_UNPARENTHESIZED_EXCEPT = sys.version_info >= (3, 14)
_NEWER_NODES = tuple(
    getattr(ast, name)
    for name in ("NamedExpr", "Match", "TryStar", "AsyncFunctionDef", "AsyncFor", "AsyncWith", "Await",
                 "TypeAlias", "TemplateStr", "Interpolation")
    if hasattr(ast, name)
)


# Every node type a check above looks at; any other is skipped with one look-up.
_TELLING = frozenset((
    *_NEWER_NODES, ast.ImportFrom, ast.arguments, ast.comprehension, ast.Return, ast.Yield, ast.AnnAssign,
    ast.Subscript, ast.arg, ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp, ast.ExceptHandler,
    ast.FunctionDef, ast.ClassDef, ast.JoinedStr, ast.With,
))


def _starred_tuple(node: ast.AST | None, bare: bool = False) -> bool:
    if bare and isinstance(node, ast.Starred):
        return True
    return isinstance(node, ast.Tuple) and any(isinstance(e, ast.Starred) for e in node.elts)


def _plain_decorator(node: ast.expr) -> bool:
    """A dotted name, or a call of one: what decorators were before 3.9's relaxed grammar."""
    node = node.func if isinstance(node, ast.Call) else node
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _may_be_debug_fstring(node: ast.JoinedStr, text: str) -> bool:
    """``f"{x=}"``: an ``=`` right before a field's end (after spaces, a conversion, a format spec),
    looked for in the f-string's own text (the positions of what is inside are not reliable)."""
    segment = ast.get_source_segment(text, node)
    return segment is None or _DEBUG_FIELD.search(segment) is not None


_DEBUG_FIELD = re.compile(r"=\s*(?:![rsa])?\s*(?::[^{}]*)?\}")
