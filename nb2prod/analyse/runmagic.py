"""``%run helpers.py``: a script beside the notebook whose names later cells use.

In Jupyter ``%run`` executes the file in the kernel's namespace; a pipeline gets the same names by
importing the module, ``from helpers import add_ratio, SCALE`` in its header. The file is read, never
run, and the magic becomes that import only where the import means the same: a plain ``%run NAME.py``
(no options, no arguments for ``sys.argv``) of a file in the notebook's own folder, that parses, binds
its names at top level (no star import of its own), has no ``if __name__ == "__main__":`` block
(an import skips it) and that no cell writes (the header would import it before it exists).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nb2prod.analyse.names import statement_events
from nb2prod.read.magics import mask_magics

if TYPE_CHECKING:
    from nb2prod.analyse.cells import CellCode
    from nb2prod.analyse.dataflow import DataFlow

_RUN = re.compile(r"^\s*%run\s+(?P<rest>.*?)\s*$")
_PLAIN = re.compile(r"^(?P<q>['\"]?)(?P<file>[A-Za-z_]\w*\.py)(?P=q)$")


@dataclass(frozen=True)
class RunMagic:
    """One ``%run`` line of a cell, and the import it becomes (None: why it cannot)."""

    line: int  # 1-based, inside the cell
    text: str  # the magic as written
    source: str | None  # `from helpers import a, b`
    names: tuple[str, ...]
    reason: str  # why it stays a magic nb2prod cannot see through ("" when it becomes the import)

    @property
    def statement(self) -> ast.ImportFrom:
        node = ast.parse(self.source or "").body[0]
        assert isinstance(node, ast.ImportFrom)
        return node


def run_magics(source: str, folder: Path, written_modules: frozenset[str] = frozenset()) -> list[RunMagic]:
    """The cell's ``%run`` lines, each with its import or the reason it has none."""
    if "%run" not in source:
        return []
    lines = source.splitlines()
    found = []
    for line in mask_magics(source).magic_lines:
        match = _RUN.match(lines[line - 1])
        if match is None:
            continue
        text = lines[line - 1].strip()
        source_, names, reason = _as_import(match.group("rest"), folder, written_modules)
        found.append(RunMagic(line, text, source_, names, reason))
    return found


def bind_run_magics(flow: DataFlow, p: CellCode, unexported: bool) -> None:
    """The names a cell's ``%run`` binds, as module-level names the header imports (lent to it,
    like a hidden cell's import, when the cell is not exported)."""
    for run in run_magics(p.cell.source, flow.nb.path.parent, flow.written_modules):
        if not run.source:
            continue  # (a read of a name it would define is explained by `undefined`)
        for name in run.names:
            if unexported:
                flow.run_texts[run.source] = run.text
                flow.hidden_imports[name] = (p.cell.index, run.source, run.statement)
                flow._event(p, "write", name, run.line, module=False)
            else:
                flow.module_names.add(name)
                flow._event(p, "write", name, run.line, module=True)
        if not unexported:
            flow.borrowed.setdefault(p.cell.index, {})[run.source] = None
            flow.warnings.append(
                f"{flow.nb.display_path}, cell {p.cell.index}: `{run.text}` becomes "
                f"{run.source!r} in the module header (the pipeline imports what the notebook ran)."
            )


def _as_import(rest: str, folder: Path, written: frozenset[str]) -> tuple[str | None, tuple[str, ...], str]:
    plain = _PLAIN.match(rest)
    if plain is None:
        return None, (), "it passes options or arguments, or runs a file outside the notebook's folder"
    file = plain.group("file")
    module = file[:-3]
    if module in written:
        return None, (), f"a cell writes {file}, so the module header could not import it"
    try:
        tree = ast.parse((folder / file).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, (), f"{file} is not in the notebook's folder"
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None, (), f"{file} could not be read as Python"
    names: dict[str, None] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.If) and "__main__" in ast.unparse(stmt.test):
            return None, (), f"{file} has an `if __name__ == \"__main__\":` block, which an import skips"
        names.update((e.name, None) for e in statement_events(stmt) if e.kind == "write" and not e.in_place)
    if "*" in names:
        return None, (), f"{file} makes a star import of its own, so its names are unknown"
    if not names:
        return None, (), f"{file} defines no names"
    return f"from {module} import {', '.join(names)}", tuple(names), ""
