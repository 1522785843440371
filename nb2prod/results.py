"""What a parity run found: plain dataclasses shared by the harness, the comparer and the reporters.

One :class:`ParityReport` owns the counters and the exit code (black's ``report.py`` habit): the CLI asks
it, every reporter reads it, nobody recounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from nb2prod.errors import EXIT_CHECK_FAILED, EXIT_EXECUTION_FAILED, EXIT_OK, ExecutionError

TargetKind = Literal["parity", "metric"]
CaseStatus = Literal["passed", "failed", "error"]


@dataclass(frozen=True)
class Mismatch:
    """Why a notebook value and a pipeline value disagree, in the terms DESIGN.md promises."""

    target: str
    reason: str  # one sentence: "values differ", "shape differs", "dtype kind differs", ...
    notebook_shape: tuple[int, ...] | None = None
    pipeline_shape: tuple[int, ...] | None = None
    n_different: int | None = None
    n_total: int | None = None
    max_abs_diff: float | None = None
    first_position: str | None = None  # "[3]", "row 'a', column 'x'", "['key'][2]"
    notebook_value: str | None = None  # short repr at first_position
    pipeline_value: str | None = None

    def describe(self) -> str:
        """Multi-line, human text used verbatim by every reporter."""
        lines = [f"{self.target}: {self.reason}"]
        if self.notebook_shape is not None or self.pipeline_shape is not None:
            lines.append(f"  shape: notebook {self.notebook_shape}, pipeline {self.pipeline_shape}")
        if self.n_different is not None:
            total = f" of {self.n_total}" if self.n_total is not None else ""
            lines.append(f"  differing elements: {self.n_different}{total}")
        if self.max_abs_diff is not None:
            lines.append(f"  largest absolute difference: {self.max_abs_diff:.6g}")
        if self.first_position is not None:
            at = f"  first difference at {self.first_position}"
            if self.notebook_value is not None or self.pipeline_value is not None:
                at += f": notebook {self.notebook_value}, pipeline {self.pipeline_value}"
            lines.append(at)
        return "\n".join(lines)


@dataclass(frozen=True)
class TargetResult:
    """One ``parity:`` or ``metric:`` variable of one parameter set."""

    name: str
    kind: TargetKind
    cell: int | None
    mismatch: Mismatch | None = None
    notebook_summary: str = ""  # short repr of the notebook's value ("ndarray float64 (89,)")
    pipeline_summary: str = ""
    # Paired numeric samples (notebook, pipeline) for the HTML scatter plot; None for non-numeric targets.
    plot_points: tuple[tuple[float, ...], tuple[float, ...]] | None = None

    @property
    def passed(self) -> bool:
        return self.mismatch is None


@dataclass
class CaseResult:
    """One notebook x one parameter set."""

    notebook: str  # path relative to the project root, as users wrote it
    name: str  # module name under generated/
    version: str | None  # generated version that ran, e.g. "v2"
    param_id: str  # "defaults", "alpha=0.3", or the set's name from the config
    params: dict[str, Any]
    targets: list[TargetResult] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)  # notebook's metric values (JSON-able)
    error: ExecutionError | None = None
    evidence: str | None = None  # executed notebook kept as evidence
    timings: dict[str, float] = field(default_factory=dict)  # "notebook", "pipeline", "compare" seconds

    @property
    def status(self) -> CaseStatus:
        if self.error is not None:
            return "error"
        return "passed" if all(t.passed for t in self.targets) else "failed"

    @property
    def failures(self) -> list[TargetResult]:
        return [t for t in self.targets if not t.passed]


@dataclass
class ParityReport:
    """Every case of one ``nb2prod test`` run; owns the verdict."""

    cases: list[CaseResult] = field(default_factory=list)
    rtol: float = 1e-7
    atol: float = 0.0
    duration: float = 0.0

    def count(self, status: CaseStatus) -> int:
        return sum(1 for c in self.cases if c.status == status)

    @property
    def exit_code(self) -> int:
        if self.count("error"):
            return EXIT_EXECUTION_FAILED
        if self.count("failed"):
            return EXIT_CHECK_FAILED
        return EXIT_OK

    def summary_line(self) -> str:
        parts = [f"{self.count('passed')} passed", f"{self.count('failed')} failed"]
        errors = self.count("error")
        if errors:
            parts.append(f"{errors} error{'s' if errors > 1 else ''}")
        return ", ".join(parts) + f" in {self.duration:.1f}s"
