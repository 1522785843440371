"""Data lineage: which files the exported code reads, so a manifest can say what a version was built on.

Found statically, never by running anything: a call whose function's last name is in :data:`READERS`
(``pd.read_csv``, ``np.load``, ``open``, ...) and whose path argument is a string literal, a
``Path("...")`` literal, a parameter with a string default, or built from those (``data_dir +
"x.csv"``, ``f"{data_dir}/x.csv"``, ``os.path.join(data_dir, "x.csv")``, a name the code assigned
such a path to). Paths resolve against the notebook's folder, the working directory of both the
notebook and its pipeline. A file that is not there is recorded as missing and warned about, never an
error: data often lives only on the training machine.

Files are data flow too: a call in :data:`WRITERS` (``df.to_csv``, ``plt.savefig``, ``joblib.dump``,
``open(p, "w")``...) writes a file. A file a step writes is the pipeline's own output, so a later
read of it is no data file of the manifest, and the step that reads it runs after the one that writes it.
"""

from __future__ import annotations

import ast
import glob
import hashlib
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2prod._hashing import sha256_file
from nb2prod.analyse.plan import Plan
from nb2prod.read.magics import tree_nodes
from nb2prod.read.notebook import display_path

# Reader function names (the last attribute of the call) and who provides them: the one table that
# decides what counts as reading a file.
READERS: dict[str, str] = {
    "open": "builtins, PIL.Image, gzip, xarray",
    "read_csv": "pandas, polars, pyarrow.csv, dask",
    "read_table": "pandas, pyarrow.parquet",
    "read_fwf": "pandas",
    "read_json": "pandas, polars",
    "read_ndjson": "polars",
    "read_parquet": "pandas, polars, dask",
    "read_feather": "pandas, pyarrow.feather",
    "read_ipc": "polars",
    "read_orc": "pandas",
    "read_excel": "pandas, polars",
    "read_hdf": "pandas",
    "read_pickle": "pandas",
    "read_sas": "pandas",
    "read_spss": "pandas",
    "read_stata": "pandas",
    "read_xml": "pandas",
    "read_file": "geopandas",
    "scan_csv": "polars",
    "scan_parquet": "polars",
    "scan_ipc": "polars",
    "load": "numpy, joblib, torch",
    "loadtxt": "numpy",
    "genfromtxt": "numpy",
    "fromfile": "numpy",
    "loadmat": "scipy.io",
    "imread": "matplotlib, imageio, cv2",
    "open_dataset": "xarray",
    "load_from_disk": "datasets",
}
# Writer function names -> (position of the path argument, its keyword names). ``save`` is numpy's
# and Keras' (path first) unless called on ``torch`` (path second, like ``joblib.dump``).
WRITERS: dict[str, tuple[int, tuple[str, ...]]] = {
    "to_csv": (0, ("path_or_buf",)),
    "to_parquet": (0, ("path",)),
    "to_json": (0, ("path_or_buf",)),
    "to_pickle": (0, ("path",)),
    "to_excel": (0, ("excel_writer",)),
    "to_feather": (0, ("path",)),
    "to_hdf": (0, ("path_or_buf",)),
    "to_netcdf": (0, ("path",)),
    "write_csv": (0, ("file",)),
    "write_parquet": (0, ("file",)),
    "write_json": (0, ("file",)),
    "savefig": (0, ("fname",)),
    "save_model": (0, ("filename", "fname")),
    "save": (0, ("file", "filepath")),
    "savetxt": (0, ("fname",)),
    "savez": (0, ("file",)),
    "savez_compressed": (0, ("file",)),
    "dump": (1, ("filename", "file", "fp")),
    "imwrite": (0, ("uri", "filename")),
    "imsave": (0, ("fname",)),
}
PATH_WRITE_METHODS = frozenset({"write_text", "write_bytes"})  # Path("x").write_text(...)
PATH_KEYWORDS = ("filepath_or_buffer", "path", "file", "fname", "filename", "path_or_buf", "io", "source")
PATH_CONSTRUCTORS = frozenset({"Path", "PurePath", "PosixPath", "WindowsPath"})
PATH_METHODS = frozenset({"open", "read_text", "read_bytes"})  # Path("x").read_text()
_CELL_MARK = re.compile(r"^# cell (\d+)$")
_FILE_CALL = re.compile(
    r"\b(?:" + "|".join(sorted({*READERS, *WRITERS, *PATH_METHODS, *PATH_WRITE_METHODS})) + r")\s*\("
)


