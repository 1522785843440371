"""One verdict per target, the same in every report (issue 14, item 6).

A "not reproducible" case of the unseeded-forest shape: ``proba`` differs from the pipeline and moved
between the two notebook runs; ``accuracy`` happened to match the pipeline but moved too; ``n_test``
matched and stayed put; ``score`` differs from the pipeline but was the same in both notebook runs.
Before, the console called ``accuracy`` "passed" while the diagnosis listed it as moved, and called
``score`` "FAILED" while JUnit filed it as NotReproducible.
"""

from __future__ import annotations

import html
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from rich.console import Console

from nb2prod.parity.compare import compare, summarize
from nb2prod.parity.results import CaseResult, ParityReport, TargetResult
from nb2prod.report.formats import print_console, write_junit, write_markdown
from nb2prod.report.html_report import write_html

WORDS = {"passed": "passed", "failed": "FAILED", "not reproducible": "NOT REPRODUCIBLE"}


def target(name: str, notebook: object, pipeline: object) -> TargetResult:
    return TargetResult(name, "parity", 6, compare(name, notebook, pipeline), summarize(notebook),
                        summarize(pipeline))


def forest_case(reproducible: bool) -> CaseResult:
    proba = np.array([0.1, 0.9, 0.5])
    case = CaseResult(
        notebook="unseeded/forest.ipynb", name="forest", version="v1", param_id="defaults",
        params={},
        targets=[
            target("proba", proba, proba[::-1].copy()),
            target("accuracy", 0.95, 0.95),
            target("n_test", 45, 45),
            target("score", 0.5, 0.75),
        ],
        reproducible=reproducible,
    )
    if not reproducible:
        for name, a, b in (("proba", proba, proba + 0.1), ("accuracy", 0.95, 0.93)):
            moved = compare(name, a, b)
            assert moved is not None
            case.moved.append(moved.relabel("run 1", "run 2"))
    return case


def reports(case: CaseResult, tmp_path: Path) -> dict[str, dict[str, str]]:
    """Each target's verdict word as the console, JUnit, HTML and Markdown reports show it."""
    report = ParityReport(cases=[case])
    out = io.StringIO()
    print_console(report, Console(file=out, width=250, color_system=None))
    console = {}
    for line in out.getvalue().splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > 6 and cells[4] in {t.name for t in case.targets}:
            console[cells[4]] = cells[6]
    write_junit(report, tmp_path / "r.xml")
    junit = {}
    for el in ET.parse(tmp_path / "r.xml").getroot().iter("testcase"):
        failure = el.find("failure")
        kind = None if failure is None else failure.get("type")
        word = {None: "passed", "ParityMismatch": "FAILED", "NotReproducible": "NOT REPRODUCIBLE"}[kind]
        junit[el.get("name", "").split("::")[1]] = word
    write_html(report, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    rows = re.findall(r"<tr><td><code>(\w+)</code></td>.*?<span class=\"badge \w+\">([^<]+)</span>",
                      page)
    html_words = {name: html.unescape(word).upper() if word != "passed" else word
                  for name, word in rows if name in {t.name for t in case.targets}}
    write_markdown(report, tmp_path / "r.md")
    summary = (tmp_path / "r.md").read_text()
    return {"console": console, "junit": junit, "html": html_words, "markdown": {"summary": summary}}


def test_a_not_reproducible_case_has_one_verdict_per_target_in_every_report(tmp_path):
    case = forest_case(reproducible=False)
    expected = {"proba": "NOT REPRODUCIBLE", "accuracy": "NOT REPRODUCIBLE", "n_test": "passed",
                "score": "NOT REPRODUCIBLE"}
    assert {t.name: WORDS[case.verdict(t)] for t in case.targets} == expected
    found = reports(case, tmp_path)
    assert found["console"] == expected
    assert found["junit"] == expected
    assert found["html"] == expected
    summary = found["markdown"]["summary"]
    assert "**NOT REPRODUCIBLE**" in summary and "FAILED" not in summary.replace("NOT REPRODUCIBLE", "")
    assert "not reproducible: proba, accuracy, score;" in summary
    assert "passed" not in summary.split("|")[-2]  # the case row never calls a moved target passed


def test_a_reproducible_notebook_makes_mismatches_failed_everywhere(tmp_path):
    case = forest_case(reproducible=True)
    expected = {"proba": "FAILED", "accuracy": "passed", "n_test": "passed", "score": "FAILED"}
    found = reports(case, tmp_path)
    assert found["console"] == found["junit"] == found["html"] == expected
    assert "diverged: proba:" in found["markdown"]["summary"]
