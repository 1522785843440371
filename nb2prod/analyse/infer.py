"""Tags for a notebook that has none: steps from its headings, targets from its calls, plots skipped.

A notebook with any ``step:`` tag is never inferred: its author has said what the steps are. One
without gets, in order of what its cells say:

* steps: one per heading section (the highest heading level used more than once, else the highest
  used at all), named from the heading; cells above the first such heading open the first step;
  one step, named after the notebook, when there are no headings;
* ``imports``: a cell of import statements only (they go to the module header anyway);
* ``functions``: a cell of ``def``/``class`` statements (and imports, docstrings) that read only
  imports, builtins and other such definitions: module level, where a class pickles by name; one
  that reads a step's variable stays in its step;
* ``skip``: a cell whose every statement plots or only shows a value (matplotlib, seaborn, plotly,
  pandas ``.plot``, ``display``, ``.style``, a bare ``df.head()``; :mod:`nb2prod.analyse.plotting`),
  unless a cell that is kept reads a name it binds; a cell that is only shell commands (or shell
  commands beside imports and prints: ``!pip show x`` and ``x.__version__``), a cell magic that is
  not Python, a docstring, or code that does not parse;
* ``parity:NAME`` and ``metric:NAME``: predictions and scores the cells compute,
  :mod:`nb2prod.analyse.infer_targets`.

Explicit tags always win: a cell's own role (``skip``, ``parameters``, ``imports``, ``functions``) is
kept, and no parity (or metric) target is inferred when one is declared. :func:`bind_expressions`
lets a ``parity:``/``metric:`` NAME that no cell defines capture the tagged cell's last expression.
"""

from __future__ import annotations

import ast
import keyword
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace

from nb2prod.analyse.infer_final import drop_plot_only, final_values
from nb2prod.analyse.infer_targets import find_targets, unique_name
from nb2prod.analyse.names import BUILTINS, global_effects, statement_events
from nb2prod.analyse.plotting import is_plotting
from nb2prod.read.headings import Heading
from nb2prod.read.magics import mask_magics, parse_masked
from nb2prod.read.notebook import Cell, SourceNotebook


@dataclass(frozen=True)
class Inference:
    """What inference adds to each cell, why, and a short account for ``build``'s listing."""

    tags: dict[int, tuple[str, ...]]  # cell index -> the tags inference adds (never explicit ones)
    reasons: dict[int, str]  # cell index -> why
    summary: tuple[str, ...] = field(default=())


def needs_inference(nb: SourceNotebook) -> bool:
    """A notebook with any step tag is never inferred."""
    return not any(c.tags.step for c in nb.cells)


@dataclass
class _CellInfo:
    cell: Cell
    tree: ast.Module | None
    writes: set[str]
    reads: set[str]
    skip_reason: str | None = None
    plot_names: set[str] = field(default_factory=set)


def infer(nb: SourceNotebook, module: str = "notebook") -> Inference:
    """The tags a notebook with no step tags gets (``module``: the one step's name without headings)."""
    infos = [_info(c) for c in nb.cells]
    _unskip_needed(infos)
    functions = _function_cells(infos)
    tags: dict[int, list[str]] = {c.cell.index: [] for c in infos}
    reasons: dict[int, list[str]] = {c.cell.index: [] for c in infos}
    for info in infos:
        if info.skip_reason and not _has_role(info.cell):
            tags[info.cell.index].append("skip")
            reasons[info.cell.index].append(info.skip_reason)
        elif _imports_only(info) and not _has_role(info.cell):
            tags[info.cell.index].append("imports")
            reasons[info.cell.index].append("import statements only")
        elif info.cell.index in functions:
            tags[info.cell.index].append("functions")
            reasons[info.cell.index].append(
                "definitions only, reading no step's variables: module level (a class there pickles)")
    kept = [
        i for i in infos
        if not _has_role(i.cell) and not i.skip_reason and not _imports_only(i) and i.cell.index not in functions
    ]
    # a cell with nothing to run (empty, comments, magics) continues a step but never opens one
    steps = _steps(nb, [i for i in kept if i.tree is not None and i.tree.body], module)
    for index, (name, why) in steps.items():
        tags[index].insert(0, f"step:{name}")
        reasons[index].insert(0, why)
    every_write = set().union(*(i.writes for i in infos))
    every_tree = [i.tree for i in infos if i.tree is not None]
    exported = [(i.cell.index, i.tree) for i in kept if i.tree is not None]
    parity, metrics = find_targets(nb, exported, every_write, every_tree)
    parity = drop_plot_only(parity, [(i.cell.index, i.tree) for i in infos if i.tree is not None])
    if not (parity or metrics or any(c.tags.parity or c.tags.metrics or c.tags.kale_metrics for c in nb.cells)):
        parity = final_values(_sections(exported, steps), every_tree)  # an analysis: compare its results
    for kind, found in (("parity", parity), ("metric", metrics)):
        for name, (index, why) in found.items():
            tags[index].append(f"{kind}:{name}")
            reasons[index].append(why)
    summary = _summary(steps, parity, metrics, [i for i in infos if "skip" in tags[i.cell.index]], functions)
    return Inference(
        tags={k: tuple(v) for k, v in tags.items() if v},
        reasons={k: "; ".join(v) for k, v in reasons.items() if v},
        summary=summary,
    )


