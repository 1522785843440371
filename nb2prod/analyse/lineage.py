"""Data lineage: which files the exported code reads, so a manifest can say what a version was built on.

Found statically, never by running anything: a call whose function's last name is in :data:`READERS`
(``pd.read_csv``, ``np.load``, ``open``, ...) and whose path argument is a string literal, a
``Path("...")`` literal, or a parameter with a string default. Paths resolve against the notebook's
folder, the working directory of both the notebook and its pipeline. A file that is not there is
recorded as missing and warned about, never an error: data often lives only on the training machine.
"""

from __future__ import annotations

import ast
import glob
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2prod._hashing import sha256_file
from nb2prod.analyse.plan import Plan
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
PATH_KEYWORDS = ("filepath_or_buffer", "path", "file", "fname", "filename", "path_or_buf", "io", "source")
PATH_CONSTRUCTORS = frozenset({"Path", "PurePath", "PosixPath", "WindowsPath"})
PATH_METHODS = frozenset({"open", "read_text", "read_bytes"})  # Path("x").read_text()
_CELL_MARK = re.compile(r"^# cell (\d+)$")
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class DataRead:
    """One literal path the exported code reads, and where."""

    path: str  # as written in the code (or the parameter's default)
    reader: str  # the function name, e.g. "read_csv"
    where: str  # "step 'load', cell 5" | "functions" | "imports"
    via: str | None = None  # "parameter data_path" when the path is a parameter's default


def find_reads(code: str, where: str, parameters: Mapping[str, str] | None = None) -> list[DataRead]:
    """The literal data paths ``code`` reads; code that does not parse yields none."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    cells = _cell_of_line(code)
    params = dict(parameters or {})
    reads = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        found = _read_of_call(node, params)
        if found is None:
            continue
        path, reader, via = found
        cell = cells.get(node.lineno)
        place = f"{where}, cell {cell}" if cell is not None else where
        reads.append(((node.lineno, node.col_offset), DataRead(path, reader, place, via)))
    return [read for _, read in sorted(reads, key=lambda item: item[0])]  # in reading order


def plan_reads(plan: Plan) -> list[DataRead]:
    """Every literal data path the plan's exported code (imports, functions, steps) reads."""
    params = {p.name: p.default for p in plan.parameters if isinstance(p.default, str)}
    reads = find_reads(plan.header, "imports", params) + find_reads(plan.functions, "functions", params)
    for step in plan.steps:
        reads += find_reads(step.code, f"step {step.name!r}", params)
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


def _read_of_call(call: ast.Call, params: dict[str, str]) -> tuple[str, str, str | None] | None:
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


def _path_literal(node: ast.expr, params: dict[str, str]) -> tuple[str, str | None] | None:
    """``"x"``, ``Path("x")``, ``Path("d") / "x"``, or a string parameter: (path, via)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value, None
    if isinstance(node, ast.Name) and node.id in params:
        return params[node.id], f"parameter {node.id}"
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
