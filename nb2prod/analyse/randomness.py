"""Static hints: exported calls that draw random numbers with no fixed seed.

A notebook that disagrees with itself makes every parity mismatch meaningless, so ``build`` points at
the lines that make it so: callables whose real signature takes ``random_state`` (default None) but
get none, ``numpy.random`` and ``random`` module functions with no seeding call before them,
generators made without a seed, and ``.sample()`` without ``random_state``. It also finds the case
``--seed`` cannot fix: a cell the pipeline never runs drawing from the global stream before an
exported cell does, so the two sides draw different numbers even when both are seeded.

Callees are resolved through the notebook's own imports and inspected (``inspect.signature``, and
the ``random_state`` paragraph of their numpydoc, which says when the seed is unused, e.g. Ridge's
"Used when solver == 'sag'"). Modules are imported only when a call to one of their names exists,
and once per callee per process.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2prod.analyse.bindings import Bindings, bindings, expand_kwargs, import_map
from nb2prod.analyse.frameworks import TORCH_INPLACE_DRAWS, Framework, framework_event, framework_of
from nb2prod.analyse.seedable import (
    draws_from_global,
    first_arg,
    is_known,
    is_loaded,
    literal_none,
    passes_random_state,
    random_state_callee,
    seed_used,
)
from nb2prod.read.magics import QuickVisitor, mask_magics, parse_masked, tree_nodes

#: Parameter names a notebook commonly uses for its seed; the fix suggests the one it has.
SEED_PARAMETER_NAMES = ("random_state", "seed", "random_seed", "rng_seed", "SEED", "RANDOM_STATE")
#: numpy's legacy module functions whose Generator method has another name.
_GENERATOR_METHODS = {"rand": "random", "random_sample": "random", "ranf": "random", "sample": "random",
                      "randn": "standard_normal", "randint": "integers", "random_integers": "integers"}
_SAMPLE_RANDOM_STATE_POSITION = 4  # DataFrame/Series.sample(n, frac, replace, weights, random_state)


@dataclass(frozen=True)
class RandomnessHint:
    """One call that makes the notebook draw different numbers on each run; plain data (it pickles)."""

    path: str  # the notebook, as messages show it
    cell: int  # 0-based, as nbformat counts
    line: int  # 1-based, inside the cell
    call: str  # the call as written, shortened
    what: str  # why it is not reproducible
    fix: str  # what to write instead
    seed_fixes: bool  # True when ``--seed N`` alone would make notebook and pipeline agree

    @property
    def location(self) -> str:
        return f"{self.path}, cell {self.cell}, line {self.line}"

    def describe(self) -> str:
        """One paragraph, used verbatim by ``build`` warnings and every parity reporter."""
        return f"{self.location}: {self.what} Fix: {self.fix}"


@dataclass(frozen=True)
class _Event:
    kind: str  # "draw" (global stream), "entropy" (fresh OS entropy), "seed"
    stream: str | None  # "numpy" | "random" for draws and seeds
    cell: int
    line: int
    col: int
    scope: int | None  # id of the enclosing def (its body runs later), None at top level
    call: str
    what: str = ""
    fix: str = ""

    @property
    def at(self) -> tuple[int, int, int]:
        return (self.cell, self.line, self.col)


def randomness_hints(plan: Any) -> list[RandomnessHint]:
    """Hints for a :class:`~nb2prod.analyse.plan.Plan`: its exported cells, and cells it leaves out."""
    nb = plan.notebook
    exported = {c for step in plan.steps for c in step.cells}
    exported |= {c.index for c in nb.cells if c.tags.role in ("imports", "functions")}
    parameters = {c.index for c in nb.cells if c.tags.role == "parameters"}
    seed_name = next((p.name for p in plan.parameters if p.name in SEED_PARAMETER_NAMES), None)
    trees: dict[int, ast.Module] = {}
    for cell in nb.cells:
        try:
            trees[cell.index] = parse_masked(mask_magics(cell.source).code)
        except (SyntaxError, ValueError):
            continue
    imports = import_map(trees)
    known = bindings(list(trees.values()))
    generators = _generator_names(trees, imports)
    events: list[_Event] = []
    for index, tree in trees.items():
        if index not in parameters:
            # a cell the pipeline never runs only matters through the global streams: inspect only
            # callees whose modules the exported code has already loaded (no matplotlib for a plot)
            finder = _Finder(index, imports, seed_name, loaded_only=index not in exported)
            finder.generators, finder.known = generators, known
            events += finder.events(tree)
    events.sort(key=lambda e: e.at)
    return _hints(nb.display_path, events, exported)


def notebook_hints(path: Path, display: str | None = None) -> list[RandomnessHint]:
    """Hints for a notebook file, or none when it cannot be analysed (parity's verdict uses this)."""
    from dataclasses import replace

    from nb2prod.analyse.planner import analyse
    from nb2prod.errors import Nb2ProdError
    from nb2prod.read.notebook import load_notebook

    try:
        hints = randomness_hints(analyse(load_notebook(path)))
    except Nb2ProdError:
        return []
    return [replace(h, path=display) for h in hints] if display else hints


def item_hints(item: Any, root: Path | None, *, strict: bool = False) -> list[RandomnessHint]:
    """Hints for one of ``build``'s items: a prepared notebook, or (only under ``strict``) one
    ``build`` did not re-read because it is the same file as the current version's, so a plain or
    ``--check`` build of an unchanged tree stays as cheap as before."""
    from nb2prod.analyse.planner import analyse
    from nb2prod.read.notebook import load_notebook

    plan = getattr(item, "plan", None)
    if plan is None and strict:
        path = Path(item.notebook)
        plan = analyse(load_notebook(path if path.is_absolute() else (root or Path.cwd()) / path,
                                     root=root))
    return randomness_hints(plan) if plan is not None else []


def judge_hints(hints: list[RandomnessHint], *, strict: bool = False) -> list[str]:
    """``build``'s warnings for its hints; with ``strict``, an AnalysisError naming them instead."""
    from nb2prod.errors import AnalysisError

    if strict and hints:
        first, more = hints[0], hints[1:]
        also = "".join(f" Also {h.location}: `{h.call}`." for h in more)
        raise AnalysisError(
            f"{first.what} (--strict: unseeded randomness is an error; {len(hints)} found.){also}",
            path=first.path,
            cell=first.cell,
            line=first.line,
            hint=first.fix + (" The same applies to the others." if more else ""),
        )
    return [h.describe() for h in hints]


def _hints(path: str, events: list[_Event], exported: set[int]) -> list[RandomnessHint]:
    hints: list[RandomnessHint] = []
    last_seed: dict[str, _Event] = {}
    pending: dict[str, _Event] = {}  # a draw in a cell the pipeline never runs, per stream
    reported_order: set[int] = set()
    for e in events:
        mine = e.cell in exported
        if e.kind == "seed" and e.stream:
            if mine:
                pending.pop(e.stream, None)  # both sides restart the stream here
            if e.scope is None or mine:
                last_seed[e.stream] = e
            continue
        if e.kind == "entropy":
            if mine:
                hints.append(_hint(path, e, seed_fixes=False))
            continue
        assert e.stream is not None
        if not mine:
            if e.scope is None:
                pending.setdefault(e.stream, e)
            continue
        seed = last_seed.get(e.stream)
        seeded = seed is not None and (seed.scope is None or seed.scope == e.scope)
        if seeded and seed is not None and seed.cell not in exported:
            hints.append(
                RandomnessHint(
                    path, e.cell, e.line, e.call,
                    f"`{e.call}` relies on the `{seed.call}` of cell {seed.cell}, which is not "
                    "exported: the pipeline draws here unseeded.",
                    f"move `{seed.call}` into an exported cell (imports, or the first step), or {e.fix}",
                    seed_fixes=False,
                )
            )
        elif not seeded:
            hints.append(_hint(path, e, seed_fixes=True))
        before = pending.pop(e.stream, None) if e.scope is None else None
        if before is not None and before.cell not in reported_order:
            reported_order.add(before.cell)
            module = _STREAM_NAMES.get(e.stream, e.stream)
            hints.append(
                RandomnessHint(
                    path, before.cell, before.line, before.call,
                    f"cell {before.cell} is not exported but draws from {module}'s global stream "
                    f"(`{before.call}`) before exported cell {e.cell} does (line {e.line}, "
                    f"`{e.call}`): the pipeline draws different numbers there, even with --seed.",
                    f"seed the draw in cell {e.cell} explicitly (random_state=..., or a generator "
                    f"made with a seed), or make cell {before.cell} draw from a generator of its own, "
                    "e.g. `np.random.default_rng(0)`.",
                    seed_fixes=False,
                )
            )
    return hints


_STREAM_NAMES = {"numpy": "numpy.random", "random": "random", "torch": "torch",
                 "tensorflow": "TensorFlow"}


def _hint(path: str, e: _Event, *, seed_fixes: bool) -> RandomnessHint:
    return RandomnessHint(path, e.cell, e.line, e.call, e.what, e.fix, seed_fixes)


_GENERATORS = frozenset({
    "numpy.random.default_rng", "numpy.random.RandomState", "numpy.random.Generator",
    "random.Random", "random.SystemRandom",
})


def _generator_names(trees: dict[int, ast.Module], imports: dict[str, str]) -> frozenset[str]:
    """Names the notebook binds to a random generator it made (``rng = np.random.default_rng(0)``)."""
    finder = _Finder(-1, imports, None)
    names: set[str] = set()
    for tree in trees.values():
        for node in tree_nodes(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                if finder.resolve(node.value.func) in _GENERATORS:
                    names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return frozenset(names)


class _Finder(QuickVisitor):
    """Random draws and seeding calls of one cell, with the def each one sits in."""

    def __init__(
        self, cell: int, imports: dict[str, str], seed_name: str | None, *, loaded_only: bool = False
    ) -> None:
        self.cell = cell
        self.loaded_only = loaded_only
        self.generators: frozenset[str] = frozenset()
        self.known = Bindings()
        self.imports = imports
        self.value = seed_name or "0"
        self.scope: int | None = None
        self.found: list[_Event] = []

    def events(self, tree: ast.Module) -> list[_Event]:
        self.visit(tree)
        return self.found

    def _in_def(self, node: ast.AST) -> None:
        outer, self.scope = self.scope, id(node)
        self.generic_visit(node)
        self.scope = outer

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _in_def

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        qualified = self.resolve(node.func)
        if qualified is not None:
            event = self._classify(node, qualified)
        elif isinstance(node.func, ast.Attribute) and node.func.attr == "sample":
            event = self._sample(node)
        elif (isinstance(node.func, ast.Attribute) and node.func.attr in TORCH_INPLACE_DRAWS
              and "torch" in {v.split(".")[0] for v in self.imports.values()}
              and not any(k.arg == "generator" for k in node.keywords)):
            event = self._framework(node, "draw", framework_of("torch"))  # type: ignore[arg-type]
        else:
            event = None
        if event is not None:
            self.found.append(event)

    def _event(self, node: ast.Call, kind: str, stream: str | None, text: str, what: str = "",
               fix: str = "") -> _Event:
        return _Event(kind, stream, self.cell, node.lineno, node.col_offset, self.scope, text, what,
                      fix)

    def resolve(self, func: ast.expr, depth: int = 0) -> str | None:
        """The dotted origin of a callee: through imports, once-bound aliases (``Cls = Forest``)
        and ``getattr(module, "Name")`` with a literal or once-bound string name."""
        parts: list[str] = []
        while isinstance(func, ast.Attribute):
            parts.append(func.attr)
            func = func.value
        if depth < 5 and isinstance(func, ast.Call) and isinstance(func.func, ast.Name) \
                and func.func.id == "getattr" and len(func.args) >= 2:
            owner, name = self.resolve(func.args[0], depth + 1), func.args[1]
            text = name.value if isinstance(name, ast.Constant) else (
                self.known.constants.get(name.id) if isinstance(name, ast.Name) else None)
            if owner is None or not isinstance(text, str) or not text.isidentifier():
                return None
            return ".".join([owner, text, *reversed(parts)])
        if not isinstance(func, ast.Name):
            return None
        if func.id not in self.imports:
            alias = self.known.aliases.get(func.id)
            origin = self.resolve(alias, depth + 1) if alias is not None and depth < 5 else None
            return ".".join([origin, *reversed(parts)]) if origin else None
        return ".".join([self.imports[func.id], *reversed(parts)])

    def _classify(self, node: ast.Call, qualified: str) -> _Event | None:
        module, _, name = qualified.rpartition(".")
        if module in ("numpy.random", "random"):
            return self._stream_call(node, module, name, _short(node))
        if framework_of(qualified) is not None:  # torch, TensorFlow: by table, never imported
            found = framework_event(qualified, node)
            return self._framework(node, *found) if found else None
        if self.loaded_only and not (is_loaded(qualified) or is_known(qualified)):
            return None
        callee = random_state_callee(qualified)
        if callee is None:
            return None
        call = expand_kwargs(node, self.known)  # `Cls(**params)` with params a dict it can read
        if call is None or passes_random_state(call, callee) or not seed_used(call, callee):
            return None
        text, short = _short(node), _func_text(node)  # only for calls that become hints (unparse)
        return self._event(
            node, "draw", "numpy", text,
            f"`{text}` draws random numbers: {short} takes random_state (default None) and the "
            "call passes none, so every run differs.",
            f"pass random_state={self.value}, e.g. `{short}(..., random_state={self.value})`.",
        )

    def _framework(self, node: ast.Call, kind: str, framework: Framework) -> _Event:
        """A seed of, or a draw from, torch's or TensorFlow's global generator."""
        text = _short(node)
        if kind == "seed":
            return self._event(node, "seed", framework.stream, text)
        return self._event(
            node, "draw", framework.stream, text,
            f"`{text}` draws from {_STREAM_NAMES[framework.stream]}'s global random generator, "
            "which nothing seeds before it.",
            framework.fix.format(value=self.value),
        )

    def _stream_call(self, node: ast.Call, module: str, name: str, text: str) -> _Event | None:
        stream = "numpy" if module == "numpy.random" else "random"
        seeded = bool(node.args or node.keywords) and not literal_none(first_arg(node))
        if name == "seed":
            if seeded:
                return self._event(node, "seed", stream, text)
            return self._event(
                node, "entropy", None, text,
                f"`{text}` with no value reseeds from the operating system's entropy.",
                f"pass a value: `{_func_text(node)}({self.value})`.",
            )
        if name in ("default_rng", "RandomState", "Random"):
            if seeded:
                return None
            return self._event(
                node, "entropy", None, text,
                f"`{text}` makes a generator from fresh OS entropy: it differs on every run and "
                "--seed cannot fix it.",
                f"pass a seed: `{_func_text(node)}({self.value})`.",
            )
        if not draws_from_global(module, name):
            return None
        if stream == "numpy":
            method = _GENERATOR_METHODS.get(name, name)
            fix = (f"draw from a seeded generator (`rng = np.random.default_rng({self.value})`, "
                   f"then `rng.{method}(...)`), or call np.random.seed({self.value}) in an exported "
                   "cell before it; --seed N also seeds it on both sides.")
        else:
            fix = (f"use `rng = random.Random({self.value})` and `rng.{name}(...)`, or call "
                   f"random.seed({self.value}) in an exported cell before it; --seed N also seeds "
                   "it on both sides.")
        return self._event(
            node, "draw", stream, text,
            f"`{text}` draws from {module}'s global stream, which nothing seeds before it.", fix,
        )

    def _sample(self, node: ast.Call) -> _Event | None:
        if any(k.arg in ("random_state", None) for k in node.keywords):
            return None
        receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
        if isinstance(receiver, ast.Name) and receiver.id in self.generators:
            return None  # `rng.sample(...)` on a generator the notebook made (seeded or hinted there)
        if len(node.args) > _SAMPLE_RANDOM_STATE_POSITION or any(
            isinstance(a, ast.Starred) for a in node.args
        ):
            return None
        text = _short(node)
        return self._event(
            node, "draw", "numpy", text,
            f"`{text}` samples rows at random: no random_state is passed.",
            f"pass random_state={self.value}, e.g. `.sample(..., random_state={self.value})`.",
        )


def _func_text(node: ast.Call) -> str:
    return ast.unparse(node.func)


def _short(node: ast.Call, limit: int = 60) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= limit else text[: limit - 4] + "...)"