def apply(nb: SourceNotebook, inference: Inference) -> SourceNotebook:
    """``nb`` with the inferred tags folded into each cell's own."""
    cells = []
    for cell in nb.cells:
        extra = inference.tags.get(cell.index, ())
        if not extra:
            cells.append(cell)
            continue
        t = cell.tags
        values = {k: [v for tag in extra if tag.startswith(k + ":") for v in [tag.split(":", 1)[1]]]
                  for k in ("step", "parity", "metric")}
        cells.append(replace(cell, tags=replace(
            t,
            step=values["step"][0] if values["step"] else t.step,
            skip=t.skip or "skip" in extra,
            imports=t.imports or "imports" in extra,
            functions=t.functions or "functions" in extra,
            parity=tuple(dict.fromkeys([*t.parity, *values["parity"]])),
            metrics=tuple(dict.fromkeys([*t.metrics, *values["metric"]])),
        )))
    return replace(nb, cells=tuple(cells))


# -- cells --------------------------------------------------------------------------------------


def _info(cell: Cell) -> _CellInfo:
    masked = mask_magics(cell.source)
    try:
        tree = parse_masked(masked.code)
    except (SyntaxError, ValueError):
        info = _CellInfo(cell, None, set(), set())
        info.skip_reason = "does not parse as Python" if masked.code.strip() else None
        return info
    writes, reads = set(), set()
    for stmt in tree.body:
        for e in statement_events(stmt):
            if e.kind in ("read", "write"):  # a method call on a figure is a plot, not a definition
                (reads if e.kind == "read" else writes).add(e.name)
    info = _CellInfo(cell, tree, writes, reads)
    if masked.foreign_magic:
        info.skip_reason = f"cell magic {masked.foreign_magic} is not Python"
    elif not tree.body and masked.shell_lines:
        info.skip_reason = "shell commands only"
    elif tree.body and all(_is_text(stmt) for stmt in tree.body):
        info.skip_reason = "prose only (a docstring)"
    elif tree.body and all(is_plotting(stmt, info.plot_names) for stmt in tree.body):
        info.skip_reason = "plots or shows values only"
    elif masked.shell_lines and all(_shows_only(stmt, info.plot_names) for stmt in tree.body):
        # `!pip show x` then `import x; print(x.__version__)`: the imports are lent where needed
        info.skip_reason = "shell commands and output only"
        info.writes -= _import_names(tree)
    else:
        info.plot_names.clear()
    return info


def _shows_only(stmt: ast.stmt, figures: set[str]) -> bool:
    """A statement of a shell cell that only shows something: an import, a print, a plot."""
    if isinstance(stmt, ast.Import | ast.ImportFrom) or _is_text(stmt):
        return True
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print":
        return True
    return is_plotting(stmt, figures)


def _import_names(tree: ast.Module) -> set[str]:
    return {
        e.name for stmt in tree.body if isinstance(stmt, ast.Import | ast.ImportFrom)
        for e in statement_events(stmt) if e.kind == "write"
    }


def _has_role(cell: Cell) -> bool:
    """A role of its own (Kale's bare ``pipeline-metrics`` included): inference leaves it alone."""
    return bool(cell.tags.role or cell.tags.kale_metrics)


