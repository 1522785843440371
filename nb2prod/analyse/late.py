"""Notebook functions whose body reads names that later cells define: read where they are called.

``def evaluate(model): model.fit(X_train, y_train)`` under "## Helpers", ``X_train`` under "## Data",
``evaluate(...)`` under "## Model": this runs in Jupyter, because a function body's free names are
looked up when it is called. Such a function (some free name is not defined yet where the def runs)
is *late*: its def reads nothing, and each use of it reads its free names, and changes those its
body changes in place (``scores.append(...)``), in the step that uses it. The defining step's copy
is a closure over that step's variables, which cannot see the later ones; so every other step that
uses it hosts a copy of its own, emitted before the step's cells, whose free names are then that
step's inputs and variables (a late function it calls comes along). Functions that declare
``global`` are :mod:`nb2prod.analyse.closures`' business.

A function whose free names another step rebinds later (``w = 0.0; def f(x): return x * w`` under
"## Model", ``w = w + 1.0`` under "## Train", ``f(X)`` under "## Eval") is late too, from its def
on (:func:`rebound_functions`): the defining step's closure would keep seeing that step's ``w``,
while the notebook's ``f`` sees the current one wherever it is called.

The backward slice runs before the data flow knows which functions are late, so it sees every step
function's free names read at its calls (:func:`call_effects`): the ``scores = []`` before the calls
that append to it, and the data they read, stay.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nb2prod.analyse.names import (
    BUILTINS,
    Event,
    GlobalEffects,
    free_names,
    global_effects,
    root_name,
    statement_events,
)
from nb2prod.read.magics import tree_nodes

if TYPE_CHECKING:
    from nb2prod.analyse.cells import CellCode
    from nb2prod.analyse.dataflow import DataFlow


@dataclass(frozen=True)
class Late:
    home: CellCode
    node: ast.FunctionDef | ast.AsyncFunctionDef
    reads: tuple[str, ...]  # its free names, read when it is called
    def_reads: tuple[str, ...]  # what the def itself reads (decorators, defaults): a copy reads them too
    changes: tuple[str, ...]  # free names its body changes in place
    rebound: tuple[str, str] | None = None  # (free name, step) another step rebinds it in


def rebound_functions(parsed: list[CellCode], effects: GlobalEffects) -> dict[int, tuple[str, str]]:
    """id() of each step cell's def -> (a free name, the other step) when a later step cell of
    another step rebinds that name while the def still stands: the function must read it where
    it is called. Functions that declare ``global`` keep their own effects."""
    writes: list[tuple[CellCode, ast.stmt, set[str]]] = [
        (p, stmt, {e.name for e in statement_events(stmt, effects)
                   if e.kind in ("write", "del") and not e.in_place})
        for p in parsed if p.role == "step" and p.tree is not None
        for stmt in p.kept if not p.is_hoisted(stmt)
    ]
    found: dict[int, tuple[str, str]] = {}
    for i, (home, stmt, _) in enumerate(writes):
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) or stmt.name in effects:
            continue
        free = [n for n in free_names(stmt) if n not in BUILTINS and n != stmt.name]
        for p, _, bound in writes[i + 1:]:
            rebound = next((n for n in free if n in bound), None)
            if p.step != home.step and rebound is not None:
                found[id(stmt)] = (rebound, p.step or "")
                break
            if stmt.name in bound:
                break  # redefined: the later def is another function
    return found


def definition(flow: DataFlow, p: CellCode, stmt: ast.stmt, events: list[Event]) -> Late | None:
    """The step cell's def as a late function, or None when every free name is known already
    (it then stays a closure over its step, as before)."""
    if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) or stmt.name in flow.effects:
        return None
    free = [e.name for e in events if e.deferred and e.kind == "read" and e.name != stmt.name
            and not (e.optional and not known(flow, e.name))]  # (a column a formula calls)
    rebound = flow.rebound.get(id(stmt))
    if rebound is None and not any(n in flow.late or not known(flow, n) for n in free):
        return None
    free_set = set(free)
    changes = {
        e.name for s in stmt.body for e in statement_events(s)
        if e.kind in ("mutate", "write") and e.name in free_set
    }
    def_reads = [e.name for e in events if e.kind == "read" and not e.deferred]
    return Late(p, stmt, tuple(dict.fromkeys(free)), tuple(dict.fromkeys(def_reads)),
                tuple(n for n in dict.fromkeys(free) if n in changes), rebound)


def known(flow: DataFlow, name: str) -> bool:
    """Defined where the def runs (after a star import: unless a later step cell defines it)."""
    return (
        name in flow.writer or name in flow.module_names or name in BUILTINS
        or name in flow.hidden_imports or name in flow.hidden_writer
        or (flow.star_import and name not in flow.step_names)
    )


#: Methods that change a container in place: the accumulator a helper fills (``scores.append``).
CONTAINER_CHANGES = frozenset({"append", "extend", "insert", "update", "add", "setdefault", "pop",
                               "popitem", "remove", "discard", "clear", "appendleft", "sort", "reverse"})


def call_effects(parsed: list[CellCode]) -> dict[str, tuple[tuple[str, bool | None], ...]]:
    """Step cells' function -> its free names, read where it is called (None), or read and changed
    there (True: a container it fills). The names a function declares ``global`` keep their own
    effects; its other free names (the helpers it calls) are read where it is called too."""
    found: dict[str, tuple[tuple[str, bool | None], ...]] = {}
    for p in parsed:
        for stmt in p.tree.body if p.role == "step" and p.tree is not None else []:
            if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            declared = {n for n, _ in global_effects(stmt)}  # (its `global` names: its own effects)
            free = [n for n in free_names(stmt) if n not in BUILTINS and n != stmt.name and n not in declared]
            changed = set()
            for node in tree_nodes(stmt):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    if node.func.attr in CONTAINER_CHANGES:
                        changed.add(root_name(node.func.value))
                elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
                    changed.add(root_name(node))
            if free:
                found[stmt.name] = tuple((n, True if n in changed else None) for n in free)
    for name in found:  # a helper that calls another reads what that one reads
        todo, seen = [n for n, _ in found[name]], {name}
        effects = dict(found[name])
        while todo:
            other = todo.pop()
            if other in found and other not in seen:
                seen.add(other)
                for n, mode in found[other]:
                    if n not in effects or mode:
                        effects[n] = mode
                    todo.append(n)
        found[name] = tuple(effects.items())
    return found


def use(flow: DataFlow, p: CellCode, name: str, line: int, seen: set[str] | None = None) -> None:
    """Step ``p`` uses (calls, passes) the late function ``name``: it reads what the body reads."""
    seen = seen if seen is not None else set()
    if name in seen:
        return
    seen.add(name)
    late = flow.late[name]
    step = p.step or ""
    if step != late.home.step:
        flow.hosted.setdefault(step, {})[name] = late
        for read in late.def_reads:
            flow._event(p, "read", read, line, module=False)
    outer = flow.calling
    flow.calling = flow.calling or (name, late.home.cell.index)
    try:
        for read in late.reads:
            if read in flow.late:
                use(flow, p, read, line, seen)
            else:
                flow._event(p, "read", read, line, module=False)
        for changed in late.changes:
            flow._event(p, "mutate", changed, line, module=False)
    finally:
        flow.calling = outer


def prelude(flow: DataFlow, step: str) -> str:
    """Copies of the late functions ``step`` hosts, as their cells wrote them."""
    parts = []
    for name, late in flow.hosted.get(step, {}).items():
        node = late.node
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        text = "\n".join(late.home.code.splitlines()[first - 1 : node.end_lineno])
        names = [n for n in late.reads if n not in flow.module_names and n not in flow.late]
        reads = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        why = (f"{late.rebound[0]}, which step {late.rebound[1]!r} rebinds," if late.rebound
               else reads)
        parts.append(
            f"# cell {late.home.cell.index}: {name} reads {why} when called, so each step that "
            "calls it has a copy\n" + text
        )
    return "\n\n".join(parts) + "\n\n" if parts else ""
