"""pytest plugin: ``pytest --nb2prod notebooks/`` collects each tagged notebook x parameter set.

Like nbval and nbmake, notebooks become test items; each item is one parity case (``nb2prod test``'s
unit), and its failure message is the mismatch report. Tolerances and parameter sets come from
``[tool.nb2prod]``; notebooks without any ``step:`` tag are not collected.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nb2prod")
    group.addoption(
        "--nb2prod",
        action="store_true",
        default=False,
        help="collect tagged notebooks; each notebook x parameter set checks parity with its pipeline",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not parent.config.getoption("nb2prod"):
        return None
    from nb2prod.read.notebook import looks_like_percent_notebook

    if file_path.suffix == ".ipynb" or (
        file_path.suffix == ".py" and looks_like_percent_notebook(file_path)
    ):
        if ".ipynb_checkpoints" not in file_path.parts:
            return ParityFile.from_parent(parent, path=file_path)
    return None


class ParityFailure(Exception):
    """A mismatch, stale code or an execution error: shown as text, without a traceback."""


class ParityFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from nb2prod.config import load_config
        from nb2prod.errors import Nb2ProdError
        from nb2prod.parity.harness import plan_jobs
        from nb2prod.read.notebook import load_notebook

        config = load_config(self.path.parent)
        try:
            if not any(c.tags.step for c in load_notebook(self.path, root=config.root).cells):
                return
            jobs, stale = plan_jobs(
                [self.path],
                out_dir=config.out_dir,
                runs_dir=config.root / "runs",
                sets_by_module=config.parameter_sets,
                root=config.root,
            )
        except Nb2ProdError as err:
            raise self.CollectError(err.message) from None
        for case in stale:
            yield ParityItem.from_parent(self, name="build", job=None, stale=case, settings=config)
        for job in jobs:
            yield ParityItem.from_parent(self, name=job.param_id, job=job, stale=None, settings=config)


class ParityItem(pytest.Item):
    def __init__(self, *, job: Any, stale: Any, settings: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.stale = stale
        self.settings = settings

    def runtest(self) -> None:
        from nb2prod.parity.harness import run_job

        if self.stale is not None:
            case = self.stale
        else:
            config = self.settings
            case = run_job(
                self.job, rtol=config.rtol, atol=config.atol, timeout=config.timeout, seed=config.seed
            )
        if case.error is not None:
            source = f"\n{case.error.source}" if case.error.source else ""
            raise ParityFailure(f"{case.error.message}{source}")
        failures = case.failures
        if failures:
            from nb2prod.parity.reproducibility import diagnosis_text

            verdicts = "; ".join(f"{t.name} {case.verdict(t)}" for t in failures)  # as every report
            lines = [t.mismatch.describe() for t in failures if t.mismatch]
            text = [verdicts, *lines, *filter(None, [diagnosis_text(case)])]
            raise ParityFailure("\n".join(text))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ParityFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)
