"""The build's intermediate representation: what analysis hands to code generation and versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nb2prod.read.notebook import SourceNotebook


@dataclass(frozen=True)
class Parameter:
    name: str
    default: Any
    type_name: str  # "int", "float", "str", "bool", "list", "dict", "NoneType", or the annotation
    literal: str  # the default as written in the notebook (re-emitted verbatim)
    cell: int
    injected: bool = False  # the default comes from papermill's `injected-parameters` cell


@dataclass(frozen=True)
class Target:
    """A ``parity:`` or ``metric:`` variable: its value right after ``cell`` is compared or recorded."""

    name: str
    kind: str  # "parity" | "metric" | "model"
    cell: int
    step: str | None  # the step whose return carries it; None for a parameter


@dataclass(frozen=True)
class Step:
    name: str
    function: str  # the Python function name (the step name, or `<name>_step` on a clash)
    cells: tuple[int, ...]
    code: str  # the cells' code, magics and display-only lines removed, one `# cell N` mark each
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    after: tuple[str, ...]  # explicit `after:` tags
    depends_on: tuple[str, ...]  # every step this one must run after (data, after:, in-place changes)
    files_written: tuple[str, ...] = ()  # files the step writes (paths as the code spells them)
    code_cells: tuple[int, ...] | None = None  # the cells that left code in it (None: all of cells)

    @property
    def exported_cells(self) -> tuple[int, ...]:
        """The cells its code comes from; ``cells`` are all the notebook cells of its section."""
        return self.cells if self.code_cells is None else self.code_cells


@dataclass(frozen=True)
class MetricFunction:
    """How a metric is computed from a prediction, when the code says it plainly (live quality)."""

    metric: str
    function: str  # qualified, e.g. "sklearn.metrics.r2_score"
    truth: str
    prediction: str


@dataclass(frozen=True)
class Inference:
    """The serving path: the ``inference`` steps in run order and what a request must bring."""

    steps: tuple[str, ...]
    payload: tuple[str, ...]  # inputs that are neither models nor parameters
    models: tuple[str, ...]  # the models the inference steps read
    parameters: tuple[str, ...]  # the parameters the inference steps read
    outputs: tuple[str, ...]  # parity targets the inference steps compute: predict()'s result
    metric_functions: tuple[MetricFunction, ...] = ()


@dataclass(frozen=True)
class Plan:
    """Everything code generation needs, and everything the manifest records."""

    notebook: SourceNotebook
    name: str  # module name under generated/
    header: str  # imports: `imports` cells, imports hoisted out of steps, imports lent by hidden cells
    functions: str  # `functions` cells, verbatim apart from masked magics
    parameters: tuple[Parameter, ...]
    steps: tuple[Step, ...]  # in run order
    targets: tuple[Target, ...]
    imported_modules: tuple[str, ...]  # top-level modules the exported code imports
    unexported_cells: tuple[int, ...]  # untagged cells before the first step
    skipped_cells: tuple[int, ...]
    warnings: tuple[str, ...] = field(default=())
    models: tuple[Target, ...] = ()  # `model:VAR` tags: what `nb2prod train` saves
    inference: Inference | None = None  # the serving path, when steps are tagged `inference`
    inferred: tuple[str, ...] = field(default=())  # what inference tagged, when the notebook had no steps
    expression_targets: tuple[str, ...] = field(default=())  # targets bound to a cell's last expression
    dropped: tuple[Any, ...] = field(default=())  # slicing.Dropped: what the exported code leaves out
    config: str = ""  # configuration statements of module-level cells: run at the start of run()/fit()

    @property
    def parity_targets(self) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.kind == "parity")

    @property
    def metric_targets(self) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.kind == "metric")