def mentions_files(code: str) -> bool:
    """Whether ``code`` calls anything that reads or writes a file (a cheap test before parsing)."""
    return _FILE_CALL.search(code) is not None
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class DataRead:
    """One literal path the exported code reads, and where."""

    path: str  # as written in the code (or the parameter's default)
    reader: str  # the function name, e.g. "read_csv"
    where: str  # "step 'load', cell 5" | "functions" | "imports"
    via: str | None = None  # "parameter data_path" when the path is a parameter's default


class PathResolver:
    """Resolves path expressions to text, statement by statement, learning the names code assigns.

    ``parameters`` are the notebook's parameters with literal defaults (strings are paths; numbers
    may appear in an f-string). A name assigned a resolvable path (``DATA = "data/"``) resolves to it
    until it is assigned anything else.
    """

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        self.known: dict[str, Any] = {
            k: v for k, v in (parameters or {}).items() if isinstance(v, str | int | float)
        }
        self.via: dict[str, str] = {k: f"parameter {k}" for k in self.known}

    def learn(self, stmt: ast.stmt) -> None:
        """Remember ``name = <path>`` at top level; forget names assigned anything else."""
        if isinstance(stmt, ast.Expr):
            return  # binds nothing (a walrus aside)
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name = stmt.targets[0].id
            found = _path_literal(stmt.value, self)
            if found is not None:
                self.known[name] = found[0]
                self.via.pop(name, None)
                if found[1]:
                    self.via[name] = found[1]
                return
        if not self.known:
            return
        for node in tree_nodes(stmt):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                self.known.pop(node.id, None)
                self.via.pop(node.id, None)

    def files(self, stmt: ast.AST) -> tuple[list[tuple[ast.Call, str, str, str | None]], list[tuple[ast.Call, str, str]]]:
        """(reads, writes) of the calls in ``stmt``: (call, path, reader or writer, via)."""
        reads, writes = [], []
        for node in tree_nodes(stmt):
            if isinstance(node, ast.Call):
                read = _read_of_call(node, self)
                if read is not None:
                    reads.append((node, *read))
                written = _write_of_call(node, self)
                if written is not None:
                    writes.append((node, *written))
        return reads, writes


def find_reads(code: str, where: str, parameters: Mapping[str, Any] | None = None) -> list[DataRead]:
    """The literal data paths ``code`` reads; code that does not parse yields none."""
    return [read for _, read, _ in _scan(code, where, PathResolver(parameters))[0]]


def find_writes(code: str, parameters: Mapping[str, Any] | None = None) -> list[str]:
    """The paths ``code`` writes files to (as written, resolved like reads)."""
    return [path for _, path in _scan(code, "", PathResolver(parameters))[1]]


def _scan(
    code: str, where: str, resolver: PathResolver
) -> tuple[list[tuple[tuple[int, int], DataRead, str]], list[tuple[tuple[int, int], str]]]:
    if not mentions_files(code):
        return [], []
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return [], []
    cells = _cell_of_line(code)
    reads: list[tuple[tuple[int, int], DataRead, str]] = []
    writes: list[tuple[tuple[int, int], str]] = []
    for stmt in tree.body:
        found_reads, found_writes = resolver.files(stmt)
        for node, path, reader, via in found_reads:
            cell = cells.get(node.lineno)
            place = f"{where}, cell {cell}" if cell is not None else where
            reads.append(((node.lineno, node.col_offset), DataRead(path, reader, place, via), path))
        writes += [((node.lineno, node.col_offset), path) for node, path, _ in found_writes]
        resolver.learn(stmt)
    reads.sort(key=lambda item: item[0])  # in reading order
    writes.sort()
    return reads, writes


