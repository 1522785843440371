"""Reading notebooks: the only module that touches raw notebook JSON or jupytext text.

``.ipynb`` files go through nbformat (parsed and schema-validated); ``.py`` files are jupytext
percent-format notebooks, scripts ``jupyter nbconvert --to script`` wrote, or plain scripts (one
cell; :mod:`nb2prod.read.scripts`). Everything downstream sees
:class:`SourceNotebook`, never a dict.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2prod.errors import NotebookError
from nb2prod.read.headings import Heading, code_headings, markdown_headings
from nb2prod.read.tags import CellTags, late_directives, parse_tags, split_directive_lines

NOTEBOOK_SUFFIXES = (".ipynb", ".py")
#: papermill's tag for the cell it inserts after the parameters cell (Ploomber's task notebooks carry
#: one, holding the values their parameters cell only declares as None)
INJECTED_TAG = "injected-parameters"
_PERCENT_CELL = re.compile(r"^# %%", re.MULTILINE)
_MAIN_GUARD = re.compile(r"^if\s+__name__\s*==\s*['\"]__main__['\"]\s*:", re.MULTILINE)
_SKIPPED_DIRS = {".ipynb_checkpoints", "__pycache__", ".git", ".venv", "node_modules"}
#: In the folder nb2prod keeps executed notebooks in (``runs/``): a walk for notebooks skips it,
#: or ``nb2prod test .`` would test last run's evidence.
RUNS_MARKER = ".nb2prod-runs"


@dataclass(frozen=True)
class Cell:
    """A code cell as the pipeline sees it."""

    index: int  # position in the notebook's cell list, 0-based like nbformat's
    source: str  # the code, with `#|` directive lines blanked (line numbers kept)
    tags: CellTags
    title: str | None = None  # a percent cell's title (`# %% Train the model`)

    @property
    def injected(self) -> bool:
        """papermill's ``injected-parameters`` cell: its values are the parameters' defaults."""
        return INJECTED_TAG in self.tags.ignored


@dataclass(frozen=True)
class SourceNotebook:
    """A validated notebook: its code cells with parsed tags, and the facts lineage needs."""

    path: Path
    display_path: str  # what messages and manifests show (relative to the project root)
    cells: tuple[Cell, ...]
    sha256: str
    kernel_name: str | None
    language: str
    headings: tuple[Heading, ...] = ()  # every cell's headings, in order (inference reads them)
    warnings: tuple[str, ...] = ()  # e.g. a `#|` directive after code, which is not read
    plain_script: bool = False  # a .py file with no `# %%` markers, read as one cell


def display_path(path: Path, root: Path | None = None) -> str:
    """The path relative to ``root`` (default: the working directory), POSIX-style, when inside it."""
    root = (root or Path.cwd()).resolve()
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def find_notebooks(paths: Iterable[Path]) -> list[Path]:
    """Expand files and folders into notebook files, recursing and skipping checkpoints."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(_walk(path)))
        elif path.exists():
            found.append(path)
        else:
            raise NotebookError("no such file or folder.", path=str(path))
    return list(dict.fromkeys(found))


def _walk(folder: Path) -> Iterator[Path]:
    for child in sorted(folder.iterdir()):
        if child.is_dir():
            if child.name not in _SKIPPED_DIRS and not child.name.startswith(".") \
                    and not (child / RUNS_MARKER).exists():
                yield from _walk(child)
        elif child.suffix == ".ipynb" or (child.suffix == ".py" and looks_like_percent_notebook(child)):
            yield child


def mark_runs_folder(folder: Path) -> None:
    """Mark ``folder`` as where nb2prod keeps executed notebooks (evidence), so walks skip it."""
    marker = folder / RUNS_MARKER
    if not marker.exists():
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text("nb2prod keeps executed notebooks here; `nb2prod build/test FOLDER` skips "
                          "this folder.\n", encoding="utf-8")


def looks_like_percent_notebook(path: Path) -> bool:
    try:
        head = path.read_bytes()[:200_000].decode("utf-8", errors="replace")
    except OSError:
        return False
    return bool(_PERCENT_CELL.search(head))


def read_notebook_node(path: Path) -> Any:
    """The nbformat v4 ``NotebookNode`` of an ``.ipynb`` or percent ``.py`` file, validated."""
    shown = path.as_posix()
    try:
        data = path.read_bytes()
    except OSError as err:
        raise NotebookError(
            f"cannot read the file ({err.strerror}).",
            path=shown,
            hint="check the path and its permissions.",
        ) from None
    if path.suffix not in NOTEBOOK_SUFFIXES:
        raise NotebookError(
            f"unsupported file type {path.suffix or '(none)'!r}.",
            path=shown,
            hint="nb2prod reads .ipynb notebooks, jupytext percent-format .py files and plain .py scripts.",
        )
    if not data.strip():
        raise NotebookError(
            f"the file is empty ({len(data)} bytes), not a notebook.",
            path=shown,
            hint="open it in Jupyter and save it, or delete it.",
        )
    if b"\x00" in data[:8192]:
        kind = next((name for magic, name in _BINARY_MAGIC if data.startswith(magic)), "binary data")
        raise NotebookError(
            f"the file is binary ({kind}), not a notebook.",
            path=shown,
            hint="notebooks are UTF-8 JSON text; check that the right file has this name.",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _not_utf8(data, err, shown) from None
    if path.suffix == ".py":
        return _read_percent(text, shown)
    return _read_ipynb(text, shown)


_BINARY_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive, e.g. .xlsx or .docx"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x80", "a Python pickle"),
)


