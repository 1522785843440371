"""``nb2prod build``: notebooks -> plans -> code -> published versions.

Every notebook is read, analysed and generated before anything is written, so one bad notebook stops
the build with nothing written (exit 2). ``--check`` stops after generation and compares hashes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from nb2prod import __version__
from nb2prod._hashing import sha256_file
from nb2prod.analyse.lineage import data_files
from nb2prod.analyse.plan import Plan
from nb2prod.analyse.planner import analyse, module_name
from nb2prod.errors import EXIT_CHECK_FAILED, EXIT_OK, NotebookError, VersionError
from nb2prod.generate.codegen import format_code, generate_source
from nb2prod.read.notebook import display_path, find_notebooks, load_notebook
from nb2prod.store._fork_pool import OrderedPool
from nb2prod.store.publish import PublishBatch
from nb2prod.store.versions import (
    Published,
    build_manifest,
    code_sha256,
    current_version,
    package_versions,
    read_manifest,
    requirements_txt,
    staleness,
)

if TYPE_CHECKING:
    from nb2prod.analyse.randomness import RandomnessHint


@dataclass(frozen=True)
class Prepared:
    """A notebook ready to publish: its plan, generated (unformatted) source and code hash."""

    plan: Plan
    source: str
    code_hash: str


@dataclass(frozen=True)
class BuildRow:
    notebook: str
    name: str
    steps: tuple[str, ...]
    parameters: tuple[str, ...]
    parity: tuple[str, ...]
    version: str | None
    status: str  # new, updated, unchanged | current, stale: <reason>
    inferred: tuple[str, ...] = ()  # what inference tagged (a notebook with no step tags)
    dropped: tuple[str, ...] = ()  # what the exported code leaves out, one line each (slicing)


@dataclass
class BuildReport:
    """Rows for the table, warnings for the listing, and the exit code (``--check`` sets it)."""

    rows: list[BuildRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    check: bool = False

    @property
    def stale(self) -> list[BuildRow]:
        return [r for r in self.rows if r.status.startswith("stale") or r.status == "missing"]

    @property
    def exit_code(self) -> int:
        return EXIT_CHECK_FAILED if self.check and self.stale else EXIT_OK


def prepare(
    paths: Iterable[Path],
    out_dir: Path,
    root: Path | None = None,
) -> list[Prepared | BuildRow]:
    """Read, analyse and generate every notebook; raise on the first bad one, writing nothing.

    A notebook whose file is byte-for-byte the one the current version was built from, by this
    nb2prod, is not read again: its row comes from the manifest (that keeps ``--check`` cheap).
    """
    notebooks = _notebooks(paths)
    seen: dict[str, str] = {}
    return [
        _unique(_built_from_same_file(path, out_dir, root) or _prepared(path, root), seen)
        for path in notebooks
    ]


def _notebooks(paths: Iterable[Path]) -> list[Path]:
    paths = list(paths)
    found = find_notebooks(paths)
    if not found:
        raise NotebookError(
            "no notebooks found (.ipynb, or jupytext percent-format .py).",
            path=", ".join(str(p) for p in paths),
            hint="a folder is searched for those; a plain .py script (no '# %%' markers) builds "
            "when it is named on the command line.",
        )
    return found


def _prepared(path: Path, root: Path | None) -> Prepared:
    plan = analyse(load_notebook(path, root=root))
    source = generate_source(plan)
    return Prepared(plan, source, code_sha256(source, plan))


def _unique(item: Prepared | BuildRow, seen: dict[str, str]) -> Prepared | BuildRow:
    """``item``, once no earlier notebook has claimed its module name."""
    name, shown = (
        (item.plan.name, item.plan.notebook.display_path)
        if isinstance(item, Prepared)
        else (item.name, item.notebook)
    )
    if name in seen:
        raise NotebookError(
            f"its module name {name!r} is also the name of {seen[name]}.",
            path=shown,
            hint="rename one of the two notebooks.",
        )
    seen[name] = shown
    return item


@dataclass(frozen=True)
class _Work:
    """Everything one notebook costs a build apart from writing, done in whichever process ran it."""

    item: Prepared | BuildRow
    hints: tuple[RandomnessHint, ...] = ()
    stale: str | None = None  # why the current version is out of date (a Prepared item)
    body: str | None = None  # the black-formatted module, when a new version is due
    packages: dict[str, str | None] = field(default_factory=dict)
    data: tuple[dict, ...] = ()
    data_warnings: tuple[str, ...] = ()
    layouts: dict[str, str] = field(default_factory=dict)  # black's new layouts, for the disk cache


def _work_on(
    job: tuple[Path, BuildRow | None], out_dir: Path, root: Path | None, check: bool, strict: bool
) -> _Work:
    """One notebook's work; ``job`` is its path and, when the build already found it unchanged
    (only sent with ``strict``, for its hints), its row."""
    from nb2prod.analyse.randomness import item_hints

    path, row = job
    item = row if row is not None else _prepared(path, root)
    hints = tuple(item_hints(item, root, strict=strict))
    if isinstance(item, BuildRow):
        return _Work(item, hints)
    plan = item.plan
    reason = staleness(out_dir, plan, item.code_hash)
    if check or reason is None:
        return _Work(item, hints, reason)
    from nb2prod.generate._piece_store import take_fresh_pieces

    data, warnings = data_files(plan, root)
    body = format_code(item.source, plan)
    return _Work(
        item,
        hints,
        reason,
        body=body,
        packages=package_versions(plan.imported_modules),
        data=tuple(data),
        data_warnings=tuple(warnings),
        layouts=take_fresh_pieces(),
    )


def _warm(notebooks: list[Path], check: bool) -> None:
    """Load what every notebook's work needs, once, before the build's workers are forked: they
    inherit it. With a warm disk cache each part is a file read."""
    import nbformat  # noqa: F401

    import nb2prod.analyse.lineage  # noqa: F401
    import nb2prod.analyse.randomness  # noqa: F401
    from nb2prod.analyse.seedable import warm_cache

    warm_cache()
    if not check:
        from nb2prod.generate._piece_store import warm_pieces
        from nb2prod.generate.codegen import warm_formatter
        from nb2prod.store.versions import warm_providers

        warm_providers()
        warm_formatter({len(module_name(path)) for path in notebooks})
        warm_pieces()


def _built_from_same_file(path: Path, out_dir: Path, root: Path | None) -> BuildRow | None:
    package = out_dir / module_name(path)
    version = current_version(package)
    if version is None or not path.is_file():
        return None
    try:
        manifest = read_manifest(package, version)
    except VersionError:
        return None
    shown = display_path(path, root)
    same = (
        manifest.get("source") == shown
        and manifest.get("nb2prod_version") == __version__
        and manifest.get("source_sha256") == sha256_file(path)
    )
    if not same:
        return None
    return BuildRow(
        notebook=shown,
        name=package.name,
        steps=tuple(manifest.get("steps", {})),
        parameters=tuple(manifest.get("parameters", {})),
        parity=tuple(t["name"] for t in manifest.get("parity_targets", [])),
        version=version,
        status="unchanged",
        inferred=tuple(manifest.get("inferred", [])),
        dropped=tuple(manifest.get("dropped", [])),
    )


def build(
    paths: Iterable[Path],
    out_dir: Path,
    *,
    check: bool = False,
    root: Path | None = None,
    on_progress: Callable[[str], None] | None = None,
    strict: bool = False,
) -> BuildReport:
    """Build (or with ``check``, only compare) every notebook under ``paths`` into ``out_dir``.

    Each notebook's work (read, analyse, generate, black) runs in worker processes where that pays,
    and each new version is staged as soon as its notebook is done; versions become visible only
    once every notebook has passed, so a bad one (or, with ``strict``, unseeded randomness) leaves
    ``out_dir`` as it was.
    """
    from nb2prod.analyse.randomness import judge_hints

    report = BuildReport(check=check)
    notebooks = _notebooks(paths)
    unchanged = {path: _built_from_same_file(path, out_dir, root) for path in notebooks}
    todo = [(path, unchanged[path]) for path in notebooks if unchanged[path] is None or strict]
    work = partial(_work_on, out_dir=out_dir, root=root, check=check, strict=strict)
    seen: dict[str, str] = {}
    hints: list[RandomnessHint] = []
    paths_todo = [path for path, _ in todo]
    warm = partial(_warm, paths_todo, check)
    layouts: dict[str, str] = {}
    from nb2prod.generate._piece_store import shared_pieces

    with shared_pieces(), OrderedPool(work, todo, initializer=warm) as pool, _Stager(out_dir) as stager:
        done = iter(pool.results())
        for path in notebooks:
            row = unchanged[path]
            w = next(done) if row is None or strict else _Work(row)
            hints += w.hints
            layouts.update(w.layouts)
            item = _unique(w.item, seen)
            if isinstance(item, BuildRow):
                report.rows.append(replace(item, status="current" if check else "unchanged"))
                continue
            plan = item.plan
            report.warnings += [*plan.warnings, *_unexported_warning(plan), *w.data_warnings]
            if on_progress:
                on_progress(plan.notebook.display_path)
            if w.body is None:
                version = current_version(out_dir / plan.name)
                status = f"stale: {w.stale}" if w.stale else "current" if check else "unchanged"
            else:
                published = stager.stage(w)
                version, status = published.version, published.status
            report.rows.append(
                BuildRow(
                    notebook=plan.notebook.display_path,
                    name=plan.name,
                    steps=tuple(s.name for s in plan.steps),
                    parameters=tuple(p.name for p in plan.parameters),
                    parity=tuple(t.name for t in plan.parity_targets),
                    version=version,
                    status=status,
                    inferred=plan.inferred,
                    dropped=tuple(d.describe() for d in plan.dropped),
                )
            )
        report.warnings[:0] = judge_hints(hints, strict=strict)  # strict: raises, nothing written
        stager.commit()
    if layouts:  # one write for the whole build, by this process, once the build has passed
        from nb2prod.generate._piece_store import remember_pieces

        remember_pieces(layouts)
    return report


class _Stager:
    """Stages new versions in one :class:`PublishBatch`, opened with the first of them."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._batch: PublishBatch | None = None

    def __enter__(self) -> _Stager:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._batch is not None:
            self._batch.__exit__(*exc)

    def stage(self, w: _Work) -> Published:
        assert isinstance(w.item, Prepared) and w.body is not None
        plan = w.item.plan
        if self._batch is None:  # (its add() refuses a module written through a symbolic link)
            self._batch = PublishBatch(self.out_dir).__enter__()
        manifest = build_manifest(plan, w.item.code_hash, w.packages, list(w.data))
        files = {"requirements.txt": requirements_txt(w.packages)}
        return self._batch.add(plan, w.body, files, manifest)

    def commit(self) -> None:
        if self._batch is not None:
            self._batch.commit()


def _unexported_warning(plan: Plan) -> list[str]:
    if not plan.unexported_cells:
        return []
    cells = ", ".join(map(str, plan.unexported_cells))
    several = len(plan.unexported_cells) > 1
    return [
        f"{plan.notebook.display_path}: {'cells' if several else 'cell'} {cells} "
        f"{'come' if several else 'comes'} before the first step and "
        f"{'are' if several else 'is'} not exported."
    ]