def plan_reads(plan: Plan) -> list[DataRead]:
    """Every data path the plan's exported code (imports, functions, steps) reads from outside the
    pipeline: a file an earlier statement of the pipeline writes is its own, not a data file."""
    params = {p.name: p.default for p in plan.parameters}
    reads: list[DataRead] = []
    written: set[str] = set()
    parts = [(plan.header, "imports"), (plan.functions, "functions")]
    parts += [(step.code, f"step {step.name!r}") for step in plan.steps]
    for code, where in parts:
        found_reads, found_writes = _scan(code, where, PathResolver(params))
        events = [(pos, 1, read, path) for pos, read, path in found_reads]
        events += [(pos, 0, None, path) for pos, path in found_writes]
        for _, _, read, path in sorted(events, key=lambda e: (e[0], e[1])):
            key = posixpath.normpath(path)
            if read is None:
                written.add(key)
            elif key not in written:
                reads.append(read)
    return reads


def data_files(plan: Plan, root: Path | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Manifest entries (path, resolved, size, sha256) for the data the plan reads, and warnings."""
    base = plan.notebook.path.parent
    entries: list[dict[str, Any]] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for read in plan_reads(plan):
        for entry in _entries(read, base, root):
            key = entry.get("resolved", entry["path"])
            if key in seen:
                continue
            seen.add(key)
            entries.append(entry)
            if entry.get("missing"):
                warnings.append(
                    f"{plan.notebook.display_path}: {read.where} reads {read.path!r}, which does not "
                    f"exist ({entry['resolved']}); the manifest records it as missing."
                )
    return entries, warnings


def _entries(read: DataRead, base: Path, root: Path | None) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {"path": read.path, "reader": read.reader, "where": read.where}
    if read.via:
        entry["via"] = read.via
    if "://" in read.path:
        return [{**entry, "remote": True}]
    written = Path(read.path).expanduser()
    target = written if written.is_absolute() else base / written
    if _GLOB.search(read.path):
        matches = sorted(Path(m) for m in glob.glob(str(target), recursive=True))
        if matches:
            return [{**entry, **_facts(m, root)} for m in matches]
    return [{**entry, **_facts(target, root)}]


def _facts(path: Path, root: Path | None) -> dict[str, Any]:
    facts: dict[str, Any] = {"resolved": display_path(path, root)}
    if path.is_file():
        facts.update(size=path.stat().st_size, sha256=sha256_file(path))
    elif path.is_dir():  # a parquet dataset, an image folder: hash the listing and every file
        digest = hashlib.sha256()
        files = sorted(p for p in path.rglob("*") if p.is_file())
        for p in files:
            digest.update(f"{p.relative_to(path).as_posix()}\0{sha256_file(p)}\n".encode())
        facts.update(directory=True, files=len(files), size=sum(p.stat().st_size for p in files),
                     sha256=digest.hexdigest())
    else:
        facts["missing"] = True
    return facts


def _write_of_call(call: ast.Call, params: PathResolver) -> tuple[str, str] | None:
    """(path, writer) when ``call`` writes a file at a path the code spells out."""
    func = call.func
    name = _callee(call)
    if name is None:
        return None
    if isinstance(func, ast.Attribute) and name in PATH_WRITE_METHODS | {"open"}:
        receiver = _path_literal(func.value, params)
        if receiver is not None and (name != "open" or _writes(call, mode_position=0)):
            return receiver[0], f"Path.{name}"
    if name == "open" and isinstance(func, ast.Name):
        argument = call.args[0] if call.args else _keyword(call, ("file",))
        if argument is not None and _writes(call, mode_position=1):
            literal = _path_literal(argument, params)
            return None if literal is None else (literal[0], "open")
        return None
    if name not in WRITERS:
        return None
    position, keywords = WRITERS[name]
    if name == "save" and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        position = 1 if func.value.id == "torch" else position
    argument = call.args[position] if len(call.args) > position else _keyword(call, keywords)
    literal = None if argument is None else _path_literal(argument, params)
    return None if literal is None else (literal[0], name)


def _read_of_call(call: ast.Call, params: PathResolver) -> tuple[str, str, str | None] | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name is None:
        return None
    if isinstance(func, ast.Attribute) and name in PATH_METHODS:
        receiver = _path_literal(func.value, params)  # Path("x").read_text(), Path("x").open()
        if receiver is not None:
            if name == "open" and _writes(call, mode_position=0):
                return None
            return receiver[0], f"Path.{name}", receiver[1]
    if name not in READERS:
        return None
    argument = call.args[0] if call.args else _keyword(call, PATH_KEYWORDS)
    if argument is None or (name == "open" and _writes(call, mode_position=1)):
        return None
    literal = _path_literal(argument, params)
    return None if literal is None else (literal[0], name, literal[1])


def _path_literal(node: ast.expr, params: PathResolver) -> tuple[str, str | None] | None:
    """``"x"``, ``Path("x")``, ``Path("d") / "x"``, a string parameter or a name assigned a path,
    ``a + "x"``, ``f"{a}/x"``, ``os.path.join(a, "x")``: (path, via)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value, None
    if isinstance(node, ast.Name) and isinstance(params.known.get(node.id), str):
        return params.known[node.id], params.via.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _path_literal(node.left, params), _path_literal(node.right, params)
        if left and right:
            return left[0] + right[0], left[1] or right[1]
        return None
    if isinstance(node, ast.JoinedStr):
        return _fstring(node, params)
    if (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join"
        and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "path" and node.args
        and not node.keywords
    ):  # os.path.join(a, "x")
        parts = [_path_literal(a, params) for a in node.args]
        if all(parts):
            found = [p for p in parts if p]
            return posixpath.join(*(p[0] for p in found)), next((p[1] for p in found if p[1]), None)
        return None
    if isinstance(node, ast.Call) and _callee(node) in PATH_CONSTRUCTORS and node.args:
        parts = [_path_literal(a, params) for a in node.args]
        if all(parts):
            found = [p for p in parts if p]
            return "/".join(p[0] for p in found), next((p[1] for p in found if p[1]), None)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left, right = _path_literal(node.left, params), _path_literal(node.right, params)
        if left and right and _is_path_expr(node.left):
            return f"{left[0]}/{right[0]}", left[1] or right[1]
    return None


def _fstring(node: ast.JoinedStr, params: PathResolver) -> tuple[str, str | None] | None:
    """``f"{data_dir}/x_{year}.csv"`` when every placeholder is a known path or number, unformatted."""
    text, via = [], None
    for value in node.values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            text.append(value.value)
        elif (
            isinstance(value, ast.FormattedValue) and value.format_spec is None and value.conversion == -1
            and isinstance(value.value, ast.Name) and value.value.id in params.known
        ):
            text.append(str(params.known[value.value.id]))
            via = via or params.via.get(value.value.id)
        else:
            return None
    return "".join(text), via


def _is_path_expr(node: ast.expr) -> bool:
    if isinstance(node, ast.Call):
        return _callee(node) in PATH_CONSTRUCTORS
    return isinstance(node, ast.BinOp) and _is_path_expr(node.left)


def _callee(call: ast.Call) -> str | None:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def _keyword(call: ast.Call, names: tuple[str, ...]) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg in names), None)


def _writes(call: ast.Call, mode_position: int) -> bool:
    """Whether an ``open`` call's literal mode writes without reading (``"w"``, ``"a"``, ``"x"``)."""
    mode = call.args[mode_position] if len(call.args) > mode_position else _keyword(call, ("mode",))
    if not (isinstance(mode, ast.Constant) and isinstance(mode.value, str)):
        return False
    return any(c in mode.value for c in "wax") and "+" not in mode.value


def _cell_of_line(code: str) -> dict[int, int]:
    """Line number -> notebook cell index, from the ``# cell N`` marks step code carries."""
    cells: dict[int, int] = {}
    current: int | None = None
    for number, line in enumerate(code.splitlines(), 1):
        if match := _CELL_MARK.match(line.strip()):
            current = int(match.group(1))
        if current is not None:
            cells[number] = current
    return cells
