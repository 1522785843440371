"""Tags for a notebook that has none: steps from its headings, targets from its calls, plots skipped.

A notebook with any ``step:`` tag is never inferred: its author has said what the steps are. One
without gets, in order of what its cells say:

* steps: one per heading section (the highest heading level used more than once, else the highest
  used at all), named from the heading; cells above the first such heading open the first step;
  one step, named after the notebook, when there are no headings;
* ``imports``: a cell of import statements only (they go to the module header anyway);
* ``skip``: a cell whose every statement plots or only shows a value (matplotlib, seaborn, plotly,
  pandas ``.plot``, ``display``, ``.style``, a bare ``df.head()``; :mod:`nb2prod.analyse.plotting`),
  unless a cell that is kept reads a name it binds; a cell that is only shell commands, a cell
  magic that is not Python, a docstring, or code that does not parse;
* ``parity:NAME``: each name assigned a value computed from a ``predict``, ``predict_proba``,
  ``decision_function``, ``transform`` or ``forecast`` call (or ``cross_val_predict``), taken after
  the last cell that assigns it;
* ``metric:NAME``: each name assigned from a ``*_score`` or ``*_error`` function or a ``.score(``
  call, and a cell that ends in such a call (``accuracy_score(y, p)``: the value it shows).

Explicit tags always win: a cell's own role (``skip``, ``parameters``, ``imports``, ``functions``) is
kept, and no parity (or metric) target is inferred when one is declared. :func:`bind_expressions`
lets a ``parity:``/``metric:`` NAME that no cell defines capture the tagged cell's last expression.
"""

from __future__ import annotations

import ast
import keyword
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from nb2prod.analyse.names import statement_events
from nb2prod.analyse.plotting import is_plotting
from nb2prod.read.headings import Heading
from nb2prod.read.magics import mask_magics, parse_masked
from nb2prod.read.notebook import Cell, SourceNotebook

PREDICT_METHODS = frozenset({"predict", "predict_proba", "decision_function", "transform", "forecast"})


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
    tags: dict[int, list[str]] = {c.cell.index: [] for c in infos}
    reasons: dict[int, list[str]] = {c.cell.index: [] for c in infos}
    for info in infos:
        if info.skip_reason and not _has_role(info.cell):
            tags[info.cell.index].append("skip")
            reasons[info.cell.index].append(info.skip_reason)
        elif _imports_only(info) and not _has_role(info.cell):
            tags[info.cell.index].append("imports")
            reasons[info.cell.index].append("import statements only")
    kept = [i for i in infos if not _has_role(i.cell) and not i.skip_reason and not _imports_only(i)]
    # a cell with nothing to run (empty, comments, magics) continues a step but never opens one
    steps = _steps(nb, [i for i in kept if i.tree is not None and i.tree.body], module)
    for index, (name, why) in steps.items():
        tags[index].insert(0, f"step:{name}")
        reasons[index].insert(0, why)
    parity, metrics = _targets(nb, kept, infos)
    for kind, found in (("parity", parity), ("metric", metrics)):
        for name, (index, why) in found.items():
            tags[index].append(f"{kind}:{name}")
            reasons[index].append(why)
    summary = _summary(steps, parity, metrics, [i for i in infos if "skip" in tags[i.cell.index]])
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
    else:
        info.plot_names.clear()
    return info


def _has_role(cell: Cell) -> bool:
    """A role of its own (Kale's bare ``pipeline-metrics`` included): inference leaves it alone."""
    return bool(cell.tags.role or cell.tags.kale_metrics)


def _is_text(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _imports_only(info: _CellInfo) -> bool:
    body = info.tree.body if info.tree is not None else []
    return bool(body) and all(isinstance(s, ast.Import | ast.ImportFrom) for s in body)


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
        name = _unique_name(_identifier(section.text) or "step", used)
        starts[info.cell.index] = (name, f"heading {section.text!r} (cell {section.cell})")
    return starts


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


def _unique_name(name: str, used: set[str]) -> str:
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name}_{n}", n + 1
    used.add(candidate)
    return candidate


# -- targets ------------------------------------------------------------------------------------


