"""From tagged cells to a :class:`~nb2prod.models.Plan`: roles, parameters, data flow, step order.

Every cell's names are replayed in notebook order (the order the notebook ran in). A step's inputs are
the names it reads whose latest *exported* definition is another step or the parameters cell; a step's
outputs are the names later steps or targets take from it. Steps run in notebook order unless data,
``after:`` tags or in-place changes demand otherwise; a cycle among those is an error.
"""

from __future__ import annotations

import ast
import heapq
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path

from nb2prod.errors import AnalysisError, TagError
from nb2prod.magics import mask_magics
from nb2prod.models import Parameter, Plan, Step, Target
from nb2prod.names import BUILTINS, is_display_only, printed_names, statement_events
from nb2prod.notebook import Cell, SourceNotebook

RESERVED = frozenset({"run", "main", "PARAMETERS"})
MODULE_ROLES = ("imports", "functions")


def module_name(path: Path) -> str:
    """The notebook's file stem as a Python identifier: ``01-churn model.ipynb`` -> ``nb_01_churn_model``."""
    name = re.sub(r"\W+", "_", path.stem).strip("_").lower() or "notebook"
    if name[0].isdigit():
        name = f"nb_{name}"
    return f"{name}_" if keyword.iskeyword(name) else name


@dataclass
class _CellCode:
    cell: Cell
    role: str  # "step", "parameters", "imports", "functions", "skip", "unexported", "metrics"
    step: str | None
    tree: ast.Module | None
    code: str  # masked code
    kept: list[ast.stmt] = field(default_factory=list)  # statements that stay in place
    hoisted: list[str] = field(default_factory=list)  # import statements moved to the header
    drop_lines: set[int] = field(default_factory=set)


@dataclass
class _Writer:
    kind: str  # "step", "parameters", "module"
    step: str | None
    cell: int


def analyse(nb: SourceNotebook) -> Plan:
    """Check the notebook against the tag grammar and infer the pipeline it describes."""
    cells = _assign_roles(nb)
    parsed = [_parse(nb, c) for c in cells]
    parameters = _parameters(nb, parsed)
    flow = _DataFlow(nb, parsed)
    flow.replay()
    order = _run_order(nb, flow)
    steps = _steps(flow, parsed, order)
    modules = _imported_modules(parsed)
    return Plan(
        notebook=nb,
        name=module_name(nb.path),
        header=_header(parsed),
        functions="\n\n".join(_kept_code(p) for p in parsed if p.role == "functions").strip(),
        parameters=parameters,
        steps=steps,
        targets=tuple(flow.targets),
        imported_modules=modules,
        unexported_cells=tuple(p.cell.index for p in parsed if p.role == "unexported" and p.code.strip()),
        skipped_cells=tuple(p.cell.index for p in parsed if p.role == "skip"),
        warnings=tuple(flow.warnings),
    )


def _assign_roles(nb: SourceNotebook) -> list[tuple[Cell, str, str | None]]:
    """Kale's rule: an untagged cell continues the step above it; before the first step it is unexported."""
    roles: list[tuple[Cell, str, str | None]] = []
    current: str | None = None
    for cell in nb.cells:
        tags = cell.tags
        if tags.role:
            roles.append((cell, tags.role, None))
        elif tags.kale_metrics:
            roles.append((cell, "metrics", None))
        elif tags.step:
            current = tags.step
            roles.append((cell, "step", current))
        else:
            roles.append((cell, "step" if current else "unexported", current))
    _one_parameters_cell(nb, [c.index for c, role, _ in roles if role == "parameters"])
    if not any(role == "step" for _, role, _ in roles):
        raise TagError(
            "the notebook has no 'step:NAME' (or Kale 'block:NAME') tag, so there is nothing to export.",
            path=nb.display_path,
            hint="tag the first cell of each pipeline stage, e.g. 'step:load', 'step:train'.",
        )
    return roles


