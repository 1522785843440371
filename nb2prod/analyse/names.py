"""Names a cell reads and writes, in execution order, found with Python's ``ast``.

The analysis replays these events cell by cell to infer the data flow between steps. It is deliberately
conservative where Python is dynamic: a method call on a name (``model.fit(X, y)``) and an assignment
to an item or attribute (``df["x"] = ...``) count as writing that name, because they may change it in
place and a later step must then receive the changed object. The exceptions are data: methods that
leave their object as it was (``model.predict``, ``df.copy``) are listed in
:mod:`nb2prod.analyse.methods`, and ``inplace=True`` makes any of them a change again. A call of a
notebook function that declares ``global x`` reads and writes ``x`` where it is called.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from nb2prod.analyse.methods import NON_MUTATING_METHODS
from nb2prod.analyse.operational import is_logging_call
from nb2prod.analyse.string_names import scope_string_reads, string_reads
from nb2prod.read.magics import QuickVisitor, all_nodes, tree_nodes

EventKind = Literal["read", "write", "mutate", "del", "keep"]
BUILTINS = frozenset(dir(builtins))

#: Methods whose bare call only shows a value (``df.head()``): dropped from exported code.
DISPLAY_METHODS = frozenset({"head", "tail", "describe", "info", "value_counts", "nunique"})
#: Functions whose bare call only shows a value in a notebook.
DISPLAY_FUNCTIONS = frozenset({"display"})


@dataclass(frozen=True)
class Event:
    kind: EventKind
    name: str
    line: int  # 1-based, inside the cell
    deferred: bool = False  # a read inside a def or lambda body: it happens when that is called
    in_place: bool = False  # a write through an item or attribute (``df["x"] = 1``): binds no name
    optional: bool = False  # a name a formula calls: no error when no cell binds it (string_names)


#: function name -> the ``global`` names it declares, each with whether the function reads it (None:
#: it only reads the name, a free name read when it is called)
GlobalEffects = Mapping[str, tuple[tuple[str, bool | None], ...]]
#: Call effects in force for every ``statement_events`` call (see ``calls_read_free_names``).
_CALLS: ContextVar[GlobalEffects | None] = ContextVar("nb2prod_call_effects", default=None)


@contextmanager
def calls_read_free_names(effects: GlobalEffects) -> Iterator[None]:
    """Within the block, calling one of these notebook functions reads (and changes) the free
    names ``effects`` lists, where it is called: how the backward slice sees a helper defined
    above the data it reads (:mod:`nb2prod.analyse.late`). A ``global`` declaration wins."""
    token = _CALLS.set(effects)
    try:
        yield
    finally:
        _CALLS.reset(token)


def statement_events(stmt: ast.stmt, effects: GlobalEffects | None = None) -> list[Event]:
    """Read/write/del events of one top-level statement, in evaluation order.

    ``effects`` names the notebook's functions that declare ``global`` names: calling one reads
    (when its body does) and then writes those names, as the notebook's namespace sees it.
    """
    calls = _CALLS.get() or None
    if calls is not None:  # the same events as without, unless the statement names such a function
        token = _CALLS.set(None)
        try:
            plain = statement_events(stmt, effects)
        finally:
            _CALLS.reset(token)
        if not any(e.kind == "read" and e.name in calls for e in plain):
            return plain
    key = (id(stmt), tuple(sorted(effects.items())) if effects else (), id(calls))
    known = _EVENTS.get(key)
    if known is not None and known[0] is stmt and known[2] is calls:  # (ids can be reused)
        return list(known[1])
    collector = _Collector(_merged(calls, effects) if calls else effects or {})
    collector.visit(stmt)
    if len(_EVENTS) >= _EVENTS_KEPT:
        _EVENTS.clear()
    _EVENTS[key] = (stmt, tuple(collector.events), calls)
    return collector.events


def _merged(calls: GlobalEffects, effects: GlobalEffects | None) -> dict:
    """A function's ``global`` effects first, then the other free names its call reads."""
    merged = dict(calls)
    for name, own in (effects or {}).items():
        known = {n for n, _ in own}
        merged[name] = (*own, *(e for e in calls.get(name, ()) if e[0] not in known))
    return merged


# Parsed cells are shared and only read (``read.magics.parse_masked``), and the analysis asks for
# the same statement's events four times over (data flow, slicing, hoisting, inference).
_EVENTS: dict[tuple[int, tuple, int], tuple[ast.stmt, tuple[Event, ...], GlobalEffects | None]] = {}
_EVENTS_KEPT = 50_000


def global_effects(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[tuple[str, bool], ...]:
    """The names ``node`` (or a function inside it) declares ``global``, each with whether it reads it."""
    nodes = tree_nodes(node)
    declared = [n for child in nodes if isinstance(child, ast.Global) for n in child.names]
    if not declared:
        return ()
    loaded = {child.id for child in nodes if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load)}
    return tuple((name, name in loaded) for name in dict.fromkeys(declared))


