"""Which of a step's imports may move to the module header without changing what they bind.

A step's top-level import moves only when no earlier exported cell binds the same name otherwise
(``def score`` and then ``from helpers import score``: the header would lose the race), and no
earlier cell could change what it imports: one that writes the module (``%%writefile helpers.py``,
a step's ``open("helpers.py", "w")``) or changes ``sys.path`` or the working folder. Otherwise the
import stays where it stands, a statement of its step, and the module still imports in a fresh folder.
When the module is one a skipped cell writes (``%%writefile helpers.py`` tagged ``skip``), the step
that imports it writes it first, as the notebook did before the import ran.

An optional import with its fallback (``try: from tqdm.auto import tqdm`` / ``except ImportError:
def tqdm(x, **kw): return x``) moves as one statement, like an import, when the fallback only
imports, defines functions that read nothing of the notebook's, and assigns constants: otherwise
``tqdm`` would be data one step hands the next.

A star import always moves (Python allows it only at module level), and always stays: its names are
unknown, so no read shows that the exported code needs it.
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

from nb2prod.analyse.cells import MODULE_ROLES, CellCode
from nb2prod.analyse.lineage import PathResolver, mentions_files
from nb2prod.analyse.names import BUILTINS, free_names, statement_events
from nb2prod.analyse.slicing import Dropped


def decide_hoisting(parsed: list[CellCode], defaults: dict[str, object]) -> frozenset[str]:
    """Move each step's top-level import to the header when that keeps its meaning (the module
    docstring says when); return the local modules some cell writes."""
    written: dict[str, CellCode] = {}  # file -> the latest cell that writes it
    wanted = {
        e.name for p in parsed for stmt in p.hoist_candidates for e in statement_events(stmt)
        if e.kind == "write"
    }
    bound: dict[str, str] = {}  # name -> what its latest exported binding is
    paths = PathResolver(defaults)
    path_changed = False
    # Files and sys.path only matter for modules that are no installed distribution's: most
    # notebooks import none, and then no statement needs a second look for them.
    imports = [s for p in parsed for s in p.hoist_candidates]
    imports += [
        s for p in parsed if p.tree is not None and p.role in ("skip", "unexported")
        for s in p.tree.body if isinstance(s, ast.Import | ast.ImportFrom)
    ]
    track_files = any(_is_local(_imported_top(s)) for s in imports)
    for p in parsed:
        if p.writes_file:
            written[p.writes_file] = p
        if p.tree is None:
            continue
        exported = p.role in ("step", "parameters", *MODULE_ROLES)
        candidates = {id(stmt) for stmt in p.hoist_candidates}
        binds = exported and any(name in p.code for name in wanted)  # a binding spells the name
        if not (candidates or binds or track_files):
            continue
        files = track_files and mentions_files(p.code)
        for stmt in p.kept if exported else p.tree.body:
            if id(stmt) in candidates:
                keys = _import_keys(stmt)
                top = _imported_top(stmt)
                clash = any(bound.get(name, key) != key for name, key in keys.items())
                writer = next((written[w] for w in reversed(written) if _is_module_file(w, top)), None)
                changed = _is_local(top) and (path_changed or writer is not None)
                if writer is not None and writer.role in ("skip", "unexported") and writer.writes_file:
                    if (writer.cell.index, writer.code.strip()) not in p.lent_writes:
                        p.lent_writes.append((writer.cell.index, writer.code.strip()))
                if _is_star(stmt) or (not clash and not changed):
                    p.hoisted.append(ast.get_source_segment(p.code, stmt) or ast.unparse(stmt))
                    p.hoisted_ids.add(id(stmt))
                    p.drop_lines |= set(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
                bound.update(keys)
                continue
            if p.role != "parameters" and track_files:
                if files:
                    written.update((path, p) for _, path, _ in paths.files(stmt)[1])
                paths.learn(stmt)
                path_changed = path_changed or _changes_import_path(stmt)
            if binds:
                if isinstance(stmt, ast.Import | ast.ImportFrom):
                    bound.update(_import_keys(stmt))
                    continue
                for event in statement_events(stmt):
                    if event.kind in ("write", "del") and event.name in wanted:
                        bound[event.name] = f"cell {p.cell.index}"
    return frozenset(
        name for path in written
        if (name := _module_of_file(path)) is not None
    )


def keep_star_imports(parsed: list[CellCode], dropped: tuple[Dropped, ...]) -> tuple[Dropped, ...]:
    """Put back the star imports of step cells that the slice dropped (no read names what they
    bind); return what was dropped without them."""
    back: set[tuple[int, int]] = set()
    for p in parsed:
        if p.role != "step" or p.tree is None:
            continue
        kept = {id(s) for s in p.kept}
        for stmt in p.tree.body:
            if isinstance(stmt, ast.ImportFrom) and _is_star(stmt) and id(stmt) not in kept:
                p.kept = sorted([*p.kept, stmt], key=lambda s: (s.lineno, s.col_offset))
                p.hoist_candidates = sorted([*p.hoist_candidates, stmt], key=lambda s: s.lineno)
                back.add((p.cell.index, stmt.lineno))
    return tuple(d for d in dropped if (d.cell, d.line) not in back)


_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError"})


def is_import_fallback(stmt: ast.stmt) -> bool:
    """``try: import x`` / ``except ImportError: <imports, self-contained defs, constants>``."""
    if not isinstance(stmt, ast.Try) or stmt.finalbody or not stmt.handlers:
        return False
    if not all(isinstance(s, ast.Import | ast.ImportFrom) and not _is_star(s) for s in stmt.body):
        return False
    for handler in stmt.handlers:
        caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if handler.name or not all(isinstance(c, ast.Name) and c.id in _IMPORT_ERRORS for c in caught):
            return False
    fallback = [s for h in stmt.handlers for s in h.body] + stmt.orelse
    bound = {e.name for e in statement_events(stmt) if e.kind == "write"}
    for s in fallback:
        if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef):
            if s.decorator_list or any(n not in BUILTINS and n not in bound for n in free_names(s)):
                return False
        elif isinstance(s, ast.Assign | ast.AnnAssign):
            targets = s.targets if isinstance(s, ast.Assign) else [s.target]
            if not all(isinstance(t, ast.Name) for t in targets) or not _constant(s.value):
                return False
        elif not isinstance(s, ast.Import | ast.ImportFrom | ast.Pass) or _is_star(s):  # type: ignore[arg-type]
            return False
    return True


def _constant(value: ast.expr | None) -> bool:
    """A literal, a builtin, or a lambda that reads only its arguments and builtins."""
    if isinstance(value, ast.Lambda):
        return all(n in BUILTINS for n in free_names(value))
    if isinstance(value, ast.Name):
        return value.id in BUILTINS
    return value is not None and all(
        isinstance(n, ast.Constant | ast.Tuple | ast.List | ast.expr_context | ast.UnaryOp | ast.unaryop)
        for n in ast.walk(value)
    )


def _is_star(stmt: ast.Import | ast.ImportFrom | ast.stmt) -> bool:
    return isinstance(stmt, ast.Import | ast.ImportFrom) and any(a.name == "*" for a in stmt.names)


def _import_keys(stmt: ast.stmt) -> dict[str, str]:
    """name -> what the import binds it to: two imports that bind a name alike may both move
    (star imports bind names no one knows: they never clash). An import with its fallback binds
    its names to itself."""
    if isinstance(stmt, ast.Try):
        return {e.name: f"fallback {ast.unparse(stmt)}"
                for e in statement_events(stmt) if e.kind == "write"}
    assert isinstance(stmt, ast.Import | ast.ImportFrom)
    keys = {}
    for alias in stmt.names:
        if alias.name == "*":
            continue
        if isinstance(stmt, ast.Import):
            module = alias.name if alias.asname else alias.name.split(".")[0]
            keys[alias.asname or alias.name.split(".")[0]] = f"module {module}"
        else:
            keys[alias.asname or alias.name] = f"{'.' * stmt.level}{stmt.module}:{alias.name}"
    return keys


def _imported_top(stmt: ast.stmt) -> str:
    if isinstance(stmt, ast.Try):
        return _imported_top(stmt.body[0])
    assert isinstance(stmt, ast.Import | ast.ImportFrom)
    if isinstance(stmt, ast.ImportFrom):
        return "." if stmt.level else (stmt.module or "").split(".")[0]
    return stmt.names[0].name.split(".")[0]


def _module_of_file(path: str) -> str | None:
    parts = Path(path).parts
    if not parts:
        return None
    first = parts[0]
    name = first[:-3] if first.endswith(".py") and len(parts) == 1 else first
    return name if name.isidentifier() else None


@functools.cache
def _is_local(top: str) -> bool:
    """Whether ``top`` is a module of the project's (a file next to the notebook, or one a cell
    writes) rather than the standard library's or an installed distribution's. Found on the
    interpreter's path without the working folder, and without importing anything."""
    if top == "." or top in sys.stdlib_module_names:
        return top == "."
    import importlib.machinery
    import os

    here = {"", ".", os.getcwd()}
    return importlib.machinery.PathFinder.find_spec(top, [p for p in sys.path if p not in here]) is None


def _is_module_file(path: str, top: str) -> bool:
    return _module_of_file(path) == top


def _changes_import_path(stmt: ast.stmt) -> bool:
    """``sys.path.append(...)``, ``sys.path = ...``, ``os.chdir(...)``: later imports may mean other files."""
    for node in ast.walk(stmt):
        target = node.func.value if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) else None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "chdir":
            return True
        if isinstance(node, ast.Assign):
            target = next(iter(node.targets), None)
        if isinstance(target, ast.Attribute) and target.attr == "path" and isinstance(target.value, ast.Name):
            if target.value.id == "sys":
                return True
    return False
