"""Data flow between steps: replay every cell's name events in notebook order, then order the steps.

A step's inputs are the names it reads whose latest *exported* definition is another step or the
parameters cell; a step's outputs are the names later steps or targets take from it. Steps run in
notebook order unless data, ``after:`` tags or in-place changes demand otherwise; a cycle among those
is an error that names the steps and why each needs the next.
"""

from __future__ import annotations

import ast
import difflib
import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from nb2prod.analyse.names import BUILTINS, printed_names, statement_events
from nb2prod.analyse.plan import Target
from nb2prod.errors import AnalysisError, TagError
from nb2prod.read.notebook import Cell, SourceNotebook

#: Names the generated module defines itself; notebook code may not take them at module level.
RESERVED = frozenset({"run", "main", "PARAMETERS", "_parse_value"})
MODULE_ROLES = ("imports", "functions")


@dataclass
class CellCode:
    """One cell after masking and parsing: its role, tree, and what stays where."""

    cell: Cell
    role: str  # "step", "parameters", "imports", "functions", "skip", "unexported", "metrics"
    step: str | None
    tree: ast.Module | None
    code: str  # masked code
    kept: list[ast.stmt] = field(default_factory=list)  # statements that stay in place
    hoisted: list[str] = field(default_factory=list)  # import statements moved to the header
    drop_lines: set[int] = field(default_factory=set)


@dataclass
class Writer:
    kind: str  # "step", "parameters", "module"
    step: str | None
    cell: int


class DataFlow:
    """Replays every cell's name events in notebook order and records who feeds whom."""

    def __init__(self, nb: SourceNotebook, parsed: list[CellCode]) -> None:
        self.nb = nb
        self.parsed = parsed
        self.writer: dict[str, Writer] = {}  # latest exported definition of each name
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
        self.open_targets: dict[str, tuple[str, int, str]] = {}  # target -> (step, cell, kind)
        self.maybe_pending: set[str] = set()  # a conditional write of an undefined name is next
        self.maybe_only: set[str] = set()  # names so far only defined inside if/for/try blocks
        # step -> built-in or module-level names it used before any assignment: (cell, line, what)
        self.free_reads: dict[str, dict[str, tuple[int, int, str]]] = {}
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

    def _event(self, p: CellCode, kind: str, name: str, line: int, *, module: bool) -> None:
        role = "module" if module or p.role in MODULE_ROLES else p.role
        if kind == "keep":  # a write that may not happen: a step needs the value it may keep
            writer = self.writer.get(name)
            if writer is None and role == "step":
                self.maybe_pending.add(name)  # the write that follows may leave it undefined
            elif role == "step" and writer.kind != "module" and name not in self.maybe_only:
                self._step_reads(p, name, line)
            return
        if kind == "write" and role == "step":
            if name in self.maybe_pending:  # only ever conditionally defined: nothing to keep
                self.maybe_only.add(name)
            else:
                self.maybe_only.discard(name)
            self.maybe_pending.discard(name)
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
        if kind in ("del", "write") and role == "step":
            self._target_still_open(p, name, line)
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
            self._no_shadowing(p, name, line)
            self.written.setdefault(step, {})[name] = None
            self.writer[name] = Writer("step", step, p.cell.index)
        else:
            self.writer[name] = Writer(role, None, p.cell.index)
        self.readers[name] = set()

    def _step_reads(self, p: CellCode, name: str, line: int) -> None:
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
            self.free_reads.setdefault(step, {}).setdefault(name, (p.cell.index, line, "module-level"))
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

    def _module_reads(self, p: CellCode, name: str, line: int) -> None:
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

    def _target_still_open(self, p: CellCode, name: str, line: int) -> None:
        """The pipeline returns a step's *final* value of a target; the notebook captures it right
        after the tagged cell. A later cell of the same step that reassigns it breaks that."""
        step, cell, kind = self.open_targets.get(name, (None, 0, ""))
        if step is None or p.step != step or p.cell.index <= cell:
            return
        raise AnalysisError(
            f"{kind} target {name!r} is taken after cell {cell}, but this later cell of the same "
            f"step {step!r} changes {name!r} again; the pipeline would return the step's final value.",
            path=self.nb.display_path,
            cell=p.cell.index,
            line=line,
            hint=f"move the '{kind}:{name}' tag to cell {p.cell.index}, or start a new step here "
            "(tag this cell 'step:NAME').",
        )

    def _no_shadowing(self, p: CellCode, name: str, line: int) -> None:
        """A step that uses a built-in or module-level name and then assigns it would fail as a
        function: the assignment makes the name local everywhere in it (UnboundLocalError)."""
        used = self.free_reads.get(p.step or "", {}).get(name)
        if used is None:
            return
        cell, used_line, what = used
        raise AnalysisError(
            f"step {p.step!r} uses the {what} {name!r} (cell {cell}, line {used_line}) and then "
            f"assigns {name!r}; inside the step's generated function that first use would raise "
            "UnboundLocalError.",
            path=self.nb.display_path,
            cell=p.cell.index,
            line=line,
            hint=f"give the new value another name, e.g. '{name}_value'.",
        )

    def _undefined(self, p: CellCode, name: str, line: int) -> None:
        if name in self.module_names or self.star_import:
            self.free_reads.setdefault(p.step or "", {}).setdefault(name, (p.cell.index, line, "module-level"))
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
            self.free_reads.setdefault(p.step or "", {}).setdefault(name, (p.cell.index, line, "built-in"))
            return
        raise AnalysisError(
            f"step {p.step!r} reads {name!r}, which no cell above defines.",
            path=self.nb.display_path,
            cell=p.cell.index,
            line=line,
            hint="define it in an earlier step or the parameters cell (it would raise NameError).",
        )

    def _targets(self, p: CellCode) -> None:
        tags = p.cell.tags
        wanted = [(v, "parity") for v in tags.parity] + [(v, "metric") for v in tags.metrics]
        wanted += [(v, "model") for v in tags.models]
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
                    hint=_closest(var, self.writer),
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
            if writer.kind == "step" and writer.step is not None:
                self.open_targets[var] = (writer.step, p.cell.index, kind)

    def _depend(self, step: str, on: str, why: str) -> None:
        self.deps.setdefault(step, {}).setdefault(on, why)


def _closest(name: str, known: Iterable[str]) -> str:
    """A hint for an undefined target: the closest defined name, or the names there are."""
    names = sorted(n for n in known if not n.startswith("_"))
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return (
        f"fix the name (defined above: {shown}), or tag the cell that computes {name!r} as part "
        "of a step."
        if names
        else f"tag the cell that computes {name!r} as part of a step."
    )


def run_order(nb: SourceNotebook, flow: DataFlow) -> list[str]:
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