def is_display_only(stmt: ast.stmt) -> bool:
    """A bare expression whose only effect in a notebook is to show a value."""
    if not isinstance(stmt, ast.Expr):
        return False
    value = stmt.value
    if isinstance(value, ast.Call):
        func = value.func
        if is_logging_call(value):  # `logger.info("saved to %s", path)`: the job's log, not `df.info()`
            return False
        if isinstance(func, ast.Name) and func.id in DISPLAY_FUNCTIONS:
            return True
        if isinstance(func, ast.Attribute) and func.attr in DISPLAY_METHODS:
            return _has_no_effects(func.value) and all(
                _has_no_effects(a) for a in [*value.args, *[k.value for k in value.keywords]]
            )
        return False
    return _has_no_effects(value)


def _has_no_effects(node: ast.AST) -> bool:
    return not any(
        isinstance(n, ast.Call | ast.Await | ast.Yield | ast.YieldFrom | ast.NamedExpr)
        for n in tree_nodes(node)
    )


def printed_names(tree: ast.Module) -> list[str]:
    """Names a Kale ``pipeline-metrics`` cell shows: ``print(accuracy)`` or a bare ``accuracy``."""
    names: list[str] = []
    for stmt in tree.body:
        if not isinstance(stmt, ast.Expr):
            continue
        value = stmt.value
        if isinstance(value, ast.Name):
            names.append(value.id)
        elif isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
            if value.func.id in ("print", "display"):
                names.extend(a.id for a in value.args if isinstance(a, ast.Name))
    return list(dict.fromkeys(names))


def root_name(node: ast.AST) -> str | None:
    """``df`` for ``df.a.b[0]``; None when the chain does not start at a plain name."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


class _Collector(QuickVisitor):
    """Emits events in the order Python evaluates them (right side before targets)."""

    def __init__(self, effects: GlobalEffects) -> None:
        self.events: list[Event] = []
        self.effects = effects
        self.maybe = 0  # > 0 inside a block that may not run (if, for, while, try, match)

    def emit(
        self, kind: EventKind, name: str, node: ast.AST, deferred: bool = False, in_place: bool = False,
        optional: bool = False,
    ) -> None:
        self.events.append(Event(kind, name, getattr(node, "lineno", 0), deferred, in_place, optional))

    # -- targets ---------------------------------------------------------------------------------
    def bind(self, target: ast.AST) -> None:
        if isinstance(target, ast.Name):
            if self.maybe:  # the old value survives when the block does not run: "keep" it
                self.emit("keep", target.id, target)
            self.emit("write", target.id, target)
        elif isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                self.bind(elt)
        elif isinstance(target, ast.Starred):
            self.bind(target.value)
        elif isinstance(target, ast.Attribute | ast.Subscript):
            # `df["x"] = ...` reads df's parts, then changes df in place.
            self.visit(target.value)
            if isinstance(target, ast.Subscript):
                self.visit(target.slice)
            name = root_name(target)
            if name:
                self.emit("write", name, target, in_place=True)

    # -- statements ------------------------------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.bind(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self.bind(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.emit("read", node.target.id, node.target)
        self.bind(node.target)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        # A loop target is a definite write: over an empty iterable the old value would survive,
        # but a step that loops over its data does not mean to hand on the value before the loop.
        self.bind(node.target)
        self.maybe += 1
        for stmt in [*node.body, *node.orelse]:
            self.visit(stmt)
        self.maybe -= 1

    def _maybe_block(self, node: ast.AST) -> None:
        self.maybe += 1
        self.generic_visit(node)
        self.maybe -= 1

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        self.maybe += 1
        for stmt in [*node.body, *node.orelse]:
            self.visit(stmt)
        self.maybe -= 1

    def visit_While(self, node: ast.While) -> None:
        self.visit(node.test)
        self._maybe_block(node)

    visit_Try = visit_TryStar = visit_Match = _maybe_block

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.bind(item.optional_vars)
        for stmt in node.body:
            self.visit(stmt)

    visit_AsyncWith = visit_With

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                # `del x` needs x bound: in a step function x must be an input, so it reads it first.
                self.emit("read", target.id, target)
                self.emit("del", target.id, target)
            else:
                self.bind(target)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.emit("write", "*", node)
            else:
                self.emit("write", alias.asname or alias.name.split(".")[0], node)

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.emit("write", node.name, node)
        for stmt in node.body:
            self.visit(stmt)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._visit_arguments(node.args)
        self._deferred_reads(node)
        self.emit("write", node.name, node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *[k.value for k in node.keywords]]:
            self.visit(expr)
        for name in free_names(node):
            self.emit("read", name, node)
        self.emit("write", node.name, node)

    def visit_Global(self, node: ast.Global | ast.Nonlocal) -> None:
        return None

    visit_Nonlocal = visit_Global

    # -- expressions -----------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.emit("read", node.id, node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.bind(node.target)

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        for name, optional in string_reads(node):  # `df.query("x > @cutoff")`, formulas
            self.emit("read", name, node, optional=optional)
        func = node.func
        if isinstance(func, ast.Attribute):
            name = root_name(func.value)
            if name and (func.attr not in NON_MUTATING_METHODS or _in_place(node)):
                self.emit("mutate", name, node)  # `model.fit(X, y)` may change `model` in place
        elif isinstance(func, ast.Name) and func.id in self.effects:
            for name, reads in self.effects[func.id]:  # `widen()` whose body says `global df`
                if reads is not False:
                    self.emit("read", name, node)
                if reads is None:
                    continue  # (a free name the body only reads)
                if self.maybe:
                    self.emit("keep", name, node)
                self.emit("write", name, node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_arguments(node.args)
        self._deferred_reads(node)

    def _deferred_reads(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        soft = {n for n, optional in scope_string_reads(node).items() if optional}
        if soft:  # a name only a formula calls is optional; one the code reads too is not
            soft -= {c.id for c in ast.walk(node) if isinstance(c, ast.Name)}
        for name in free_names(node):
            self.emit("read", name, node, deferred=True, optional=name in soft)

    def _visit_comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        # The first iterable is evaluated in the enclosing scope; the rest is the comprehension's own.
        self.visit(node.generators[0].iter)
        for name in free_names(node, skip_first_iter=True):
            self.emit("read", name, node)
        for walrus in (n for n in ast.walk(node) if isinstance(n, ast.NamedExpr)):
            self.bind(walrus.target)  # PEP 572: binds in the enclosing scope

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _visit_comprehension

    def _visit_arguments(self, args: ast.arguments) -> None:
        for default in [*args.defaults, *[d for d in args.kw_defaults if d is not None]]:
            self.visit(default)


def _in_place(call: ast.Call) -> bool:
    """pandas' ``inplace=True`` (anything but a literal False) changes the object it is called on."""
    for keyword in call.keywords:
        if keyword.arg == "inplace":
            return not (isinstance(keyword.value, ast.Constant) and not keyword.value.value)
    return False


