"""Imports are imports: what an ``imports`` (or ``functions``) cell holds besides import statements.

Importing a generated module must write nothing, print nothing and leave global random state
alone. So the module header holds import statements only, pruned to those the exported code uses;
definitions found in an ``imports`` cell go to the functions part; configuration statements
(seeding, ``warnings.filterwarnings``, ``pd.set_option``, ``os.makedirs``...) run at the start of
``run()`` and ``fit()``; what only serves plots or shows a value (``plt.style.use``, ``print``) goes.
"""

from __future__ import annotations

import ast
import re

from nb2prod.analyse.cells import CellCode
from nb2prod.analyse.names import is_display_only, root_name
from nb2prod.analyse.plotting import PLOT_MODULES, is_plotting
from nb2prod.analyse.slicing import Dropped, _first_line, _side_effect_import
from nb2prod.read.magics import parse_masked, tree_nodes

_WORD = re.compile(r"[A-Za-z_]\w*")


def split_module_cells(parsed: list[CellCode]) -> tuple[str, dict[int, str], list[Dropped]]:
    """(config code for run(), cell -> definitions moved out of an imports cell, what was dropped).

    The statements that leave a cell's text get their lines in ``drop_lines``; they stay in
    ``kept``, so the data flow still sees what module-level code binds and reads.
    """
    config: list[str] = []
    moved: dict[int, str] = {}
    dropped: list[Dropped] = []
    modules = {
        a.asname or a.name.split(".")[0]
        for p in parsed if p.tree is not None
        for node in tree_nodes(p.tree) if isinstance(node, ast.Import | ast.ImportFrom)
        for a in node.names
    }
    for p in parsed:
        if p.role not in ("imports", "functions") or p.tree is None:
            continue
        lines = p.code.splitlines()
        definitions: list[str] = []
        figures: set[str] = set()
        for stmt in p.kept:
            span = set(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
            text = "\n".join(lines[stmt.lineno - 1 : stmt.end_lineno or stmt.lineno])
            kind = _kind(stmt, modules, figures)
            if kind == "import" or (kind == "definition" and p.role == "functions"):
                continue
            p.drop_lines |= span
            if kind == "definition":
                definitions.append(_dedent(text, stmt.col_offset))
            elif kind == "config":
                config.append(_dedent(text, stmt.col_offset))
            else:
                dropped.append(Dropped(p.cell.index, stmt.lineno, _first_line(p, stmt), kind))
        if definitions:
            moved[p.cell.index] = "\n".join(definitions)
    return "\n".join(config), moved, dropped


def _kind(stmt: ast.stmt, modules: set[str], figures: set[str]) -> str:
    """"import", "definition", "config", or why the statement goes."""
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return "import"
    if _serves_plots(stmt) or is_plotting(stmt, figures):
        return "only serves plots"
    if isinstance(stmt, ast.Expr):
        if is_display_only(stmt):
            return "shows a value"
        value = stmt.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "print":
            return "only prints"
        return "config"
    if isinstance(stmt, ast.If | ast.For | ast.While | ast.With | ast.Try):
        loops = {n.id for f in ast.walk(stmt) if isinstance(f, ast.For) for n in ast.walk(f.target)
                 if isinstance(n, ast.Name)}  # `for d in DIRS: os.makedirs(d)` binds only d
        binds = any(isinstance(n, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef)
                    or (isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id not in loops)
                    for n in ast.walk(stmt))
        calls = any(isinstance(n, ast.Call) for n in ast.walk(stmt))
        return "config" if calls and not binds else "definition"
    if isinstance(stmt, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if all(isinstance(t, ast.Attribute | ast.Subscript) for t in targets) and any(
            root_name(t) in modules for t in targets
        ):
            return "config"  # `pd.options.display.max_rows = 50`
    return "definition"


def _serves_plots(stmt: ast.stmt) -> bool:
    """``plt.style.use(...)``, ``sns.set_theme()``, ``mpl.rcParams[...] = ...``, ``matplotlib.use``."""
    nodes = [stmt.value] if isinstance(stmt, ast.Expr) else (
        [*stmt.targets] if isinstance(stmt, ast.Assign) else []
    )
    for node in nodes:
        target = node.func if isinstance(node, ast.Call) else node
        if root_name(target) in PLOT_MODULES:
            return True
    return False


def _dedent(text: str, column: int) -> str:
    return "\n".join(line[column:] if line[:column].isspace() else line for line in text.splitlines())


def prune_header(header: str, code: str, pieces: list[str] | None = None) -> str:
    """The header's import statements that bind a name ``code`` mentions (or that work by being
    imported: ``__future__``, ``sklearn.experimental``, a star import); names are matched as words,
    so a mention in a string or comment keeps an import rather than lose one. With ``pieces`` (the
    code as parsed pieces), an import kept only for such a mention (``smf.ols("y ~ np.log(x)")``)
    says so to linters, which cannot see it used (``# noqa: F401``)."""
    try:
        tree = ast.parse(header)
    except SyntaxError:
        return header
    used = set(_WORD.findall(code))
    loaded = _loaded_names(pieces)
    lines = header.splitlines()
    kept: list[str] = []
    for stmt in tree.body:
        text = "\n".join(lines[stmt.lineno - 1 : stmt.end_lineno or stmt.lineno])
        if not isinstance(stmt, ast.Import | ast.ImportFrom) or _side_effect_import(stmt):
            kept.append(text)
            continue
        names = [a for a in stmt.names if a.name == "*" or (a.asname or a.name.split(".")[0]) in used]
        if len(names) < len(stmt.names) and names:
            stmt.names = names
            text = ast.unparse(stmt)
        if names:
            bound = {a.asname or a.name.split(".")[0] for a in names if a.name != "*"}
            if loaded is not None and "\n" not in text and "#" not in text and bound - loaded:
                text += "  # noqa: F401 (named only in a string or comment)"
            kept.append(text)
    return "\n".join(kept)


def _loaded_names(pieces: list[str] | None) -> set[str] | None:
    """Every name the pieces use as code, or None when they cannot all be parsed (then nothing is
    marked)."""
    if pieces is None:
        return None
    found: set[str] = set()
    for piece in pieces:
        try:
            tree = parse_masked(piece)
        except SyntaxError:
            return None
        found.update(n.id for n in tree_nodes(tree) if isinstance(n, ast.Name))
    return found



def imported_modules(pieces: list[str]) -> tuple[str, ...]:
    """Top-level modules the final code imports (the manifest's packages, requirements.txt)."""
    modules: dict[str, None] = {}
    for piece in pieces:
        try:
            tree = parse_masked(piece)  # (a step's code is usually its cell's, parsed already)
        except SyntaxError:
            continue
        for node in tree_nodes(tree):
            if isinstance(node, ast.Import):
                modules.update((a.name.split(".")[0], None) for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                if node.module != "__future__":
                    modules[node.module.split(".")[0]] = None
    return tuple(modules)