def _is_text(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _imports_only(info: _CellInfo) -> bool:
    body = info.tree.body if info.tree is not None else []
    return bool(body) and all(isinstance(s, ast.Import | ast.ImportFrom) for s in body)


def _function_cells(infos: list[_CellInfo]) -> set[int]:
    """Untagged cells of ``def``/``class`` statements (imports, docstrings) that read only imports,
    builtins and other such definitions: ``functions`` cells, at module level. A class defined
    inside a step's function cannot be pickled ("Can't pickle local object"); one that reads a
    step's variable stays in its step, where that variable is. A name bound more than once (a
    second, improved ``def features``) stays in its step too: at module level the last one would
    replace the first for every step."""
    candidates = {i.cell.index: i for i in infos if _definitions_only(i) and not _has_role(i.cell)}
    if not candidates or any(w in i.cell.source for i in infos for w in ("writefile", "sys.path", "chdir")):
        return set()  # imports of a module a cell writes, or from a changed path, stay in their step
    imported: set[str] = set()
    step_names: set[str] = set()  # names some code that stays in a step (or a parameter) binds
    for info in infos:
        if info.tree is None:
            continue
        names = _import_names(info.tree)
        imported |= names
        if info.cell.index not in candidates:
            step_names |= {e.name for s in info.tree.body if not isinstance(s, ast.Import | ast.ImportFrom)
                           for e in statement_events(s) if e.kind == "write"}
    allowed = BUILTINS | (imported - step_names)
    reads = {k: _definition_reads(i) for k, i in candidates.items()}
    defines = {k: i.writes - _import_names(i.tree) for k, i in candidates.items() if i.tree is not None}
    counts = Counter(d.name for i in candidates.values() if i.tree is not None for d in i.tree.body
                     if isinstance(d, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef))
    rebound = step_names | imported | {name for name, n in counts.items() if n > 1}
    chosen = {k for k in candidates if not defines[k] & rebound}
    changed = True
    while changed:  # a definition that reads one staying in a step stays there too
        module = allowed | set().union(*(defines[k] for k in chosen))
        kept = {k for k in chosen if reads[k] <= module}
        changed, chosen = kept != chosen, kept
    return chosen


def _definitions_only(info: _CellInfo) -> bool:
    body = info.tree.body if info.tree is not None else []
    defs = [s for s in body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
    return bool(defs) and info.skip_reason is None and all(
        isinstance(s, ast.Import | ast.ImportFrom) or _is_text(s) for s in body if s not in defs
    ) and not any(global_effects(d) for d in defs)  # type: ignore[arg-type]


def _definition_reads(info: _CellInfo) -> set[str]:
    """Every name the cell's definitions read, when defined or when called."""
    assert info.tree is not None
    return {e.name for s in info.tree.body for e in statement_events(s) if e.kind == "read"}


def _unskip_needed(infos: list[_CellInfo]) -> None:
    """A plot cell that binds a name a kept cell reads (a figure saved later) is kept too."""
    changed = True
    while changed:
        changed = False
        for i, info in enumerate(infos):
            if not info.skip_reason or info.tree is None or _has_role(info.cell):
                continue
            later = [o for o in infos[i + 1 :] if not o.skip_reason]
            if any(info.writes & o.reads for o in later):
                info.skip_reason = None
                changed = True


# -- steps --------------------------------------------------------------------------------------


def _steps(nb: SourceNotebook, kept: list[_CellInfo], module: str) -> dict[int, tuple[str, str]]:
    """The first kept cell of each heading section -> (step name, why)."""
    if not kept:
        return {}
    level = _section_level(nb.headings)
    first = next((i for i, h in enumerate(nb.headings) if h.level == level), len(nb.headings))
    # a title above the first section heading is not a section; a higher heading after it is
    sections = [h for h in nb.headings[first:] if level is not None and h.level <= level]
    if not sections:
        why = "no headings: the whole notebook is one step" if not nb.plain_script else "a plain script: one step"
        return {kept[0].cell.index: (_identifier(module) or "pipeline", why)}
    starts: dict[int, tuple[str, str]] = {}
    used: set[str] = set()
    opened: Heading | None = None
    for info in kept:
        above = [h for h in sections if h.cell <= info.cell.index]
        section = above[-1] if above else sections[0]
        if section is opened:
            continue
        opened = section
        name = unique_name(_identifier(section.text) or "step", used)
        starts[info.cell.index] = (name, f"heading {section.text!r} (cell {section.cell})")
    return starts


def _sections(exported: list[tuple[int, ast.Module]],
              steps: dict[int, tuple[str, str]]) -> list[list[tuple[int, ast.Module]]]:
    """The exported cells of each step, in order."""
    sections: list[list[tuple[int, ast.Module]]] = []
    for index, tree in exported:
        if index in steps or not sections:
            sections.append([])
        sections[-1].append((index, tree))
    return sections


def _section_level(headings: tuple[Heading, ...]) -> int | None:
    """The level that divides the notebook: the highest used more than once, else the highest."""
    levels = [h.level for h in headings]
    repeated = sorted(lv for lv in set(levels) if levels.count(lv) > 1)
    if repeated:
        return repeated[0]
    return min(levels) if levels else None


_NUMBERING = re.compile(r"^\s*(?:(?:step|part|section|chapter)\s*)?(?:\d+(?:\.\d+)*|[ivx]+|[a-z])[.):\-\s]\s*", re.I)
_STOP = frozenset({"the", "a", "an", "of", "and", "to", "our", "with", "for", "on", "in"})


def _identifier(text: str) -> str:
    """``'2. Train the Model!'`` -> ``train_model``: at most four words, ASCII, a Python identifier."""
    text = _NUMBERING.sub("", text, count=1)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = [w for w in re.split(r"[^0-9a-zA-Z]+", ascii_text.lower()) if w]
    meaningful = [w for w in words if w not in _STOP] or words
    name = "_".join(meaningful[:4])
    if not name:
        return ""
    if name[0].isdigit():
        name = f"step_{name}"
    return f"{name}_" if keyword.iskeyword(name) else name


# -- the listing --------------------------------------------------------------------------------


def _summary(steps: dict[int, tuple[str, str]], parity: dict[str, tuple[int, str]],
             metrics: dict[str, tuple[int, str]], skipped: list[_CellInfo],
             functions: set[int]) -> tuple[str, ...]:
    names = [name for name, _ in steps.values()]
    whys = [why for _, why in steps.values()]
    source = (
        "from headings" if any(w.startswith("heading") for w in whys)
        else "a plain script" if any(w.startswith("a plain script") for w in whys) else "no headings"
    )
    parts = [f"{'steps' if len(names) > 1 else 'step'} {', '.join(names)} ({source})"] if names else []
    if parity:
        parts.append(f"parity {', '.join(parity)}")
    if metrics:
        parts.append(f"{'metrics' if len(metrics) > 1 else 'metric'} {', '.join(metrics)}")
    if functions:
        cells = ", ".join(str(i) for i in sorted(functions))
        parts.append(f"module-level definitions in {'cells' if len(functions) > 1 else 'cell'} {cells}")
    if skipped:
        cells = ", ".join(str(i.cell.index) for i in skipped)
        parts.append(f"skipped {'cells' if len(skipped) > 1 else 'cell'} {cells} (plots, shell or display only)")
    return tuple(parts)


# -- bare expressions as targets ----------------------------------------------------------------


def bind_expressions(nb: SourceNotebook) -> tuple[SourceNotebook, tuple[str, ...]]:
    """``metric:accuracy`` on a cell ending in ``accuracy_score(y_test, y_pred)``, where no cell
    at or above defines ``accuracy``: the cell's code becomes ``accuracy = accuracy_score(...)``
    (for the pipeline) and the notebook side captures the value the cell shows. Returns the
    notebook and the names so bound. Cheap when no tagged cell ends in a bare expression (most)."""
    bound: list[str] = []
    cells = list(nb.cells)
    for position, cell in enumerate(nb.cells):
        if not (cell.tags.parity or cell.tags.metrics):
            continue
        last = _last_statement(cell)
        if not isinstance(last, ast.Expr) or _shows_nothing(last.value):
            continue
        wanted = [n for n in (*cell.tags.parity, *cell.tags.metrics) if not _defined(n, cells[: position + 1])]
        lines = cell.source.splitlines()
        row, col = last.lineno - 1, last.col_offset
        if wanted and row < len(lines) and lines[row][col:].strip():
            lines[row] = f"{lines[row][:col]}{wanted[0]} = {lines[row][col:]}"
            cells[position] = replace(cell, source="\n".join(lines))
            bound.append(wanted[0])
    return (replace(nb, cells=tuple(cells)) if bound else nb), tuple(bound)


def _last_statement(cell: Cell) -> ast.stmt | None:
    try:
        body = parse_masked(mask_magics(cell.source).code).body
    except (SyntaxError, ValueError):
        return None
    return body[-1] if body else None


def _defined(name: str, cells: list[Cell]) -> bool:
    """Whether any of ``cells`` (code parsed as it stands) writes ``name``."""
    word = re.compile(rf"\b{re.escape(name)}\b")
    for cell in cells:
        if not word.search(cell.source):
            continue
        try:
            tree = parse_masked(mask_magics(cell.source).code)
        except (SyntaxError, ValueError):
            continue
        if any(e.kind == "write" and e.name == name for stmt in tree.body for e in statement_events(stmt)):
            return True
    return False


def _shows_nothing(value: ast.expr) -> bool:
    """``print(...)``, ``display(...)``: the cell shows no value to capture."""
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("print", "display")
