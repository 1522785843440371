"""What skipped and unexported cells still give the pipeline: the imports exported code needs.

Real notebooks import a library in the cell that first needs it, and that cell is often a skipped
plot or a setup cell before the first step. Such an import is not computation: when exported code
reads a name only a hidden import binds, the import is lent to the module header, and the build says
so; a hidden star import is lent when exported code reads a name nothing else binds (it may bind
it). A hidden *definition* of anything else stays an error (the pipeline never runs that cell).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from nb2prod.analyse.names import Event, statement_events

if TYPE_CHECKING:
    from nb2prod.analyse.cells import CellCode, FlowState
    from nb2prod.analyse.dataflow import DataFlow


def hidden_statement(flow: DataFlow, p: CellCode, stmt: ast.stmt, events: list[Event]) -> None:
    """A skipped or unexported statement: its definitions are hidden; its imports may be lent."""
    source = None
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        text = ast.get_source_segment(p.code, stmt) or ast.unparse(stmt)
        if any(a.name == "*" for a in stmt.names):
            flow.hidden_stars.append((p.cell.index, text))
        else:
            source = text
    for event in events:
        if event.kind in ("write", "del"):
            if source is not None and event.kind == "write":
                flow.hidden_imports[event.name] = (p.cell.index, source, stmt)
            else:
                flow.hidden_imports.pop(event.name, None)
        flow._event(p, event.kind, event.name, event.line, module=False)


def borrow(flow: FlowState, name: str, reader: str) -> bool:
    """Lend the header the hidden import that binds ``name``, unless it imports a module some
    cell of the notebook writes (the header would then fail to import in a fresh folder)."""
    cell, source, stmt = flow.hidden_imports[name]
    module = stmt.module if isinstance(stmt, ast.ImportFrom) else next(
        (a.name for a in stmt.names if (a.asname or a.name.split(".")[0]) == name), "")
    if (module or "").split(".")[0] in flow.written_modules or getattr(stmt, "level", 0):
        return False
    if source not in flow.borrowed.setdefault(cell, {}):
        flow.borrowed[cell][source] = None
        run = getattr(flow, "run_texts", {}).get(source)  # (`%run helpers.py`, as its import)
        what = f"`{run}` (that is, {source!r})" if run else repr(source)
        flow.warnings.append(
            f"{flow.nb.display_path}, cell {cell}: {what} is in a cell that is not exported; "
            f"{reader} needs {name!r}, so the import goes to the module header."
        )
    flow.module_names.update(e.name for e in statement_events(stmt) if e.kind == "write")
    return True


def borrow_stars(flow: DataFlow, name: str, reader: str) -> None:
    """A name nothing binds, after a hidden star import: lend the header every such import."""
    for cell, source in flow.hidden_stars:
        flow.borrowed.setdefault(cell, {})[source] = None
        flow.warnings.append(
            f"{flow.nb.display_path}, cell {cell}: {source!r} is in a cell that is not exported; "
            f"{reader} reads {name!r}, which no cell defines and the star import may, so the import "
            "goes to the module header."
        )
    if flow.hidden_stars:
        flow.star_import = True
        flow.hidden_stars.clear()