def _not_utf8(data: bytes, err: UnicodeDecodeError, shown: str) -> NotebookError:
    """Name the cell and line holding the first non-UTF-8 byte (an editor saved it as Latin-1)."""
    byte = data[err.start]
    cell = line = None
    file_line = data.count(b"\n", 0, err.start) + 1
    where = f"byte {err.start} (line {file_line} of the file)"
    try:
        raw = json.loads(data.decode("utf-8", errors="replace"))
        for index, c in enumerate(raw.get("cells", [])):
            source = c.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            if "\ufffd" in source:
                cell = index
                line = source[: source.index("\ufffd")].count("\n") + 1
                where = repr(source.splitlines()[line - 1].strip().replace("\ufffd", "?"))
                break
    except (ValueError, AttributeError, TypeError):
        pass
    return NotebookError(
        f"the file is not UTF-8 text: {where} holds byte {byte:#04x}, which suggests it was "
        "saved as Latin-1 or Windows-1252.",
        path=shown,
        cell=cell,
        line=line,
        hint=f"re-save it as UTF-8, e.g. `iconv -f latin1 -t utf-8 {shown} > fixed.ipynb`.",
    )


def _read_ipynb(text: str, shown: str) -> Any:
    import nbformat

    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise _bad_json(text, err, shown) from None
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise NotebookError(
            "the JSON is not a notebook (it has no 'cells').",
            path=shown,
            hint="nb2prod reads Jupyter notebooks; check that the right file has this name.",
        )
    major = raw.get("nbformat")
    if major != 4:
        raise NotebookError(
            f"nbformat {major} notebooks are not supported; nb2prod reads nbformat 4.",
            path=shown,
            hint=f"upgrade it: jupyter nbconvert --to notebook --inplace {shown}",
        )
    from nbformat.v4.rwbase import rejoin_lines

    node = rejoin_lines(nbformat.from_dict(raw))
    if _valid_at_once(node):
        return node
    try:
        nbformat.validate(node)
    except nbformat.ValidationError as err:
        cell = _cell_of_validation_error(err)
        field_path = [p for p in getattr(err, "absolute_path", []) or []]
        field_name = ".".join(str(p) for p in field_path[2:] if cell is not None) or ".".join(
            str(p) for p in field_path
        )
        what = f"field {field_name!r}: " if field_name else ""
        raise NotebookError(
            f"the notebook fails nbformat's schema: {what}{err.message}.",
            path=shown,
            cell=cell,
            hint="re-save it from Jupyter, or fix the named field.",
        ) from None
    return node


def _valid_at_once(node: Any) -> bool:
    """The schema check alone, for the common case: a notebook whose cell ids need no repair
    passes nbformat's own validator (``nbformat.validate`` first normalises ids, which costs more
    than the check on a build of a hundred notebooks). Anything else goes the full way, for its
    repairs and its error message."""
    from nbformat import ValidationError
    from nbformat.validator import get_validator

    minor = node.get("nbformat_minor", 0)
    if isinstance(minor, int) and minor >= 5:
        ids = [cell.get("id") for cell in node.get("cells", ())]
        if None in ids or len(set(ids)) != len(ids):
            return False
    try:
        validator = get_validator(version=4, version_minor=minor)
        if validator is None:
            return False
        validator.validate(node)
    except (ValidationError, AttributeError, TypeError, ValueError):
        return False
    return True


def _bad_json(text: str, err: json.JSONDecodeError, shown: str) -> NotebookError:
    """Say why the JSON breaks: a merge conflict, a cut-off file, or a syntax slip near cell N."""
    conflict = next(
        (n for n, line in enumerate(text.splitlines(), 1) if line.startswith(("<<<<<<< ", ">>>>>>> "))),
        None,
    )
    if conflict is not None:
        offset = sum(len(line) for line in text.splitlines(keepends=True)[: conflict - 1])
        cells_before = text.count('"cell_type"', 0, offset)
        near = f", in cell {cells_before - 1}" if cells_before else ""
        return NotebookError(
            f"the file holds git merge-conflict markers (line {conflict} of the file{near}), so "
            "it is not valid JSON.",
            path=shown,
            hint="resolve the conflict, e.g. with nbdime (`git mergetool --tool nbdime`), then "
            "build again.",
        )
    at = f"line {err.lineno}, column {err.colno} of the file"
    cells_before = text.count('"cell_type"', 0, err.pos)
    near = f", after cell {cells_before - 1}" if cells_before else ""
    if not text.rstrip().endswith("}"):
        return NotebookError(
            f"the file ends early, at {at}{near} (truncated: a full disk or an interrupted save?).",
            path=shown,
            hint="restore it from version control, or from Jupyter's .ipynb_checkpoints.",
        )
    before = text[: err.pos].rstrip()
    if err.msg.startswith("Expecting") and before.endswith(","):
        detail = f"a comma before {text[err.pos : err.pos + 1]!r} (JSON allows no trailing comma)"
    else:
        detail = err.msg
    return NotebookError(
        f"invalid JSON at {at}{near}: {detail}.",
        path=shown,
        hint="a hand edit or a bad merge left a stray or missing comma, bracket or quote there; "
        "fix it, or restore the file from version control.",
    )


