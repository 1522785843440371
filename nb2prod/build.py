"""``nb2prod build``: notebooks -> plans -> code -> published versions.

Every notebook is read, analysed and generated before anything is written, so one bad notebook stops
the build with nothing written (exit 2). ``--check`` stops after generation and compares hashes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from nb2prod import __version__
from nb2prod._publish import PublishBatch
from nb2prod.analysis import analyse, module_name
from nb2prod.codegen import format_code, generate_source, module_formatter
from nb2prod.errors import EXIT_CHECK_FAILED, EXIT_OK, NotebookError, VersionError
from nb2prod.lineage import data_files
from nb2prod.models import Plan
from nb2prod.notebook import display_path, find_notebooks, load_notebook
from nb2prod.versions import (
    Published,
    build_manifest,
    code_sha256,
    current_version,
    guard_out_dir,
    package_versions,
    publish,
    read_manifest,
    requirements_txt,
    sha256_file,
    staleness,
)

if TYPE_CHECKING:
    from nb2prod._format import Formatter


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
    on_prepared: Callable[[Prepared], None] | None = None,
) -> list[Prepared | BuildRow]:
    """Read, analyse and generate every notebook; raise on the first bad one, writing nothing.

    A notebook whose file is byte-for-byte the one the current version was built from, by this
    nb2prod, is not read again: its row comes from the manifest (that keeps ``--check`` cheap).
    """
    prepared: list[Prepared | BuildRow] = []
    seen: dict[str, str] = {}
    for path in find_notebooks(paths):
        item: Prepared | BuildRow | None = _built_from_same_file(path, out_dir, root)
        if item is None:
            nb = load_notebook(path, root=root)
            plan = analyse(nb)
            source = generate_source(plan)
            item = Prepared(plan, source, code_sha256(source, plan))
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
        prepared.append(item)
        if on_prepared is not None and isinstance(item, Prepared):
            on_prepared(item)
    if not prepared:
        raise NotebookError(
            "no notebooks found (.ipynb, or jupytext percent-format .py).",
            path=", ".join(str(p) for p in paths),
        )
    return prepared


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

    Unseeded randomness in exported code is a warning; with ``strict`` it is an error, raised
    before anything is written.
    """
    from nb2prod.randomness import build_hints

    report = BuildReport(check=check)
    paths = list(paths)
    formatter = None if check else module_formatter()
    queued: dict[str, int] = {}  # module name -> its place in the formatter

    def queue(item: Prepared) -> None:  # black (most of a build) starts while the rest are read
        if formatter is not None and staleness(out_dir, item.plan, item.code_hash):
            queued[item.plan.name] = formatter.submit(item.source, item.plan.name)

    try:
        if formatter is not None:
            formatter.expected = len(find_notebooks(paths))
        items = prepare(paths, out_dir, root, on_prepared=queue)
        report.warnings.extend(build_hints(items, root, strict=strict))
        if not check:  # before the first write: no module may be written through a symbolic link
            guard_out_dir(out_dir, [i.plan.name for i in items if isinstance(i, Prepared)])
        with PublishBatch(out_dir) if queued else nullcontext() as batch:
            for item in items:
                if isinstance(item, BuildRow):
                    report.rows.append(replace(item, status="current" if check else "unchanged"))
                    continue
                plan = item.plan
                report.warnings.extend(plan.warnings)
                if plan.unexported_cells:
                    cells = ", ".join(map(str, plan.unexported_cells))
                    several = len(plan.unexported_cells) > 1
                    report.warnings.append(
                        f"{plan.notebook.display_path}: {'cells' if several else 'cell'} {cells} "
                        f"{'come' if several else 'comes'} before the first step and "
                        f"{'are' if several else 'is'} not exported."
                    )
                if on_progress:
                    on_progress(plan.notebook.display_path)
                reason = staleness(out_dir, plan, item.code_hash)
                if check or reason is None:
                    version = current_version(out_dir / plan.name)
                    if check:
                        status = "current" if reason is None else f"stale: {reason}"
                    else:
                        status = "unchanged"
                else:
                    packages = package_versions(plan.imported_modules)
                    data, data_warnings = data_files(plan, root)
                    report.warnings.extend(data_warnings)
                    manifest = build_manifest(plan, item.code_hash, packages, data)
                    files = {"requirements.txt": requirements_txt(packages)}
                    body = _formatted(formatter, queued, item)
                    published = (batch or _Single(out_dir)).add(plan, body, files, manifest)
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
                    )
                )
            if batch is not None:
                batch.commit()
    finally:
        if formatter is not None:
            formatter.close()
    return report


def _formatted(formatter: Formatter | None, queued: dict[str, int], item: Prepared) -> str:
    """The black-formatted module of ``item``; black's error is raised with the notebook's name."""
    index = queued.get(item.plan.name)
    result = formatter.result(index) if formatter is not None and index is not None else None
    return result if isinstance(result, str) else format_code(item.source, item.plan)


class _Single:
    """Publishes one version on its own: a notebook that went stale while this build ran."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir

    def add(self, plan: Plan, body: str, files: dict[str, str], manifest: dict) -> Published:
        return publish(self.out_dir, plan, body, files, manifest)
