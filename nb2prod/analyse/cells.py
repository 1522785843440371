"""A cell as the analysis sees it, and the part of the data flow that its helpers read.

Below ``dataflow`` so that the helpers it calls (``closures``, ``hidden``) can name both without
importing it back.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Protocol

from nb2prod.read.notebook import Cell, SourceNotebook

MODULE_ROLES = ("imports", "functions")


@dataclass
class CellCode:
    """One cell after masking and parsing: its role, tree, and what stays where."""

    cell: Cell
    role: str  # "step", "parameters", "imports", "functions", "skip", "unexported", "metrics"
    step: str | None
    tree: ast.Module | None
    code: str  # masked code
    kept: list[ast.stmt] = field(default_factory=list)  # statements that stay in place
    hoisted: list[str] = field(default_factory=list)  # import statements moved to the header
    drop_lines: set[int] = field(default_factory=set)
    hoist_candidates: list[ast.stmt] = field(default_factory=list)  # a step's top-level imports
    hoisted_ids: set[int] = field(default_factory=set)  # id() of the statements in `hoisted`
    writes_file: str | None = None  # `%%writefile PATH`: the file the cell writes
    lent_writes: list[tuple[int, str]] = field(default_factory=list)  # skipped module writes it needs

    def is_hoisted(self, stmt: ast.stmt) -> bool:
        return id(stmt) in self.hoisted_ids


class FlowState(Protocol):
    """What ``closures`` and ``hidden`` read and record on :class:`~nb2prod.analyse.dataflow.DataFlow`."""

    nb: SourceNotebook
    warnings: list[str]
    module_names: set[str]
    written_modules: Any
    hidden_imports: dict[str, tuple[int, str, ast.stmt]]
    borrowed: dict[int, dict[str, None]]
    global_functions: dict[str, tuple[CellCode, ast.FunctionDef | ast.AsyncFunctionDef]]
    effects: dict[str, tuple[tuple[str, bool], ...]]
    relocated: dict[str, dict[str, None]]

    def _event(self, p: CellCode, kind: str, name: str, line: int, *, module: bool) -> None: ...