def _cell_of_validation_error(err: Any) -> int | None:
    path = list(getattr(err, "absolute_path", []) or getattr(err, "path", []) or [])
    if len(path) >= 2 and path[0] == "cells" and isinstance(path[1], int):
        return path[1]
    return None


def _read_percent(text: str, shown: str) -> Any:
    if not _PERCENT_CELL.search(text):
        from nb2prod.read import scripts

        if scripts.is_nbconvert_script(text):
            return scripts.read_nbconvert_script(text)
        return scripts.read_plain_script(text, shown)
    import jupytext

    try:
        return jupytext.reads(text, fmt="py:percent")
    except Exception as err:  # jupytext raises many types for malformed headers
        raise NotebookError(
            f"jupytext cannot read it: {err}.",
            path=shown,
            hint="check the '# %%' cell headers (e.g. tags=[\"step:load\"]), or open and save it in "
            "Jupyter with jupytext.",
        ) from None


def load_notebook(path: Path, *, root: Path | None = None) -> SourceNotebook:
    """Read, validate and tag-parse one notebook."""
    node = read_notebook_node(path)
    shown = display_path(path, root)
    kernelspec = node.metadata.get("kernelspec") or {}
    language = (
        kernelspec.get("language") or (node.metadata.get("language_info") or {}).get("name") or "python"
    )
    if language.lower() != "python":
        raise NotebookError(
            f"the notebook's kernel language is {language!r}; nb2prod exports Python notebooks only.",
            path=shown,
            hint="switch the notebook to a Python kernel (Kernel > Change Kernel) and port its "
            "code, or leave it out of the paths given to nb2prod.",
        )
    cells = []
    headings: list[Heading] = []
    warnings: list[str] = []
    for index, cell in enumerate(node.cells):
        if cell.cell_type == "markdown":
            headings += markdown_headings(index, cell.source)
        if cell.cell_type != "code":
            continue
        directives, code = split_directive_lines(cell.source)
        raw_tags = list(cell.metadata.get("tags", [])) + directives
        title = cell.metadata.get("title") if isinstance(cell.metadata.get("title"), str) else None
        cells.append(Cell(index, code, parse_tags(raw_tags, path=shown, cell=index), title))
        headings += code_headings(index, cell.source, title)
        warnings += [
            f"{shown}, cell {index}, line {line}: `{text}` comes after code, so it is not read; "
            "move it into the comment lines at the top of the cell."
            for line, text in late_directives(code)
        ]
    plain = bool((node.metadata.get("nb2prod") or {}).get("plain_script"))
    main_guard = _MAIN_GUARD.search(cells[0].source) if plain and cells else None
    if main_guard:
        line = cells[0].source.count("\n", 0, main_guard.start()) + 1
        warnings.append(
            f"{shown}, cell 0, line {line}: `if __name__ == \"__main__\":` is false inside the "
            "generated pipeline, so that block does not run there; move its code to the top level."
        )
    return SourceNotebook(
        path=path,
        display_path=shown,
        cells=tuple(cells),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        kernel_name=kernelspec.get("name"),
        language="python",
        headings=tuple(headings),
        warnings=tuple(warnings),
        plain_script=plain,
    )


def injected_values(nb: Any) -> dict[str, Any]:
    """The literal assignments of a notebook node's ``injected-parameters`` cells, in order.

    papermill replaces that cell whenever it injects parameters; whoever injects a few must pass
    these along, or the notebook runs with its parameters cell's placeholders (often None).
    """
    import ast

    values: dict[str, Any] = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or INJECTED_TAG not in cell.metadata.get("tags", []):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                try:
                    values[stmt.targets[0].id] = ast.literal_eval(stmt.value)
                except ValueError:
                    continue
    return values


def directive_parameters_cell(nb: Any) -> int | None:
    """The cell a ``#| parameters`` comment marks: papermill only looks at metadata tags."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", []):
            directives, _ = split_directive_lines(cell.source)
            if directives and parse_tags(directives, path="", cell=index).parameters:
                return index
    return None
