"""Reading notebooks: the only module that touches raw notebook JSON or jupytext text.

``.ipynb`` files go through nbformat (parsed and schema-validated); ``.py`` files must be jupytext
percent-format notebooks. Everything downstream sees :class:`SourceNotebook`, never a dict.
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
from nb2prod.tags import CellTags, parse_tags, split_directive_lines

NOTEBOOK_SUFFIXES = (".ipynb", ".py")
_PERCENT_CELL = re.compile(r"^# %%", re.MULTILINE)
_SKIPPED_DIRS = {".ipynb_checkpoints", "__pycache__", ".git", ".venv", "node_modules"}


@dataclass(frozen=True)
class Cell:
    """A code cell as the pipeline sees it."""

    index: int  # position in the notebook's cell list, 0-based like nbformat's
    source: str  # the code, with `#|` directive lines blanked (line numbers kept)
    tags: CellTags


@dataclass(frozen=True)
class SourceNotebook:
    """A validated notebook: its code cells with parsed tags, and the facts lineage needs."""

    path: Path
    display_path: str  # what messages and manifests show (relative to the project root)
    cells: tuple[Cell, ...]
    sha256: str
    kernel_name: str | None
    language: str


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
            if child.name not in _SKIPPED_DIRS and not child.name.startswith("."):
                yield from _walk(child)
        elif child.suffix == ".ipynb" or (child.suffix == ".py" and looks_like_percent_notebook(child)):
            yield child


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
        raise NotebookError(f"cannot read the file ({err.strerror}).", path=shown) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise NotebookError(
            f"the file is not UTF-8 text (byte {err.start} is {data[err.start]:#04x}).",
            path=shown,
            hint="notebooks are UTF-8 JSON; re-save it from Jupyter.",
        ) from None
    if "\x00" in text:
        raise NotebookError("the file is binary, not a notebook.", path=shown)
    if path.suffix == ".py":
        return _read_percent(text, shown)
    if path.suffix != ".ipynb":
        raise NotebookError(
            f"unsupported file type {path.suffix or '(none)'!r}.",
            path=shown,
            hint="nb2prod reads .ipynb notebooks and jupytext percent-format .py files.",
        )
    return _read_ipynb(text, shown)


def _read_ipynb(text: str, shown: str) -> Any:
    import nbformat

    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        what = "the file ends early (truncated?)" if err.pos >= len(text) - 1 else "invalid JSON"
        raise NotebookError(
            f"{what}: {err.msg} at line {err.lineno}, column {err.colno}.",
            path=shown,
            hint="restore it from version control or re-save it from Jupyter.",
        ) from None
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise NotebookError("the JSON is not a notebook (no 'cells').", path=shown)
    major = raw.get("nbformat")
    if major != 4:
        raise NotebookError(
            f"nbformat {major} notebooks are not supported; nb2prod reads nbformat 4.",
            path=shown,
            hint=f"upgrade it: jupyter nbconvert --to notebook --inplace {shown}",
        )
    from nbformat.v4.rwbase import rejoin_lines

    node = rejoin_lines(nbformat.from_dict(raw))
    try:
        nbformat.validate(node)
    except nbformat.ValidationError as err:
        cell = _cell_of_validation_error(err)
        raise NotebookError(
            f"the notebook fails nbformat's schema: {err.message}.",
            path=shown,
            cell=cell,
            hint="re-save it from Jupyter, or fix the named field.",
        ) from None
    return node


def _cell_of_validation_error(err: Any) -> int | None:
    path = list(getattr(err, "absolute_path", []) or getattr(err, "path", []) or [])
    if len(path) >= 2 and path[0] == "cells" and isinstance(path[1], int):
        return path[1]
    return None


def _read_percent(text: str, shown: str) -> Any:
    if not _PERCENT_CELL.search(text):
        raise NotebookError(
            "this .py file is not a jupytext percent-format notebook (no '# %%' cell markers).",
            path=shown,
            hint="mark cells with '# %%' lines, or convert it: jupytext --to py:percent NOTEBOOK.ipynb",
        )
    import jupytext

    try:
        return jupytext.reads(text, fmt="py:percent")
    except Exception as err:  # jupytext raises many types for malformed headers
        raise NotebookError(f"jupytext cannot read it: {err}.", path=shown) from None


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
        )
    cells = []
    for index, cell in enumerate(node.cells):
        if cell.cell_type != "code":
            continue
        directives, code = split_directive_lines(cell.source)
        raw_tags = list(cell.metadata.get("tags", [])) + directives
        cells.append(Cell(index, code, parse_tags(raw_tags, path=shown, cell=index)))
    return SourceNotebook(
        path=path,
        display_path=shown,
        cells=tuple(cells),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        kernel_name=kernelspec.get("name"),
        language="python",
    )