def _one_parameters_cell(nb: SourceNotebook, cells: list[int]) -> None:
    if len(cells) > 1:
        raise TagError(
            f"{len(cells)} cells are tagged 'parameters' (cells {', '.join(map(str, cells))}); "
            "a notebook has one parameters cell.",
            path=nb.display_path,
            cell=cells[1],
            hint="merge them into one cell, or remove the tag from all but one.",
        )


def notebook_parameters(nb: SourceNotebook) -> tuple[Parameter, ...]:
    """The parameters cell's names and defaults, for notebooks that need not have steps (``run``)."""
    cells = [c for c in nb.cells if c.tags.parameters]
    _one_parameters_cell(nb, [c.index for c in cells])
    return _parameters(nb, [_parse(nb, (c, "parameters", None)) for c in cells])


def _parse(nb: SourceNotebook, item: tuple[Cell, str, str | None]) -> _CellCode:
    cell, role, step = item
    exported = role in ("step", *MODULE_ROLES)
    masked = mask_magics(cell.source)
    if masked.foreign_magic and exported:
        raise AnalysisError(
            f"cell magic {masked.foreign_magic} runs something that is not Python; it cannot be exported.",
            path=nb.display_path,
            cell=cell.index,
            line=1,
            hint="tag the cell 'skip', or rewrite it in Python.",
        )
    if masked.shell_lines and exported:
        line = masked.shell_lines[0]
        raise AnalysisError(
            f"shell escape {cell.source.splitlines()[line - 1].strip()!r} inside exported "
            f"{'step ' + repr(step) if step else role + ' cell'}.",
            path=nb.display_path,
            cell=cell.index,
            line=line,
            hint="install packages in your environment instead, or tag the cell 'skip'.",
        )
    try:
        tree = ast.parse(masked.code)
    except SyntaxError as err:
        if not exported and role != "parameters":
            return _CellCode(cell, role, step, None, masked.code)
        raise AnalysisError(
            f"syntax error: {err.msg}.",
            path=nb.display_path,
            cell=cell.index,
            line=err.lineno,
            hint="fix the cell so it runs in Jupyter, or tag it 'skip'.",
        ) from None
    parsed = _CellCode(cell, role, step, tree, masked.code)
    line_owners: dict[int, int] = {}
    for stmt in tree.body:
        for line in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1):
            line_owners[line] = line_owners.get(line, 0) + 1
    for stmt in tree.body:
        lines = set(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
        alone = all(line_owners[line] == 1 for line in lines)
        if exported and alone and is_display_only(stmt):
            parsed.drop_lines |= lines
        elif role == "step" and alone and isinstance(stmt, ast.Import | ast.ImportFrom):
            parsed.hoisted.append(ast.get_source_segment(masked.code, stmt) or ast.unparse(stmt))
            parsed.drop_lines |= lines
            parsed.kept.append(stmt)  # still defines names, at module level
        else:
            parsed.kept.append(stmt)
    return parsed


def _parameters(nb: SourceNotebook, parsed: list[_CellCode]) -> tuple[Parameter, ...]:
    found: dict[str, Parameter] = {}
    for p in parsed:
        if p.role != "parameters" or p.tree is None:
            continue
        for stmt in p.tree.body:
            target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None
            annotation = None
            if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                target, annotation = stmt.target, ast.unparse(stmt.annotation)
            value = getattr(stmt, "value", None)
            if not isinstance(target, ast.Name) or value is None:
                raise AnalysisError(
                    f"the parameters cell may only assign literals to names; found {ast.unparse(stmt)!r}.",
                    path=nb.display_path,
                    cell=p.cell.index,
                    line=stmt.lineno,
                    hint="move computed values into the first step.",
                )
            try:
                default = ast.literal_eval(value)
            except ValueError:
                raise AnalysisError(
                    f"parameter {target.id!r} = {ast.unparse(value)} is not a literal "
                    "(papermill can only inject literals).",
                    path=nb.display_path,
                    cell=p.cell.index,
                    line=stmt.lineno,
                    hint=f"give {target.id!r} a literal default (number, string, bool, None, "
                    "list, dict) and compute derived values in a step.",
                ) from None
            type_name = annotation or type(default).__name__
            found[target.id] = Parameter(target.id, default, type_name, ast.unparse(value), p.cell.index)
            if target.id in RESERVED:
                raise AnalysisError(
                    f"parameter name {target.id!r} is reserved by the generated module.",
                    path=nb.display_path,
                    cell=p.cell.index,
                    line=stmt.lineno,
                    hint="rename it.",
                )
    return tuple(found.values())


class _DataFlow:
    """Replays every cell's name events in notebook order and records who feeds whom."""

    def __init__(self, nb: SourceNotebook, parsed: list[_CellCode]) -> None:
        self.nb = nb
        self.parsed = parsed
        self.writer: dict[str, _Writer] = {}  # latest exported definition of each name
        self.hidden_writer: dict[str, int] = {}  # latest skipped/unexported definition, by cell
        self.hidden_since: dict[str, int] = {}  # hidden change after the latest exported one
        self.readers: dict[str, set[str]] = {}  # steps that read the current exported version
        self.written: dict[str, dict[str, None]] = {}  # step -> names it writes, in order
        self.inputs: dict[str, dict[str, None]] = {}
        self.needed: dict[str, set[str]] = {}  # step -> names others take from it
        self.deps: dict[str, dict[str, str]] = {}  # step -> {step it runs after: why}
        self.cells: dict[str, list[int]] = {}
        self.after: dict[str, dict[str, int]] = {}  # step -> {after-name: cell}
        self.targets: list[Target] = []
        self.warnings: list[str] = []
        self.module_names: set[str] = set()
        for p in parsed:
            for stmt in p.kept:
                hoisted = p.role == "step" and isinstance(stmt, ast.Import | ast.ImportFrom)
                if p.role in MODULE_ROLES or hoisted:
                    self.module_names.update(
                        e.name for e in statement_events(stmt) if e.kind == "write"
                    )
        self.star_import = "*" in self.module_names
        clash = sorted(self.module_names & RESERVED)
        if clash:
            raise AnalysisError(
                f"module-level name {clash[0]!r} clashes with the generated module's own {clash[0]}().",
                path=nb.display_path,
                hint="rename it in the notebook.",
            )

    def replay(self) -> None:
        for p in self.parsed:
            if p.role == "step":
                assert p.step is not None
                self.cells.setdefault(p.step, []).append(p.cell.index)
                for name in p.cell.tags.after:
                    self.after.setdefault(p.step, {})[name] = p.cell.index
            for stmt in p.kept if p.tree is not None else []:
                hoisted = p.role == "step" and isinstance(stmt, ast.Import | ast.ImportFrom)
                for event in statement_events(stmt):
                    self._event(p, event.kind, event.name, event.line, module=hoisted)
            self._targets(p)

    def _event(self, p: _CellCode, kind: str, name: str, line: int, *, module: bool) -> None:
        role = "module" if module or p.role in MODULE_ROLES else p.role
        if kind == "read":
            if role == "step":
                self._step_reads(p, name, line)
            elif role == "module":
                self._module_reads(p, name, line)
            return
        if role in ("skip", "unexported", "metrics"):
            # A method call in a plot or EDA cell is not a definition; only plain writes count here.
            if kind != "mutate":
                self.hidden_writer[name] = p.cell.index
                if name in self.writer:
                    self.hidden_since[name] = p.cell.index
            return
        if kind == "del":
            self.writer.pop(name, None)
            return
        if kind == "mutate":
            current = self.writer.get(name)
            if role != "step" or current is None or current.kind == "module":
                return  # `np.random.seed(0)` changes a module, not the data flowing between steps
        self.hidden_since.pop(name, None)
        if role == "step":
            step = p.step
            assert step is not None
            previous = self.writer.get(name)
            if previous and previous.kind == "step" and previous.step != step:
                self._depend(step, previous.step, f"both change {name!r}")  # type: ignore[arg-type]
            for reader in self.readers.get(name, set()) - {step}:
                self._depend(step, reader, f"{reader!r} reads {name!r} before {step!r} changes it")
            self.written.setdefault(step, {})[name] = None
            self.writer[name] = _Writer("step", step, p.cell.index)
        else:
            self.writer[name] = _Writer(role, None, p.cell.index)
        self.readers[name] = set()

    def _step_reads(self, p: _CellCode, name: str, line: int) -> None:
        step = p.step
        assert step is not None
        writer = self.writer.get(name)
        if writer is None:
            self._undefined(p, name, line)
            return
        if name in self.hidden_since:
            self.warnings.append(
                f"{self.nb.display_path}, cell {self.hidden_since[name]}: this unexported cell changes "
                f"{name!r}, which step {step!r} reads in cell {p.cell.index}; the pipeline never runs "
                "that change."
            )
            del self.hidden_since[name]
        self.readers.setdefault(name, set()).add(step)
        if writer.kind == "step" and writer.step == step:
            return
        if writer.kind == "module":
            return
        if name in self.written.get(step, {}):
            raise AnalysisError(
                f"step {step!r} reads {name!r}, which cell {writer.cell} (step {writer.step!r}) "
                f"redefined between two cells of {step!r}.",
                path=self.nb.display_path,
                cell=p.cell.index,
                line=line,
                hint=f"give the later cells of {step!r} a step of their own.",
            )
        self.inputs.setdefault(step, {})[name] = None
        if writer.kind == "step":
            assert writer.step is not None
            self.needed.setdefault(writer.step, set()).add(name)
            self._depend(step, writer.step, f"{step!r} reads {name!r} from {writer.step!r}")

    def _module_reads(self, p: _CellCode, name: str, line: int) -> None:
        writer = self.writer.get(name)
        if name in self.module_names or name in BUILTINS or self.star_import:
            if writer is None or writer.kind == "module":
                return
        source = f"step {writer.step!r}" if writer and writer.step else "the parameters cell"
        raise AnalysisError(
            f"{p.role} cell reads {name!r}, which "
            + (f"{source} defines (cell {writer.cell})" if writer else "no exported cell defines")
            + "; module-level code cannot see a step's variables.",
            path=self.nb.display_path,
            cell=p.cell.index,
            line=line,
            hint=f"pass {name!r} to the function as an argument.",
        )

    def _undefined(self, p: _CellCode, name: str, line: int) -> None:
        if name in self.module_names or self.star_import:
            return
        if name in self.hidden_writer:
            raise AnalysisError(
                f"step {p.step!r} reads {name!r}, but only cell {self.hidden_writer[name]}, which is "
                "not exported (skipped or before the first step), defines it.",
                path=self.nb.display_path,
                cell=p.cell.index,
                line=line,
                hint=f"move the definition of {name!r} into a step, or remove the 'skip' tag from "
                f"cell {self.hidden_writer[name]}.",
            )
        if name in BUILTINS:
            return
        raise AnalysisError(
            f"step {p.step!r} reads {name!r}, which no cell above defines.",
            path=self.nb.display_path,
            cell=p.cell.index,
            line=line,
            hint="define it in an earlier step or the parameters cell (it would raise NameError).",
        )

    def _targets(self, p: _CellCode) -> None:
        tags = p.cell.tags
        wanted = [(v, "parity") for v in tags.parity] + [(v, "metric") for v in tags.metrics]
        if tags.kale_metrics and p.tree is not None:
            wanted += [(v, "metric") for v in printed_names(p.tree)]
        for var, kind in wanted:
            writer = self.writer.get(var)
            if writer is None:
                where = self.hidden_writer.get(var)
                raise AnalysisError(
                    f"{kind} target {var!r} is "
                    + (f"only defined by cell {where}, which is not exported." if where is not None
                       else "never defined by a cell at or above this one."),
                    path=self.nb.display_path,
                    cell=p.cell.index,
                    hint=f"tag the cell that computes {var!r} as part of a step.",
                )
            clash = next((t for t in self.targets if t.name == var), None)
            if clash:
                raise TagError(
                    f"{var!r} is declared as a target twice (cells {clash.cell} and {p.cell.index}).",
                    path=self.nb.display_path,
                    cell=p.cell.index,
                    hint="keep one parity/metric tag per variable.",
                )
            if writer.kind == "step":
                assert writer.step is not None
                self.needed.setdefault(writer.step, set()).add(var)
            self.targets.append(Target(var, kind, p.cell.index, writer.step))

    def _depend(self, step: str, on: str, why: str) -> None:
        self.deps.setdefault(step, {}).setdefault(on, why)


def _run_order(nb: SourceNotebook, flow: _DataFlow) -> list[str]:
    """Topological order of the steps, ties broken by where each step starts in the notebook."""
    first = {step: cells[0] for step, cells in flow.cells.items()}
    for step, names in flow.after.items():
        for name, cell in names.items():
            if name not in first:
                known = ", ".join(sorted(first))
                raise TagError(
                    f"'after:{name}' names a step that does not exist (steps: {known}).",
                    path=nb.display_path,
                    cell=cell,
                    hint="fix the step name, or tag a cell 'step:" + name + "'.",
                )
            if name != step:
                flow.deps.setdefault(step, {}).setdefault(name, f"'after:{name}' on {step!r}")
    pending = {s: set(flow.deps.get(s, {})) - {s} for s in first}
    ready = [(first[s], s) for s, d in pending.items() if not d]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, step = heapq.heappop(ready)
        order.append(step)
        for other, deps in pending.items():
            if step in deps:
                deps.discard(step)
                if not deps:
                    heapq.heappush(ready, (first[other], other))
    if len(order) < len(first):
        cycle = _find_cycle({s: d for s, d in pending.items() if d})
        why = "; ".join(flow.deps[a][b] for a, b in zip(cycle, cycle[1:], strict=False))
        raise AnalysisError(
            f"steps {' -> '.join(repr(s) for s in cycle)} form a cycle ({why}).",
            path=nb.display_path,
            cell=first[cycle[0]],
            hint="reorder the cells, split a step, or remove an 'after:' tag so each step only "
            "needs steps before it.",
        )
    return order


def _find_cycle(graph: dict[str, set[str]]) -> list[str]:
    node = min(graph)
    path = [node]
    while True:
        node = min(graph[node])
        if node in path:
            return path[path.index(node) :] + [node]
        path.append(node)


def _steps(flow: _DataFlow, parsed: list[_CellCode], order: list[str]) -> tuple[Step, ...]:
    taken = set(flow.writer) | flow.module_names | RESERVED | {n for w in flow.written.values() for n in w}
    steps = []
    for name in order:
        function = name
        while function in taken:
            function += "_step"
        code = "\n\n".join(
            f"# cell {p.cell.index}\n{kept}"
            for p in parsed
            if p.role == "step" and p.step == name and (kept := _kept_code(p))
        )
        needed = flow.needed.get(name, set())
        steps.append(
            Step(
                name=name,
                function=function,
                cells=tuple(flow.cells[name]),
                code=code,
                inputs=tuple(flow.inputs.get(name, {})),
                outputs=tuple(n for n in flow.written.get(name, {}) if n in needed),
                after=tuple(flow.after.get(name, {})),
                depends_on=tuple(s for s in order if s in flow.deps.get(name, {})),
            )
        )
    return tuple(steps)


def _kept_code(p: _CellCode) -> str:
    lines = [line for i, line in enumerate(p.code.splitlines(), 1) if i not in p.drop_lines]
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines).rstrip()


def _header(parsed: list[_CellCode]) -> str:
    future: list[str] = []
    body: list[str] = []
    for p in parsed:
        if p.role == "imports":
            body.append(_kept_code(p))
        for stmt in p.hoisted:
            (future if stmt.startswith("from __future__") else body).append(stmt)
    return "\n".join(dict.fromkeys(s for s in [*future, *body] if s.strip()))


def _imported_modules(parsed: list[_CellCode]) -> tuple[str, ...]:
    modules: dict[str, None] = {}
    for p in parsed:
        if p.tree is None or p.role not in ("step", *MODULE_ROLES):
            continue
        for node in ast.walk(p.tree):
            if isinstance(node, ast.Import):
                modules.update((a.name.split(".")[0], None) for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                if node.module != "__future__":
                    modules[node.module.split(".")[0]] = None
    return tuple(modules)
