"""One parity case as plain data: which notebook, which version, which targets, which parameters.

Lower than the harness that runs it, so the reproducibility check and the Dask worker can name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

ParamSet = tuple[str, dict[str, Any]]
DEFAULT_SETS: list[ParamSet] = [("defaults", {})]


@dataclass(frozen=True)
class TargetSpec:
    name: str
    kind: str  # "parity" | "metric"
    cell: int
    expression: bool = False  # the cell's last expression is the value (no name in the notebook)


@dataclass(frozen=True)
class ParityJob:
    """Everything one case needs; plain data, so it can be shipped to another process."""

    notebook: Path
    display: str
    name: str
    version: str
    out_dir: Path
    targets: tuple[TargetSpec, ...]
    param_id: str
    params: dict[str, Any]
    evidence: Path

    @property
    def module(self) -> str:
        return f"{self.out_dir.name}.{self.name}.{self.version}.pipeline"
