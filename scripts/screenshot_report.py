"""Render a realistic sample parity report to HTML and photograph it with headless Chromium.

Why: the HTML report is read by people, so it is checked the way people see it, not only by asserting on
its markup. Usage: ``python scripts/screenshot_report.py [--out DIR] [--chromium PATH]``; prints the PNG
path. The unit tests run this script when Chromium is installed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from nb2prod.errors import ExecutionError  # noqa: E402
from nb2prod.parity.compare import compare, plot_points, summarize  # noqa: E402
from nb2prod.parity.results import CaseResult, ParityReport, TargetResult  # noqa: E402
from nb2prod.report.formats import write_junit, write_markdown  # noqa: E402
from nb2prod.report.html_report import write_html  # noqa: E402


def _target(name: str, cell: int, notebook: object, pipeline: object, kind: str = "parity"):
    return TargetResult(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        cell=cell,
        mismatch=compare(name, notebook, pipeline),
        notebook_summary=summarize(notebook),
        pipeline_summary=summarize(pipeline),
        plot_points=plot_points(notebook, pipeline),
    )


def sample_report() -> ParityReport:
    """Three cases of a churn model: one agrees, one drifts on a handful of rows, one raises."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(400, 3))
    proba = 1 / (1 + np.exp(-(x @ np.array([1.2, -0.7, 0.4]))))
    drifted = proba.copy()
    drifted[[17, 88, 240]] += [0.08, -0.05, 0.12]
    labels = (proba > 0.5).astype(np.int64)
    common = {"notebook": "notebooks/churn.ipynb", "name": "churn", "version": "v3"}
    passed = CaseResult(
        **common,
        param_id="defaults",
        params={"alpha": 0.3, "model": "logreg"},
        targets=[
            _target("y_proba", 14, proba, proba * (1 + 1e-12)),
            _target("y_pred", 14, labels, labels.copy()),
        ],
        metrics={"auc": 0.9132, "accuracy": 0.8675},
        evidence="runs/churn/defaults.ipynb",
        timings={"notebook": 6.4, "pipeline": 1.9, "compare": 0.01},
    )
    failed = CaseResult(
        **common,
        param_id="alpha=0.9",
        params={"alpha": 0.9, "model": "<script>alert(1)</script>"},
        targets=[
            _target("y_proba", 14, proba, drifted),
            _target("y_pred", 14, labels, labels.copy()),
        ],
        metrics={"auc": 0.9011, "accuracy": 0.855},
        evidence="runs/churn/alpha=0.9.ipynb",
        timings={"notebook": 6.1, "pipeline": 2.2, "compare": 0.01},
    )
    error = ExecutionError(
        "the notebook raised ValueError in cell 7",
        path="notebooks/fraud.ipynb",
        cell=7,
        line=3,
        hint="run `nb2prod run notebooks/fraud.ipynb -p threshold 1.5` to reproduce",
        source="features = load(path)\nscaled = scaler.fit_transform(features)\n"
        "model.fit(scaled, y, threshold=threshold)\ny_pred = model.predict(scaled)",
        ename="ValueError",
        evalue="\x1b[0;31mthreshold must be in [0, 1], got 1.5\x1b[0m",
    )
    errored = CaseResult(
        notebook="notebooks/fraud.ipynb",
        name="fraud",
        version="v1",
        param_id="threshold=1.5",
        params={"threshold": 1.5},
        error=error,
        timings={"notebook": 3.3},
    )
    y_reg = 152 + 60 * rng.standard_normal(89)
    regression = CaseResult(
        notebook="notebooks/diabetes_regression.ipynb",
        name="diabetes_regression",
        version="v1",
        param_id="defaults",
        params={"alpha": 1.0},
        targets=[_target("y_pred", 9, y_reg, y_reg + rng.normal(0, 1e-12, 89))],
        metrics={"r2": 0.4526, "mse": 2900.19},
        timings={"notebook": 4.2, "pipeline": 1.1},
    )
    cases = [passed, failed, errored, regression]
    return ParityReport(cases=cases, rtol=1e-7, atol=0.0, duration=24.6)


def screenshot(html: Path, png: Path, chromium: str = "chromium", size: str = "1280,1600") -> Path:
    """Photograph ``html`` into ``png`` with headless Chromium, isolated from any user profile."""
    with tempfile.TemporaryDirectory(prefix="nb2prod-chromium-") as profile:
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            f"--window-size={size}",
            "--hide-scrollbars",
            html.resolve().as_uri(),
        ]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "nb2prod-report")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--size", default="1280,1600", help="window size, WIDTH,HEIGHT")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    report = sample_report()
    html = args.out / "parity.html"
    write_html(report, html)
    write_junit(report, args.out / "parity.xml")
    write_markdown(report, args.out / "parity.md")
    print(screenshot(html, args.out / "parity.png", args.chromium, args.size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