def _targets(
    nb: SourceNotebook, exported: list[_CellInfo], infos: list[_CellInfo]
) -> tuple[dict[str, tuple[int, str]], dict[str, tuple[int, str]]]:
    """Inferred parity and metric targets: name -> (cell after which it is taken, why)."""
    declared_parity = any(c.tags.parity for c in nb.cells)
    declared_metrics = any(c.tags.metrics or c.tags.kale_metrics for c in nb.cells)
    exported_ids = {i.cell.index for i in exported}
    last_write: dict[str, int] = {}
    deleted_after: dict[str, int] = {}
    parity: dict[str, str] = {}
    metrics: dict[str, str] = {}
    for info in exported:
        if info.tree is None:
            continue
        for stmt in _top_statements(info.tree.body):
            value = getattr(stmt, "value", None)
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if value is None or not names or not isinstance(stmt, ast.Assign | ast.AnnAssign):
                continue
            metric = _metric_call(value)
            method = None if metric else _predict_call(value)  # a score of predictions is a metric
            if method:
                parity.setdefault(names[-1], f"{names[-1]} = ….{method}(…)")
            if metric:
                metrics.setdefault(names[-1], f"{names[-1]} = {metric}(…)")
        for stmt in info.tree.body:
            for e in statement_events(stmt):
                if e.kind == "write":
                    last_write[e.name] = info.cell.index
                elif e.kind == "del":
                    deleted_after[e.name] = info.cell.index
    every_write = set().union(*(i.writes for i in infos)) if infos else set()
    taken_parity = {} if declared_parity else _placed(parity, last_write, deleted_after, exported_ids, "parity")
    taken_metrics = {} if declared_metrics else _placed(metrics, last_write, deleted_after, exported_ids, "metric")
    if not declared_metrics:
        used = set(every_write) | set(taken_parity)
        for info in exported:
            last = info.tree.body[-1] if info.tree is not None and info.tree.body else None
            if isinstance(last, ast.Expr) and (metric := _metric_call(last.value)):
                name = _unique_name(_metric_name(metric), used)
                taken_metrics[name] = (info.cell.index, f"the cell shows {metric}(…)")
    return taken_parity, taken_metrics


def _placed(found: dict[str, str], last_write: dict[str, int], deleted: dict[str, int],
            exported: set[int], kind: str) -> dict[str, tuple[int, str]]:
    placed = {}
    for name, why in found.items():
        cell = last_write.get(name)
        if cell is None or cell not in exported or deleted.get(name, -1) >= cell:
            continue
        placed[name] = (cell, f"{kind} target: {why}")
    return placed


def _top_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements at the notebook's top level, into if/for/while/with/try blocks but not into defs."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, list):
                yield from _top_statements([s for s in inner if isinstance(s, ast.stmt)])
        for handler in getattr(stmt, "handlers", []) or []:
            yield from _top_statements(handler.body)


def _predict_call(value: ast.expr) -> str | None:
    """The predict-like method a value is computed from: ``m.predict(X)``, ``m.predict_proba(X)[:, 1]``,
    ``np.expm1(m.predict(X)) * 0.7 + ...``; not inside a lambda or comprehension."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.endswith("_predict"):
            return node.func.id  # cross_val_predict(model, X, y)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in PREDICT_METHODS or node.func.attr.endswith("_predict"):
                return node.func.attr
            if node.func.attr.startswith(("fit", "partial_fit")) and node.func.attr != "fit_predict":
                stack.append(node.func.value)  # `.fit(scaler.transform(X))` makes a model, not data
                continue
        stack.extend(ast.iter_child_nodes(node))
    return None


def _metric_call(value: ast.expr) -> str | None:
    """The metric function a value comes from: ``accuracy_score(...)``, ``np.sqrt(mean_squared_error(...))``,
    ``model.score(X, y)``; not inside a lambda or comprehension."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            continue
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name.endswith(("_score", "_error")) or (name == "score" and isinstance(func, ast.Attribute)):
                return f"….{name}" if isinstance(func, ast.Attribute) else name
        stack.extend(ast.iter_child_nodes(node))
    return None


def _metric_name(function: str) -> str:
    """``accuracy_score`` -> ``accuracy``; ``mean_squared_error`` stays; ``score`` stays."""
    function = function.rpartition(".")[2]
    name = function.removesuffix("_score") if function != "score" else "score"
    return name if name.isidentifier() and not keyword.iskeyword(name) else "score"


# -- the listing --------------------------------------------------------------------------------


def _summary(steps: dict[int, tuple[str, str]], parity: dict[str, tuple[int, str]],
             metrics: dict[str, tuple[int, str]], skipped: list[_CellInfo]) -> tuple[str, ...]:
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
