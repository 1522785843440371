"""``nb2prod run``: papermill execution of one notebook with typed parameters, kept as evidence."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nb2prod.analyse.planner import module_name, notebook_parameters
from nb2prod.execute.params import param_hash, resolve
from nb2prod.read.notebook import (
    directive_parameters_cell,
    load_notebook,
    mark_runs_folder,
    read_notebook_node,
)


@dataclass(frozen=True)
class RunResult:
    display: str
    output: Path
    cells: int
    duration: float
    params: dict[str, Any]


def default_output(runs_dir: Path, notebook: Path, params: dict[str, Any]) -> Path:
    """``runs/<name>/<UTC timestamp>-<parameter hash>.ipynb``: sortable, and never overwritten."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return runs_dir / module_name(notebook) / f"{stamp}-{param_hash(params)}.ipynb"


def run_notebook(
    path: Path,
    raw_params: dict[str, Any],
    *,
    output: Path | None = None,
    runs_dir: Path | None = None,
    timeout: float | None = None,
    seed: int | None = None,
    progress: bool = True,
) -> RunResult:
    """Execute ``path`` with parameters checked and typed against its parameters cell."""
    from nb2prod.config import load_config
    from nb2prod.execute.engine import execute_notebook

    source = load_notebook(path)
    defaults = {p.name: p.default for p in notebook_parameters(source)}
    params = resolve(raw_params, defaults, source=source.display_path)
    if output is None:
        output = default_output(runs_dir or load_config().root / "runs", path, params)
        mark_runs_folder(output.parent.parent)
    output.parent.mkdir(parents=True, exist_ok=True)
    nb = read_notebook_node(path)
    with tempfile.TemporaryDirectory(prefix="nb2prod-run-") as private:
        executed = execute_notebook(
            nb,
            path=path,
            params=params,
            output_path=output,
            captures=[],
            capture_dir=Path(private),
            timeout=timeout,
            progress=progress,
            seed=seed,
            parameters_cell=directive_parameters_cell(nb),
        )
    cells = sum(1 for c in nb.cells if c.cell_type == "code")
    return RunResult(source.display_path, output, cells, executed.duration, params)
