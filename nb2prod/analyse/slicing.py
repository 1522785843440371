"""Export what the targets need: a backward slice over the steps' statements.

A step keeps a statement when something the pipeline must produce depends on it: a parity, metric
or ``model:`` target (which also covers the serving path, whose outputs are parity targets), a later
step, a file the code writes, a change to module state (seeding, ``warnings``, ``pd.set_option``), or
a cell tagged ``keep``. (A notebook with no target at all keeps every value its steps leave.)
Everything else goes: dead stores, discarded results, display-only
expressions and plotting calls; a cell left with nothing goes with its comments.

The analysis goes by names (:mod:`nb2prod.analyse.names`), so it is conservative where Python is
dynamic. A call of an unknown function may change every object passed to it; an object built from
another (``opt = SGD(model.parameters())``) may share it, so changing one may change the other; a
``with`` block, ``global``, ``exec``, ``assert`` and ``raise`` always stay; and when the notebook
seeds the global random generator, a statement that may draw from it stays, so later draws match.
Each dropped statement is reported with its reason (``nb2prod build --explain``).
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass

from nb2prod.analyse.cells import MODULE_ROLES, CellCode
from nb2prod.analyse.effects import (
    ARG_MUTATORS,
    DYNAMIC_CALLS,
    GENERATORS,
    GLOBAL_SEEDS,
    PURE_BUILTINS,
    PURE_MODULE_FUNCTIONS,
    PURE_NAME,
    WRITE_METHOD,
    WRITE_METHODS,
    callee,
    changes_files,
    dotted,
    draws_from_module,
    may_draw,
    stochastic,
)
from nb2prod.analyse.lineage import PathResolver, mentions_files
from nb2prod.analyse.methods import NON_MUTATING_METHODS
from nb2prod.analyse.names import (
    BUILTINS,
    global_effects,
    printed_names,
    root_name,
    statement_events,
)
from nb2prod.analyse.operational import is_display_setting, is_logging_call, loggers_bound
from nb2prod.analyse.plot_helpers import computing_functions, plotting_functions
from nb2prod.analyse.plotting import draws, is_plotting
from nb2prod.analyse.slice_plots import drop_unused_helpers, strip_nested_plots
from nb2prod.analyse.slice_rules import (
    _body_statements,
    _closure,
    _reads_only,
    _reason,
    _side_effect_import,
    _value_roots,
)
from nb2prod.analyse.slice_text import (
    _drop_unused_results,
    _first_line,
    _lines_with_comments,
    _rebinds_names_only,
)
from nb2prod.read.magics import tree_nodes


@dataclass(frozen=True)
class Dropped:
    """One statement (or a whole cell) left out of the exported code, and why."""

    cell: int
    line: int  # 1-based inside the cell; 0 for a whole cell
    code: str  # the statement's first line, shortened
    reason: str
    step: str = ""  # set for a whole step that goes: its cells follow
    cells: tuple[int, ...] = ()

    def describe(self) -> str:
        if self.step:
            return f"step {self.step!r}: {self.reason}, so it is not generated"
        where = f"cell {self.cell}" + (f" line {self.line}" if self.line else "")
        return f"{where}: {self.code} ({self.reason})" if self.code else f"{where}: {self.reason}"


def slice_steps(parsed: list[CellCode], defaults: dict[str, object]) -> tuple[Dropped, ...]:
    """Drop what no target, later step or side effect needs from the step cells, in place
    (``kept``, ``hoist_candidates`` and ``drop_lines`` of each :class:`CellCode`); return what went."""
    steps = [p for p in parsed if p.role == "step" and p.tree is not None]
    dropped: list[Dropped] = [
        Dropped(p.cell.index, s.lineno, _first_line(p, s), "shows a value")
        for p in steps for s in p.tree.body if id(s) not in {id(k) for k in p.kept}  # type: ignore[union-attr]
    ]
    facts = _Facts(parsed, defaults)
    live: set[str] = set()
    keep_ids, reasons, unused = _backward(parsed, facts, live)
    if not any(p.cell.tags.parity or p.cell.tags.metrics or p.cell.tags.models or p.role == "metrics"
               for p in parsed) and not any(
        id(s) in keep_ids and not isinstance(s, ast.Import | ast.ImportFrom) and not facts.info[id(s)].incidental
        for p in steps for s in p.kept
    ):
        # no target, file or other effect says what the pipeline is for: every value a step leaves
        # behind may be it, so only what binds nothing goes (discarded results, display, plots)
        live = {n for p in steps for s in p.kept for n in facts.info[id(s)].writes} - facts.helpers
        keep_ids, reasons, unused = _backward(parsed, facts, live)
    for p, stmt, before, after in _drop_unused_results(unused):
        dropped.append(Dropped(p.cell.index, stmt.lineno, before,
                               f"value not used: the name goes, `{after}` stays for what it does"))
    rewritten = {id(s) for _, s in unused}
    defined = {
        n for p in steps for s in p.kept if id(s) in keep_ids and id(s) not in rewritten
        for n in facts.info[id(s)].writes
    }
    defined |= set(defaults) | facts.module_names
    for p in steps:
        for stmt in p.kept:
            if isinstance(stmt, ast.Delete) and id(stmt) not in keep_ids:
                if facts.info[id(stmt)].writes <= defined or getattr(p.cell.tags, "keep", False):
                    keep_ids.add(id(stmt))
                else:
                    reasons[id(stmt)] = "deletes a name the exported code no longer defines"
    for p in steps:
        gone = [s for s in p.kept if id(s) not in keep_ids]
        if not gone:
            continue
        p.kept = [s for s in p.kept if id(s) in keep_ids]
        p.hoist_candidates = [s for s in p.hoist_candidates if id(s) in keep_ids]
        for stmt in gone:
            p.drop_lines |= _lines_with_comments(p, stmt)
            dropped.append(Dropped(p.cell.index, stmt.lineno, _first_line(p, stmt), reasons[id(stmt)]))
    dropped += drop_unused_helpers(parsed, facts.helpers, facts.info)
    readers = Counter(n for p in steps for s in p.kept for n in facts.info[id(s)].reads)
    targets = live | {n for p in parsed for n in (*p.cell.tags.parity, *p.cell.tags.metrics, *p.cell.tags.models)}
    for p in steps:
        for stmt in p.kept:
            if isinstance(stmt, ast.For | ast.AsyncFor | ast.While | ast.If | ast.With | ast.Try):
                own = facts.info[id(stmt)].reads
                others = {n for n, count in readers.items() if count > (n in own)} | targets
                dropped += strip_nested_plots(p, [stmt], set(facts.helpers), others)
    for p in steps:
        if not p.kept and p.code.strip():
            p.drop_lines |= set(range(1, len(p.code.splitlines()) + 1))
            dropped.append(Dropped(p.cell.index, 0, "", "nothing left: the cell goes, comments too"))
    return tuple(sorted(dropped, key=lambda d: (d.cell, d.line == 0, d.line)))


def _backward(parsed: list[CellCode], facts: _Facts, live: set[str]
              ) -> tuple[set[int], dict[int, str], list[tuple[CellCode, ast.stmt]]]:
    """The backward slice from ``live`` and the targets: the statements kept, why each other one
    goes, and those kept only for what they change (their result is not needed)."""
    live = set(live)
    keep_ids: set[int] = set()
    reasons: dict[int, str] = {}
    unused: list[tuple[CellCode, ast.stmt]] = []
    for p in reversed([p for p in parsed if p.role in ("step", "metrics") and p.tree is not None]):
        if p.role == "metrics":
            live |= set(printed_names(p.tree))  # type: ignore[arg-type]
            continue
        tags = p.cell.tags
        live |= {*tags.parity, *tags.metrics, *tags.models}
        for stmt in reversed(p.kept):
            info = facts.info[id(stmt)]
            if isinstance(stmt, ast.Delete) and not getattr(tags, "keep", False):
                continue  # decided below, once we know whether what it deletes stays
            needed = (info.writes | info.changes) & live
            if getattr(tags, "keep", False) or (info.seed and not info.plot) or needed:
                keep_ids.add(id(stmt))
                if not info.writes & live and _rebinds_names_only(stmt):
                    unused.append((p, stmt))  # kept for what it changes: its result is not needed
                live -= info.strong_writes
                live |= info.reads | info.changes
            else:
                reasons[id(stmt)] = info.reason
    return keep_ids, reasons, unused


@dataclass
class _Info:
    reads: set[str]
    writes: set[str]  # names the statement (re)binds or changes through an item or attribute
    strong_writes: set[str]  # names it surely rebinds: the value before it is not needed
    changes: set[str]  # names it may change in place (methods, unknown calls, shared objects)
    seed: bool  # always kept: a side effect the names do not show
    plot: bool
    reason: str  # why it goes, when nothing needs it
    incidental: bool = False  # logs, seeds, configures a module: kept, but says nothing of what the
    # pipeline is for (a notebook with no target and only these still keeps every value it leaves)


class _Facts:
    """What each step statement reads, writes, may change, and whether it has effects of its own."""

    def __init__(self, parsed: list[CellCode], defaults: dict[str, object]) -> None:
        self.module_names: set[str] = set()  # names imports bind anywhere: modules, not data
        module_reads: set[str] = set()
        effects: dict[str, tuple[tuple[str, bool], ...]] = {}
        for p in parsed:
            if p.tree is None:
                continue
            for node in tree_nodes(p.tree):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    self.module_names.update(a.asname or a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and p.role != "skip":
                    if found := global_effects(node):
                        effects[node.name] = found
                elif p.role in MODULE_ROLES and isinstance(node, ast.Name):
                    module_reads.add(node.id)
        seeded = any(
            isinstance(n, ast.Call) and GLOBAL_SEEDS.search(dotted(n.func) or "")
            for p in parsed if p.tree is not None and p.role != "skip" for n in tree_nodes(p.tree)
        )
        self.info: dict[int, _Info] = {}
        self.generators: set[str] = set()  # `rng = np.random.default_rng(0)`: draws leave the global stream
        self.stochastic: set[str] = set()  # objects that draw from the global generator when used
        aliases: dict[str, set[str]] = {}
        paths = PathResolver(defaults)
        self.helpers = plotting_functions(  # the notebook's own plotting helpers: calls are plots
            [p.tree for p in parsed if p.tree is not None and p.role in ("step", *MODULE_ROLES)],
            self.module_names, set())
        self.loggers = loggers_bound([p.tree for p in parsed if p.tree is not None and p.role != "skip"])
        self.pure = computing_functions(  # the notebook's functions that only compute a value
            [p.tree for p in parsed if p.tree is not None and p.role in ("step", *MODULE_ROLES)],
            self.module_names, self.helpers)
        self.classes = {n.name for p in parsed if p.tree is not None and p.role != "skip"
                        for n in tree_nodes(p.tree) if isinstance(n, ast.ClassDef)}
        figures: set[str] = set(self.helpers)
        for p in parsed:
            if p.role != "step" or p.tree is None:
                continue
            files = mentions_files(p.code)
            for stmt in p.kept:
                plot = is_plotting(stmt, figures) or (
                    isinstance(stmt, ast.FunctionDef) and stmt.name in self.helpers)
                info = self._facts(stmt, effects, aliases, plot, seeded, defaults)
                if files and not plot and paths.files(stmt)[1]:
                    info.seed = True  # a file the lineage records
                if isinstance(stmt, ast.Import | ast.ImportFrom) and (
                    info.writes & module_reads or _side_effect_import(stmt)
                ):
                    info.seed = True
                paths.learn(stmt)
                self.info[id(stmt)] = info

    def _facts(self, stmt: ast.stmt, effects: dict, aliases: dict[str, set[str]], plot: bool,
               seeded: bool, defaults: dict[str, object]) -> _Info:
        if is_display_setting(stmt):  # `pd.options.display.max_rows = 10`: nothing a pipeline shows
            return _Info(set(), set(), set(), set(), False, False, "display setting")
        events = statement_events(stmt, effects)
        reads = {e.name for e in events if e.kind in ("read", "keep")}
        writes = {e.name for e in events if e.kind in ("write", "del")}
        maybe = {e.name for e in events if e.kind == "keep"}
        changes = {e.name for e in events if e.kind == "mutate"} - self.module_names
        seed = bool(
            writes & self.module_names and not isinstance(stmt, ast.Import | ast.ImportFrom)
        )  # `pd.options.display.max_rows = 10`; `np.random.seed(0)` is a bare call, below
        calls = [n for n in tree_nodes(stmt) if isinstance(n, ast.Call)]
        for call in calls:
            kind, touched = self._call(call)
            changes |= touched
            if kind == "dynamic":
                seed = True
            if seeded and may_draw(callee(call)) and not plot and root_name(call.func) not in self.generators:
                seed = True  # the global generator is seeded: later draws depend on this one
        if isinstance(stmt, ast.Expr) and calls and not plot:
            seed = seed or self._bare_call_matters(stmt.value)
        elif not plot and not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            shown: set[str] = set()
            seed = seed or any(  # `for f in files: os.remove(f)`
                self._bare_call_matters(n.value) and not is_plotting(n, shown)
                for n in _body_statements(stmt) if isinstance(n, ast.Expr)
            )
        if isinstance(stmt, ast.Global | ast.Nonlocal | ast.With | ast.AsyncWith | ast.Assert | ast.Raise):
            seed = True
        if any(isinstance(n, ast.Global | ast.Nonlocal) for n in tree_nodes(stmt)) and not isinstance(
            stmt, ast.FunctionDef | ast.AsyncFunctionDef
        ):
            seed = True
        for loop in (n for n in tree_nodes(stmt) if isinstance(n, ast.For | ast.AsyncFor)):
            held = {r for r in _value_roots(loop.iter) if r not in defaults and r not in self.module_names}
            for target in (t for t in ast.walk(loop.target) if isinstance(t, ast.Name)):
                aliases[target.id] = held  # `for dataset in combine:` changes what combine holds
        changes |= {  # `dataset["Title"] = ...`: a change in place, not a new value
            r for n in tree_nodes(stmt) if isinstance(n, ast.Subscript | ast.Attribute)
            and isinstance(n.ctx, ast.Store) and (r := root_name(n))
        } - self.module_names
        if not plot and (reads & self.stochastic or any(draws_from_module(c, self.module_names) for c in calls)):
            seed = True  # `nb2prod test --seed` seeds the global generators: every draw counts
        shared = set()
        for name in list(changes):  # a change to an object may change what it was built from
            shared |= _closure(name, aliases)
        changes |= shared - self.module_names
        strong = {n for n in writes if n not in maybe and n not in changes} - reads
        if isinstance(stmt, ast.Assign | ast.AnnAssign) and getattr(stmt, "value", None) is not None:
            value = stmt.value
            built_from = {r for r in _value_roots(value) if r not in defaults and r not in self.module_names}
            for name in writes:
                aliases[name] = built_from - {name}
            if isinstance(value, ast.Call) and stochastic(value):
                self.stochastic |= {n for n in writes if n not in reads}
            if isinstance(value, ast.Call) and callee(value) in GENERATORS:
                self.generators |= {n for n in writes if n not in reads}
        logs = not plot and any(is_logging_call(c, self.loggers) for c in calls) and not isinstance(
            stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        configures = bool(writes & self.module_names) or (  # `pd.options.mode.copy_on_write = True`
            isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and bool(GLOBAL_SEEDS.search(dotted(stmt.value.func) or "")))
        return _Info(reads, writes, strong, changes, seed or logs, plot, _reason(stmt, writes, plot),
                     logs or configures and not changes)

    def _call(self, call: ast.Call) -> tuple[str, set[str]]:
        """("pure" | "unknown" | "dynamic", the names the call may change besides its receiver)."""
        func = call.func
        if draws(call, set()):  # `plot_tree(clf)`, `ConfusionMatrixDisplay.from_estimator(clf, X, y)`
            return "pure", set()
        args = [*call.args, *[k.value for k in call.keywords]]
        roots = {r for a in args if (r := root_name(a.value if isinstance(a, ast.Starred) else a))}
        if isinstance(func, ast.Name):
            if func.id in DYNAMIC_CALLS:
                return "dynamic", roots
            if func.id in PURE_BUILTINS or PURE_NAME.search(func.id) or (
                    func.id in PURE_MODULE_FUNCTIONS and func.id in self.module_names):
                return "pure", set()
            if func.id in self.module_names:  # an imported function or class
                return "unknown", roots if func.id[:1].islower() else set()
            if func.id in self.helpers or func.id in self.pure:  # changes none of its arguments
                return "pure", set()
            if func.id in self.classes:  # a new instance: the class itself stays as it was
                return "unknown", roots
            return "unknown", roots | {func.id} - BUILTINS  # a notebook object or function
        if isinstance(func, ast.Attribute):
            root = root_name(func)
            if root in self.module_names:
                mutates = func.attr in ARG_MUTATORS or ".init." in f".{dotted(func) or ''}."
                return "unknown", roots if mutates else set()
        return "pure", set()

    def _bare_call_matters(self, value: ast.expr) -> bool:
        """A call whose result is thrown away is kept when it may act on the world."""
        if is_logging_call(value, self.loggers) or (isinstance(value, ast.Call) and changes_files(value)):
            return True  # the job's log; `Path("models").mkdir(exist_ok=True)`
        if not isinstance(value, ast.Call):
            return any(isinstance(n, ast.Call) and self._bare_call_matters(n) for n in ast.walk(value)
                       if n is not value)
        func = value.func
        if isinstance(func, ast.Name):
            if func.id == "open" and _reads_only(value):
                return any(self._bare_call_matters(a) for a in value.args if isinstance(a, ast.Call))
            if func.id[:1].isupper() and (func.id in self.module_names or func.id in self.classes):
                # `StandardScaler()`: a fresh object nothing else holds
                return any(isinstance(n, ast.Call) and self._bare_call_matters(n) for n in ast.walk(value)
                           if n is not value)
            if func.id in self.pure or (func.id in PURE_MODULE_FUNCTIONS and func.id in self.module_names):
                # `dists_loop(X)`, `asdict(cfg)`: only computes a value
                return any(isinstance(n, ast.Call) and self._bare_call_matters(n) for n in ast.walk(value)
                           if n is not value)
            return not (func.id in PURE_BUILTINS or PURE_NAME.search(func.id))
        if isinstance(func, ast.Attribute):
            if func.attr in WRITE_METHODS or WRITE_METHOD.match(func.attr):
                return True
            if isinstance(func.value, ast.Call):  # `StandardScaler().fit_transform(X)`: changes
                return any(  # only the fresh object (when the receiver call itself is harmless)
                    isinstance(n, ast.Call) and self._bare_call_matters(n) for n in ast.walk(value) if n is not value
                )
            if root_name(func) in self.module_names:  # np.random.seed(0), os.makedirs(...)
                return not (func.attr in NON_MUTATING_METHODS or PURE_NAME.search(func.attr)
                            or func.attr in PURE_MODULE_FUNCTIONS
                            or func.attr.startswith(("read_", "load_")) or func.attr in ("load", "loads"))
        return False
