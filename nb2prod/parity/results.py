"""What a parity run found: plain dataclasses shared by the harness, the comparer and the reporters.

One :class:`ParityReport` owns the counters and the exit code (black's ``report.py`` habit): the CLI asks
it, every reporter reads it, nobody recounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from nb2prod.errors import EXIT_CHECK_FAILED, EXIT_EXECUTION_FAILED, EXIT_OK, ExecutionError

if TYPE_CHECKING:
    from nb2prod.analyse.randomness import RandomnessHint

TargetKind = Literal["parity", "metric"]
#: "failed": the pipeline diverged from a notebook that reproduces itself (or was not re-run);
#: "not reproducible": a second notebook run disagreed with the first, so the mismatch proves nothing.
CaseStatus = Literal["passed", "failed", "not reproducible", "error"]
TargetStatus = Literal["passed", "failed", "not reproducible"]


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
    labels: tuple[str, str] = ("notebook", "pipeline")  # what the two compared sides are called

    def relabel(self, first: str, second: str) -> Mismatch:
        """The same difference between two other sides (two runs of the notebook, say)."""
        a, b = self.labels
        reason = self.reason.replace(f": {a} ", f": {first} ").replace(f", {b} ", f", {second} ")
        return replace(self, reason=reason, labels=(first, second))

    def describe(self) -> str:
        """Multi-line, human text used verbatim by every reporter."""
        a, b = self.labels
        lines = [f"{self.target}: {self.reason}"]
        if self.notebook_shape is not None or self.pipeline_shape is not None:
            lines.append(f"  shape: {a} {self.notebook_shape}, {b} {self.pipeline_shape}")
        if self.n_different is not None:
            total = f" of {self.n_total}" if self.n_total is not None else ""
            lines.append(f"  differing elements: {self.n_different}{total}")
        if self.max_abs_diff is not None:
            lines.append(f"  largest absolute difference: {self.max_abs_diff:.6g}")
        if self.first_position is not None:
            at = f"  first difference at {self.first_position}"
            if self.notebook_value is not None or self.pipeline_value is not None:
                at += f": {a} {self.notebook_value}, {b} {self.pipeline_value}"
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
    # After a mismatch the notebook runs once more (same parameters, same seed): None when it did
    # not, True when both runs agreed (so the pipeline diverged), False when they did not.
    reproducible: bool | None = None
    seed: int | None = None  # the --seed both notebook runs had
    moved: list[Mismatch] = field(default_factory=list)  # targets that differ between the two runs
    rerun_evidence: str | None = None  # the second executed notebook
    hints: list[RandomnessHint] = field(default_factory=list)  # unseeded randomness, after a re-run
    # The files each side wrote into its own working folder, kept as <evidence>-files/<side>/.
    written_files: str | None = None
    # train.gates.GateResult of this run's metrics (set by `nb2prod test` from [tool.nb2prod.gates])
    gates: list[Any] = field(default_factory=list)

    @property
    def gate_failures(self) -> list[Any]:
        return [g for g in self.gates if not g.passed]

    @property
    def status(self) -> CaseStatus:
        if self.error is not None:
            return "error"
        if not self.failures:
            return "passed"
        return "not reproducible" if self.reproducible is False else "failed"

    def verdict(self, target: TargetResult) -> TargetStatus:
        """The one verdict on ``target`` that every reporter shows.

        "passed": notebook and pipeline agreed and the target did not move between notebook runs.
        Otherwise, once a second notebook run disagreed with the first, "not reproducible": a
        target that moved proves nothing even where it happened to match the pipeline, and a
        mismatch in a notebook that disagrees with itself says nothing about the generated code.
        Else "failed" (the pipeline diverged, or the notebook was not run again).
        """
        if target.passed and target.name not in {m.target for m in self.moved}:
            return "passed"
        return "not reproducible" if self.reproducible is False else "failed"

    @property
    def failures(self) -> list[TargetResult]:
        """The targets whose verdict is not "passed" (mismatches, and targets that moved)."""
        return [t for t in self.targets if self.verdict(t) != "passed"]


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
        if self.count("failed") or self.count("not reproducible") or self.gates_failed:
            return EXIT_CHECK_FAILED
        return EXIT_OK

    @property
    def gates_failed(self) -> int:
        """Failed gate rules over all cases: a model that may not be promoted fails the run."""
        return sum(len(c.gate_failures) for c in self.cases)

    def summary_line(self) -> str:
        empty = sum(1 for c in self.cases if c.error is None and not c.targets)
        passed = f"{self.count('passed')} passed" + (f" ({empty} with nothing compared)" if empty else "")
        parts = [passed, f"{self.count('failed')} failed"]
        if self.count("not reproducible"):
            parts.append(f"{self.count('not reproducible')} not reproducible")
        if self.gates_failed:
            parts.append(f"{self.gates_failed} gate{'s' if self.gates_failed > 1 else ''} failed")
        errors = self.count("error")
        if errors:
            parts.append(f"{errors} error{'s' if errors > 1 else ''}")
        return ", ".join(parts) + f" in {self.duration:.1f}s"
