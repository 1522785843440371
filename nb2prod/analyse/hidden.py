"""What skipped and unexported cells still give the pipeline: the imports exported code needs.

Real notebooks import a library in the cell that first needs it, and that cell is often a skipped
plot or a setup cell before the first step. Such an import is not computation: when exported code
reads a name only a hidden import binds, the import is lent to the module header, and the build says
so. A hidden *definition* of anything else stays an error (the pipeline never runs that cell).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from nb2prod.analyse.names import Event, statement_events

if TYPE_CHECKING:
    from nb2prod.analyse.cells import CellCode, FlowState


def hidden_statement(flow: FlowState, p: CellCode, stmt: ast.stmt, events: list[Event]) -> None:
    """A skipped or unexported statement: its definitions are hidden; its imports may be lent."""
    source = None
    if isinstance(stmt, ast.Import | ast.ImportFrom) and not any(a.name == "*" for a in stmt.names):
        source = ast.get_source_segment(p.code, stmt) or ast.unparse(stmt)
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
        flow.warnings.append(
            f"{flow.nb.display_path}, cell {cell}: {source!r} is in a cell that is not exported; "
            f"{reader} needs {name!r}, so the import goes to the module header."
        )
    flow.module_names.update(e.name for e in statement_events(stmt) if e.kind == "write")
    return True
