"""A working folder of its own for each side of a parity case: the notebook's folder, mirrored.

Real notebooks write files into their folder (checkpoints, figures, CSV hand-offs, ``%%writefile``
modules). In a parity case the notebook and its pipeline run at the same time, and ``-j N`` runs
several cases of one notebook at once: in one shared folder their files collide and a verdict would
depend on timing. So each side runs in a folder of its own that mirrors the notebook's folder:

- directories are real directories, files are symbolic links to the originals, so every relative
  read (``pd.read_csv("data/x.csv")``, ``import helpers``) sees the notebook folder's files as before;
  a sub-folder that would take the mirror past :data:`EAGER_ENTRIES` entries (a data set of
  thousands of files), a hidden folder (``.git``, ``.venv``) and ``__pycache__`` are one link each,
  expanded by the hook when Python code writes inside them;
- a new file lands in the side's own folder; before a side writes to, removes or renames a linked
  file, the audit hook of ``nb2prod.execute._cow`` (installed in the kernel and in the pipeline
  process) swaps the link for a private copy, so the originals are never modified. Libraries that
  write from C (LightGBM's ``save_model``, polars' ``write_csv``, HDF5, SQLite) are not seen by the
  hook, so an existing file the notebook names in such a call (:func:`c_level_outputs`) is copied
  into the mirror up front instead of linked;
- what a side wrote is that side's evidence: :func:`collect` moves it next to the executed
  notebook (``runs/<name>/parity-<hash>-files/notebook/...``, ``.../pipeline/...``).

``NB2PROD_ISOLATE=0`` turns it off (both sides run in the notebook's folder, as before).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path

EAGER_ENTRIES = 500  # entries of sub-folders mirrored up front; bigger folders are linked whole
_ENV_SWITCH = "NB2PROD_ISOLATE"
_NEVER_EXPAND = frozenset({"__pycache__", "node_modules", "site-packages"})


@dataclass(frozen=True)
class WorkDir:
    """One side's working folder (``root``) mirroring ``origin``, the notebook's folder."""

    root: Path
    origin: Path
    copies: tuple[str, ...] = ()  # files copied up front, not linked (see c_level_outputs)

    def hook_source(self) -> str:
        """A cell that installs the copy-on-write hook in a kernel, leaving its namespace alone."""
        code = Path(__file__).with_name("_cow.py").read_text(encoding="utf-8")
        return (
            "# nb2prod: this run's own working folder (hidden; removed from the executed notebook)\n"
            f"exec(compile({code!r}, 'nb2prod-workdir', 'exec'), _nb2prod_ns := {{}})\n"
            f"_nb2prod_ns['install']({str(self.root)!r}, {str(self.origin)!r})\n"
            "del _nb2prod_ns\n"
        )


def enabled() -> bool:
    """Each side gets a folder of its own unless the user turned it off."""
    return os.environ.get(_ENV_SWITCH, "1") != "0"


def mirror(origin: Path, *, parent: Path | None = None, label: str = "side",
           exclude: tuple[Path, ...] = (), copies: tuple[str, ...] = ()) -> WorkDir:
    """A new folder (under ``parent``, else the temporary folder) that mirrors ``origin``.

    ``exclude`` names folders never mirrored (nb2prod's own evidence folder when it sits inside the
    notebook's folder, where mirroring it would mirror the mirror); ``copies`` names files (relative
    to ``origin``) copied rather than linked, because code the hook cannot see writes them.
    """
    origin = Path(origin).resolve()
    root = Path(tempfile.mkdtemp(prefix=f"nb2prod-{label}-", dir=parent)).resolve()
    skip = {p.resolve() for p in exclude} | {root}
    copied = {origin / c for c in copies}
    # folders that hold an excluded folder or a copied file are mirrored entry by entry
    inside = {p for s in skip for p in s.parents} | {p for c in copied for p in c.parents}
    budget = EAGER_ENTRIES
    queue: deque[tuple[Path, Path]] = deque([(origin, root)])
    while queue:
        source, target = queue.popleft()
        try:
            entries = sorted(os.scandir(source), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            path = Path(entry.path)
            if path in skip:
                continue
            link = target / entry.name
            size = _expandable(entry, budget) if path not in inside else 0
            if path in copied and entry.is_file(follow_symlinks=False):
                shutil.copy2(path, link)
            elif size is None:
                os.symlink(path, link)
            else:
                budget -= size
                link.mkdir()
                queue.append((path, link))
    return WorkDir(root, origin, tuple(copies))


def _expandable(entry: os.DirEntry[str], budget: int) -> int | None:
    """How many entries mirroring this directory entry by entry costs, or None to link it whole:
    a file, a hidden or tool folder, or one too big for what is left of the budget (a data set of
    thousands of files is read, not written; a write into it expands it then, in the hook)."""
    if not entry.is_dir(follow_symlinks=False) or entry.name.startswith("."):
        return None
    if entry.name in _NEVER_EXPAND:
        return None
    try:
        with os.scandir(entry.path) as listing:
            size = sum(1 for _ in listing)
    except OSError:
        return None
    return size if size <= budget else None


#: Calls whose file argument is written by C code, out of the hook's sight (and harmless extra
#: copies where a library of the same method name writes from Python).
C_LEVEL_WRITERS = frozenset({
    "save_model", "save_binary", "save", "save_weights", "to_hdf", "to_netcdf", "imwrite",
    "write_csv", "write_parquet", "write_ipc", "write_json", "write_ndjson", "write_avro",
    "sink_parquet", "sink_csv", "sink_ipc", "connect", "File", "HDFStore",
})


def c_level_outputs(sources: list[str], folder: Path) -> tuple[str, ...]:
    """Existing files in ``folder`` that the code names, by a literal path, in a C-level write."""
    import ast

    from nb2prod.read.magics import mask_magics, parse_masked

    named: set[str] = set()
    for source in sources:
        try:
            tree = parse_masked(mask_magics(source).code)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name not in C_LEVEL_WRITERS:
                continue
            for arg in [*node.args[:2], *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value:
                    named.add(arg.value)
    found = []
    for text in sorted(named):
        path = Path(os.path.normpath(folder / text))
        if path.is_relative_to(folder) and path.is_file() and not path.is_symlink():
            found.append(path.relative_to(folder).as_posix())
    return tuple(found)


def collect(work: WorkDir, dest: Path) -> list[str]:
    """Move what this side wrote (regular files, not the mirror's links) under ``dest``; remove the
    working folder. Returns the moved files' paths relative to ``dest``, sorted."""
    moved: list[str] = []
    for folder, dirs, files in os.walk(work.root):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d)) and d != "__pycache__"]
        for name in files:  # (bytecode the interpreter cached is not what the side wrote)
            path = Path(folder, name)
            if path.is_symlink() or not path.is_file():
                continue
            rel = path.relative_to(work.root)
            if rel.as_posix() in work.copies and _unchanged(path, work.origin / rel):
                continue  # copied up front and never written: not this side's doing
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), out)
            moved.append(rel.as_posix())
    discard(work)
    return sorted(moved)


def _unchanged(copy: Path, original: Path) -> bool:
    try:
        a, b = copy.stat(), original.stat()
    except OSError:
        return False
    return (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns)


def discard(work: WorkDir | None) -> None:
    """Remove a working folder (links only: the originals they point to stay)."""
    if work is not None:
        shutil.rmtree(work.root, ignore_errors=True)
