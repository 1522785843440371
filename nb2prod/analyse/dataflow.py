"""Data flow between steps: replay every cell's name events in notebook order, then order the steps.

A step's inputs are the names it reads whose latest *exported* definition is another step or the
parameters cell; a step's outputs are the names later steps or targets take from it. Steps run in
notebook order unless data, ``after:`` tags or in-place changes demand otherwise; a cycle among those
is an error that names the steps and why each needs the next.

Three things besides names carry data between cells. A file a step writes and a later step reads
makes the reader run after the writer. A notebook function that declares ``global x`` reads and
changes ``x`` wherever it is called (it becomes a closure over the calling step's ``x``; see
:mod:`nb2prod.analyse.closures`). An import that only a skipped or unexported cell makes, and that
exported code needs, is lent to the module header (:mod:`nb2prod.analyse.hidden`), and the build
says so; so is a star import (its names are unknown) and ``%run helpers.py``, as the import it means
(:mod:`nb2prod.analyse.runmagic`). A step function whose body reads names later cells define reads
them where it is called (:mod:`nb2prod.analyse.late`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from nb2prod.analyse import closures, hidden, late
from nb2prod.analyse.cells import MODULE_ROLES, CellCode
from nb2prod.analyse.lineage import PathResolver, mentions_files
from nb2prod.analyse.names import BUILTINS, global_effects, printed_names, statement_events
from nb2prod.analyse.plan import Target
from nb2prod.analyse.runmagic import bind_run_magics
from nb2prod.analyse.undefined import closest as _closest
from nb2prod.analyse.undefined import module_read_hint as _module_read_hint
from nb2prod.analyse.undefined import raise_undefined
from nb2prod.errors import AnalysisError, TagError
from nb2prod.read.notebook import SourceNotebook

#: Names the generated module defines itself; notebook code may not take them at module level.
RESERVED = frozenset({"run", "main", "PARAMETERS", "_parse_value"})


@dataclass
class Writer:
    kind: str  # "step", "parameters", "module"
    step: str | None
    cell: int


class DataFlow:
    """Replays every cell's name events in notebook order and records who feeds whom."""

    def __init__(
        self,
        nb: SourceNotebook,
        parsed: list[CellCode],
        parameters: dict[str, object] | None = None,
        written_modules: frozenset[str] = frozenset(),
    ) -> None:
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
        self.paths = PathResolver(parameters)
        self.file_writer: dict[str, str] = {}  # file -> the latest step that writes it
        self.file_readers: dict[str, set[str]] = {}  # file -> steps that read its current content
        self.files_written: dict[str, dict[str, None]] = {}  # step -> files it writes, as written
        self.hidden_files: dict[str, tuple[int, str]] = {}  # file -> (hidden cell, path) writing it
        self.written_modules = written_modules  # local modules some cell writes: never borrowed
        self.hidden_imports: dict[str, tuple[int, str, ast.stmt]] = {}  # name -> (cell, source, stmt)
        self.borrowed: dict[int, dict[str, None]] = {}  # cell -> import statements it lends the header
        self.global_functions: dict[str, tuple[CellCode, ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        self.effects: dict[str, tuple[tuple[str, bool], ...]] = {}
        self.relocated: dict[str, dict[str, None]] = {}  # step -> functions-cell functions it hosts
        self.late: dict[str, late.Late] = {}  # functions whose free names are read where they are called
        self.hosted: dict[str, dict[str, late.Late]] = {}  # step -> copies of late functions it hosts
        self.calling: tuple[str, int] | None = None  # (late function, its cell) whose body is read now
        self.hidden_stars: list[tuple[int, str]] = []  # star imports of hidden cells: (cell, source)
        self.run_texts: dict[str, str] = {}  # import -> the hidden `%run` magic it stands for
        for p in parsed:
            for stmt in p.kept:
                if p.role in MODULE_ROLES or p.is_hoisted(stmt):
                    self.module_names.update(
                        e.name for e in statement_events(stmt) if e.kind == "write"
                    )
        self.star_import = "*" in self.module_names
        self.step_names = {  # names step cells bind (a late function's, not a star import's)
            e.name for p in parsed if p.role == "step" for stmt in p.kept if not p.is_hoisted(stmt)
            for e in statement_events(stmt) if e.kind == "write"
        } if self.star_import else set()
        clash = sorted(self.module_names & RESERVED)
        if clash:
            raise AnalysisError(
                f"module-level name {clash[0]!r} clashes with the generated module's own {clash[0]}().",
                path=nb.display_path,
                hint="rename it in the notebook.",
            )
        for p in parsed:
            for stmt in p.kept if p.role in ("step", "functions") else []:
                if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                    effects = tuple((n, r) for n, r in global_effects(stmt) if n not in self.module_names)
                    if effects:
                        self.effects[stmt.name] = effects
                        self.global_functions[stmt.name] = (p, stmt)
        self.rebound = late.rebound_functions(parsed, self.effects)  # def -> (name, step rebinding it)

    def replay(self) -> None:
        for p in self.parsed:
            if p.role == "step":
                assert p.step is not None
                self.cells.setdefault(p.step, []).append(p.cell.index)
                for name in p.cell.tags.after:
                    self.after.setdefault(p.step, {})[name] = p.cell.index
            unexported = p.role in ("skip", "unexported", "metrics")
            if p.role != "parameters":
                bind_run_magics(self, p, unexported)
            files = mentions_files(p.code)
            for stmt in (p.tree.body if unexported else p.kept) if p.tree is not None else []:
                hoisted = p.is_hoisted(stmt)
                events = statement_events(stmt, self.effects)
                if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name in self.effects:
                    own = {n for n, _ in self.effects[stmt.name]}  # read when called, not when defined
                    events = [e for e in events if not (e.deferred and e.name in own)]
                later = late.definition(self, p, stmt, events) if p.role == "step" and not hoisted else None
                if later is not None:  # its body's names are read where it is called
                    events = [e for e in events if not e.deferred]
                if unexported:
                    if files:  # a file only a hidden cell makes: the pipeline never makes it
                        for _, path, _ in self.paths.files(stmt)[1]:
                            self.hidden_files.setdefault(_norm(path), (p.cell.index, path))
                    hidden.hidden_statement(self, p, stmt, events)
                    continue
                if p.role == "step" and not hoisted and (files or self.file_writer):
                    self._files(p, stmt)
                if p.role != "parameters":
                    self.paths.learn(stmt)
                for event in events:
                    if event.optional and not late.known(self, event.name):
                        continue  # a formula's call no cell defines: patsy's or numpy's, not ours
                    if event.kind == "read" and event.name in self.global_functions:
                        closures.check_use(self, p, stmt, event.name, event.line)
                    if event.kind == "read" and event.name in self.late and p.role == "step" and not hoisted:
                        late.use(self, p, event.name, event.line)
                        if self.late[event.name].home.step != p.step:
                            continue  # the step has a copy of its own
                    self._event(p, event.kind, event.name, event.line, module=hoisted,
                                in_place=event.in_place)
                if later is not None:
                    self.late[later.node.name] = later
            self._targets(p)

    def _files(self, p: CellCode, stmt: ast.stmt) -> None:
        """Files as data flow: a step that reads a file another step writes runs after it."""
        step = p.step
        assert step is not None
        reads, writes = self.paths.files(stmt)
        if isinstance(stmt, ast.Import | ast.ImportFrom) and self.file_writer:  # a module a step wrote
            for alias in stmt.names:
                top = (stmt.module if isinstance(stmt, ast.ImportFrom) else alias.name) or ""
                reads.append((stmt, f"{top.split('.')[0]}.py", "import", None))  # type: ignore[arg-type]
        for _, path, _, _ in reads:
            key = _norm(path)
            writer = self.file_writer.get(key)
            if writer is None and key in self.hidden_files:
                cell, _ = self.hidden_files.pop(key)
                self.warnings.append(
                    f"{self.nb.display_path}, cell {cell}: this cell is not exported but writes "
                    f"{path!r}, which step {step!r} reads in cell {p.cell.index}; the pipeline never "
                    "writes it, so it must exist where the pipeline runs."
                )
            if writer is not None and writer != step:
                self._depend(step, writer, f"{step!r} reads the file {path!r} that {writer!r} writes")
            self.file_readers.setdefault(key, set()).add(step)
        for _, path, _ in writes:
            key = _norm(path)
            previous = self.file_writer.get(key)
            if previous is not None and previous != step:
                self._depend(step, previous, f"both write the file {path!r}")
            for reader in self.file_readers.get(key, set()) - {step}:
                self._depend(step, reader, f"{reader!r} reads the file {path!r} before {step!r} writes it")
            self.file_writer[key] = step
            self.file_readers[key] = set()
            self.files_written.setdefault(step, {})[path] = None

    def _event(self, p: CellCode, kind: str, name: str, line: int, *, module: bool,
               in_place: bool = False) -> None:
        role = "module" if module or p.role in MODULE_ROLES else p.role
        if in_place and kind == "write" and role == "step" and self._module_level(name):
            return  # `warnings.warn = f`, `pd.options.display.max_rows = 9`: configures a module
        if kind in ("write", "del"):
            self.late.pop(name, None)
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

    def _module_level(self, name: str) -> bool:
        writer = self.writer.get(name)
        return writer.kind == "module" if writer is not None else name in self.module_names

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
        if writer is None and name not in self.module_names and name in self.hidden_imports:
            hidden.borrow(self, name, f"the {p.role} cell {p.cell.index}")
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
            hint=_module_read_hint(p.role, name),
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
        if name not in self.module_names and name in self.hidden_imports:
            hidden.borrow(self, name, f"step {p.step!r} (cell {p.cell.index})")
        if name not in self.module_names and name not in self.hidden_writer and name not in BUILTINS:
            hidden.borrow_stars(self, name, f"step {p.step!r} (cell {p.cell.index})")
        if name in self.module_names or self.star_import:
            self.free_reads.setdefault(p.step or "", {}).setdefault(name, (p.cell.index, line, "module-level"))
            return
        if name in BUILTINS and name not in self.hidden_writer:
            self.free_reads.setdefault(p.step or "", {}).setdefault(name, (p.cell.index, line, "built-in"))
            return
        raise_undefined(self, p, name, line)

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


def _norm(path: str) -> str:
    import posixpath

    return posixpath.normpath(path)