def free_names(node: ast.AST, *, skip_first_iter: bool = False) -> list[str]:
    """Names a nested scope (function, class, lambda, comprehension) reads from outside itself."""
    local: set[str] = set()
    reads: list[str] = []
    for child in _scope_nodes(node, skip_first_iter):
        if isinstance(child, ast.Name):
            if isinstance(child.ctx, ast.Load):
                reads.append(child.id)
            else:
                local.add(child.id)
        elif isinstance(child, ast.arg):
            local.add(child.arg)
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and child is not node:
            local.add(child.name)
        elif isinstance(child, ast.Import | ast.ImportFrom):
            local.update(a.asname or a.name.split(".")[0] for a in child.names)
        elif isinstance(child, ast.ExceptHandler) and child.name:
            local.add(child.name)
        elif isinstance(child, ast.Global | ast.Nonlocal):
            reads.extend(child.names)
        elif isinstance(child, ast.Call):
            reads.extend(name for name, _ in string_reads(child))
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        local.update(a.arg for a in _all_args(node.args))
    return list(dict.fromkeys(n for n in reads if n not in local))


def _all_args(args: ast.arguments) -> Iterator[ast.arg]:
    yield from args.posonlyargs
    yield from args.args
    yield from args.kwonlyargs
    if args.vararg:
        yield args.vararg
    if args.kwarg:
        yield args.kwarg


def _scope_nodes(node: ast.AST, skip_first_iter: bool) -> Iterator[ast.AST]:
    """Every node inside ``node``'s body, including nested scopes (their free names are ours too)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        roots: list[ast.AST] = [*node.body]
        for a in _all_args(node.args):
            if a.annotation is not None:
                roots.append(a.annotation)
    elif isinstance(node, ast.ClassDef):
        roots = [*node.body]
    elif isinstance(node, ast.Lambda):
        roots = [node.body]
    else:  # comprehension
        comp = node
        roots = []
        for i, gen in enumerate(comp.generators):  # type: ignore[attr-defined]
            roots.append(gen.target)
            if i or not skip_first_iter:
                roots.append(gen.iter)
            roots.extend(gen.ifs)
        if isinstance(comp, ast.DictComp):
            roots.extend([comp.key, comp.value])
        else:
            roots.append(comp.elt)  # type: ignore[attr-defined]
    for root in roots:
        yield from all_nodes(root)
