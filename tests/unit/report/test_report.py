"""Reporters: one hand-built ParityReport (passed, failed, errored) through all four outputs."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from nb2prod.errors import ExecutionError
from nb2prod.parity.compare import compare, plot_points, summarize
from nb2prod.parity.results import CaseResult, ParityReport, TargetResult
from nb2prod.report.formats import print_console, verdict, write_junit, write_markdown
from nb2prod.report.html_report import write_html

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")


def _target(name: str, notebook: object, pipeline: object) -> TargetResult:
    return TargetResult(
        name=name,
        kind="parity",
        cell=5,
        mismatch=compare(name, notebook, pipeline),
        notebook_summary=summarize(notebook),
        pipeline_summary=summarize(pipeline),
        plot_points=plot_points(notebook, pipeline),
    )


@pytest.fixture()
def report() -> ParityReport:
    y = np.linspace(0.05, 0.95, 50)
    drifted = y.copy()
    drifted[7] += 0.2
    passed = CaseResult(
        notebook="notebooks/churn.ipynb",
        name="churn",
        version="v2",
        param_id="defaults",
        params={"alpha": 0.3},
        targets=[_target("y_proba", y, y.copy()), _target("n_rows", 50, 50)],
        metrics={"auc": 0.91},
        evidence="runs/churn/defaults.ipynb",
        timings={"notebook": 2.0, "pipeline": 1.0},
    )
    failed = CaseResult(
        notebook="notebooks/churn.ipynb",
        name="churn",
        version="v2",
        param_id="evil",
        params={"alpha": 0.9, "label": "<script>alert('x')</script>"},
        targets=[_target("y_proba", y, drifted), _target("n_rows", 50, 50)],
        timings={"notebook": 2.5, "pipeline": 1.5},
    )
    error = ExecutionError(
        "the notebook raised ZeroDivisionError",
        path="notebooks/fraud.ipynb",
        cell=4,
        line=2,
        source="total = 0\nrate = hits / total\nprint(rate)",
        ename="ZeroDivisionError",
        evalue="\x1b[0;31mdivision by zero\x1b[0m",
    )
    errored = CaseResult(
        notebook="notebooks/fraud.ipynb",
        name="fraud",
        version="v1",
        param_id="defaults",
        params={},
        error=error,
        timings={"notebook": 0.5},
    )
    return ParityReport(cases=[passed, failed, errored], rtol=1e-7, atol=0.0, duration=9.0)


def test_verdict_follows_the_exit_code(report: ParityReport) -> None:
    assert verdict(report) == "ERROR"
    report.cases.pop()
    assert verdict(report) == "FAILED"
    report.cases.pop()
    assert verdict(report) == "PASSED"


def test_junit_counts_and_failure_text(report: ParityReport, tmp_path: Path) -> None:
    path = tmp_path / "parity.xml"
    write_junit(report, path)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "5",
        "failures": "1",
        "errors": "1",
        "skipped": "0",
    }
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == ["notebooks/churn.ipynb", "notebooks/fraud.ipynb"]
    churn = suites["notebooks/churn.ipynb"]
    assert (churn.get("tests"), churn.get("failures"), churn.get("errors")) == ("4", "1", "0")
    assert float(churn.get("time", "0")) == pytest.approx(7.0)
    props = {p.get("name"): p.get("value") for p in churn.iter("property")}
    assert props["rtol"] == "1e-07" and props["atol"] == "0.0"
    assert props["params[evil]"] == '{"alpha": 0.9, "label": "<script>alert(\'x\')</script>"}'

    cases = churn.findall("testcase")
    names = [c.get("name") for c in cases]
    assert names == ["defaults::y_proba", "defaults::n_rows", "evil::y_proba", "evil::n_rows"]
    assert {c.get("classname") for c in cases} == {"nb2prod.churn"}
    failure = cases[2].find("failure")
    assert failure is not None
    assert failure.get("type") == "ParityMismatch"
    assert failure.get("message") == "y_proba: values differ (1 of 50)"
    assert "differing elements: 1 of 50" in (failure.text or "")
    assert "first difference at [7]" in (failure.text or "")
    assert cases[0].find("failure") is None

    (fraud_case,) = suites["notebooks/fraud.ipynb"].findall("testcase")
    assert fraud_case.get("name") == "defaults::execution"
    err = fraud_case.find("error")
    assert err is not None and err.get("type") == "ZeroDivisionError"
    text = err.text or ""
    assert "cell 4" in text and ">   2 | rate = hits / total" in text
    assert "\x1b" not in path.read_text(encoding="utf-8")  # kernel colour codes are not valid XML


def test_junit_case_without_targets_is_skipped(tmp_path: Path) -> None:
    case = CaseResult(notebook="nb.ipynb", name="nb", version="v1", param_id="defaults", params={})
    path = tmp_path / "parity.xml"
    write_junit(ParityReport(cases=[case]), path)
    root = ET.parse(path).getroot()
    assert (root.get("tests"), root.get("skipped")) == ("1", "1")
    assert root.find("testsuite/testcase/skipped") is not None


def test_console_says_when_nothing_was_compared() -> None:
    """A green run that compared nothing is a CI trap: the table, a line under it and the
    summary all say so (the exit code stays 0: both sides ran)."""
    case = CaseResult(notebook="nb.ipynb", name="nb", version="v1", param_id="defaults", params={})
    report = ParityReport(cases=[case])
    console = Console(record=True, width=200, color_system=None)
    print_console(report, console)
    text = " ".join(console.export_text().split())
    assert "nothing compared" in text and "passed" not in text.split("nothing compared")[0][-40:]
    assert "nb.ipynb [defaults]: nothing was compared: no parity or metric target" in text
    assert "PASSED: 1 passed (1 with nothing compared), 0 failed" in text
    assert report.exit_code == 0


def test_html_verdict_plot_and_escaping(report: ParityReport, tmp_path: Path) -> None:
    path = tmp_path / "parity.html"
    write_html(report, path)
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert "<title>nb2prod parity: ERROR</title>" in page
    assert '<span class="badge error">error</span>' in page
    assert "1 case could not run to the comparison" in page
    assert page.count("<svg") == 2  # y_proba in both cases; the scalar n_rows has no plot
    assert 'class="off"' in page  # the drifted point is drawn outside tolerance
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "first difference at [7]" in page
    assert "ZeroDivisionError: division by zero" in page and "\x1b" not in page
    assert "<link" not in page and "src=" not in page  # self-contained


def test_markdown_table_and_details(report: ParityReport, tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    write_markdown(report, path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("## nb2prod parity: ERROR\n")
    rows = [line for line in text.splitlines() if line.startswith("| `notebooks/")]
    assert len(rows) == 3
    assert rows[0].split(" | ")[3] == "passed"
    assert "**FAILED**" in rows[1] and "y_proba: values differ (1 of 50)" in rows[1]
    assert "**ERROR**" in rows[2] and "cell 4: ZeroDivisionError: division by zero" in rows[2]
    assert all(row.count(" | ") == 4 for row in rows)  # a pipe in a value never adds a column
    assert text.count("<details>") == 2
    assert "```text\ny_proba: values differ" in text


def test_markdown_escapes_pipes_and_html(tmp_path: Path) -> None:
    target = _target("a|b", np.zeros(3), np.ones(3))
    case = CaseResult(
        notebook="nb.ipynb", name="nb", version="v1", param_id="p|<b>", params={}, targets=[target]
    )
    path = tmp_path / "summary.md"
    write_markdown(ParityReport(cases=[case]), path)
    text = path.read_text(encoding="utf-8")
    (row,) = [line for line in text.splitlines() if line.startswith("| `nb.ipynb`")]
    assert len(re.split(r"(?<!\\)\|", row)) == 7  # 5 cells between 6 unescaped pipes
    assert "`p\\|<b>`" in row  # inside a code span: shown literally, never rendered as HTML
    assert "<summary>nb.ipynb · p|&lt;b&gt; · a|b</summary>" in text


def test_console_table_mismatch_and_error(report: ParityReport) -> None:
    out = io.StringIO()
    print_console(report, Console(file=out, width=160, color_system=None))
    text = out.getvalue()
    assert "notebooks/churn.ipynb" in text and "FAILED" in text and "ERROR" in text
    assert "differing elements: 1 of 50" in text
    assert ">   2 | rate = hits / total" in text
    assert "ERROR: 1 passed, 1 failed, 1 error in 9.0s" in text


def test_console_does_not_interpret_markup_in_values() -> None:
    case = CaseResult(
        notebook="[bold]nb[/bold].ipynb", name="nb", version="v1", param_id="[red]x", params={}
    )
    console = Console(record=True, width=120, color_system=None)
    print_console(ParityReport(cases=[case]), console)
    assert "[bold]nb[/bold].ipynb" in console.export_text()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium for a real screenshot")
def test_html_screenshot_in_headless_chromium(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "screenshot_report.py"
    cmd = [sys.executable, str(script), "--out", str(tmp_path), "--chromium", str(CHROMIUM)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=True)
    png = Path(done.stdout.strip().splitlines()[-1])
    assert png.exists()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 50_000  # a rendered page, not a blank canvas
