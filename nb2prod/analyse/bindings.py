"""Names a notebook binds once to something the randomness hints can see through.

``Cls = getattr(ensemble, name)`` then ``Cls()``, ``params = {"n_estimators": 100}`` then
``RandomForestClassifier(**params)``, ``model_name = "RandomForestClassifier"`` in the parameters
cell: real notebooks build estimators this way, and a hint must see the class and the arguments.
Only a name assigned exactly once in the whole notebook (its namespace is shared) is trusted, and a
dict that is ever changed in place (``params["random_state"] = 0``, ``params.update(...)``) is not.
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass, field

from nb2prod.read.magics import tree_nodes

_MUTATORS = frozenset({"update", "setdefault", "pop", "popitem", "clear", "__setitem__"})


@dataclass
class Bindings:
    constants: dict[str, str] = field(default_factory=dict)  # name -> the string it holds
    aliases: dict[str, ast.expr] = field(default_factory=dict)  # name -> what it names (a callee)
    dicts: dict[str, ast.expr] = field(default_factory=dict)  # name -> its dict literal / dict(...)


def bindings(trees: list[ast.Module]) -> Bindings:
    """The once-bound names of every cell (in any order: the notebook's namespace is shared)."""
    counts: Counter[str] = Counter()
    values: dict[str, ast.expr] = {}
    changed: set[str] = set()
    for tree in trees:
        for node in tree_nodes(tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            counts[name.id] += 1
                            if target is name and node.value is not None:
                                values[name.id] = node.value
                        elif isinstance(name, ast.Subscript) and isinstance(name.value, ast.Name):
                            changed.add(name.value.id)
            elif isinstance(node, (ast.For, ast.With, ast.NamedExpr)):
                for name in ast.walk(getattr(node, "target", node)):
                    if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store):
                        counts[name.id] += 2  # a loop or `with` rebinds: not a constant
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in _MUTATORS and isinstance(node.func.value, ast.Name)):
                changed.add(node.func.value.id)
    found = Bindings()
    for name, value in values.items():
        if counts[name] != 1:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found.constants[name] = value.value
        elif literal_dict(value) is not None and name not in changed:
            found.dicts[name] = value
        elif isinstance(value, (ast.Name, ast.Attribute)) or _is_getattr(value):
            found.aliases[name] = value
    return found


def literal_dict(node: ast.expr) -> list[tuple[str, ast.expr]] | None:
    """The items of ``{"k": v}`` or ``dict(k=v)`` with constant keys, else None."""
    if isinstance(node, ast.Dict):
        if all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys):
            return [(k.value, v) for k, v in zip(node.keys, node.values, strict=True)]  # type: ignore[union-attr]
        return None
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict"
            and not node.args and all(k.arg is not None for k in node.keywords)):
        return [(k.arg, k.value) for k in node.keywords]  # type: ignore[misc]
    return None


def _is_getattr(node: ast.expr) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
            and len(node.args) >= 2)


def expand_kwargs(node: ast.Call, known: Bindings) -> ast.Call | None:
    """``node`` with every ``**name`` whose dict is known spelled out as keywords; None when one is
    not known (it may carry anything)."""
    keywords: list[ast.keyword] = []
    for k in node.keywords:
        if k.arg is not None:
            keywords.append(k)
            continue
        value = known.dicts.get(k.value.id) if isinstance(k.value, ast.Name) else k.value
        items = literal_dict(value) if value is not None else None
        if items is None:
            return None
        keywords += [ast.keyword(arg=key, value=v) for key, v in items]
    call = ast.Call(func=node.func, args=node.args, keywords=keywords)
    return ast.copy_location(call, node)


def import_map(trees: dict[int, ast.Module]) -> dict[str, str]:
    """Local name -> dotted origin for every import in the notebook (its namespace is shared)."""
    names: dict[str, str] = {}
    for _, tree in sorted(trees.items()):
        for node in tree_nodes(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        names[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        names[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name != "*":
                        names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names
