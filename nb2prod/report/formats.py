"""Parity reporters: console table, JUnit XML and a GitHub job-summary Markdown (HTML: html_report).

Every reporter reads the same :class:`ParityReport` and asks it for counts and the verdict, so the four
outputs can never disagree; the text that explains a "not reproducible" or "diverged" case comes from
:func:`diagnosis_text` for all of them. Only the standard library is used (rich loads inside
``print_console``).
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from nb2prod.parity.reproducibility import case_word, diagnosis_text, target_status
from nb2prod.parity.results import CaseResult, Mismatch, ParityReport
from nb2prod.report.common import (
    _STATUS,
    _by_notebook,
    _case_detail,
    _case_seconds,
    _clean,
    _error_text,
    _indent,
    _json,
    _params_text,
    _target_detail,
    verdict,
)

if TYPE_CHECKING:
    from rich.console import Console

NO_TARGETS = "no parity or metric target, tagged or inferred"
NO_TARGETS_HINT = (
    "The notebook and the pipeline both ran; tag the cell that makes the predictions `parity:VAR` "
    "(`nb2prod tag NOTEBOOK` shows what inference found)."
)


def print_console(report: ParityReport, console: Console) -> None:
    """A table of every target, then each mismatch and error in full, then the summary line."""
    from rich.table import Table
    from rich.text import Text

    styles = {
        "passed": "green",
        "failed": "bold red",
        "not reproducible": "bold yellow",
        "error": "bold magenta",
    }
    table = Table(title="nb2prod parity", title_justify="left", header_style="bold")
    for column in ("notebook", "parameters", "version", "target", "kind", "result", "detail"):
        table.add_column(column, overflow="fold")
    for case in report.cases:
        head = [Text(case.notebook), Text(case.param_id), Text(case.version or "-")]
        if case.error is not None:
            error = Text("ERROR", styles["error"])
            table.add_row(*head, "-", "-", error, Text(_case_detail(case)))
            continue
        if not case.targets:
            table.add_row(*head, "-", "-", Text("nothing compared", "bold yellow"), Text(NO_TARGETS))
        for t in case.targets:
            status = target_status(case, t)
            result = Text(_STATUS[status], styles[status])
            table.add_row(*head, Text(t.name), t.kind, result, Text(_target_detail(t, case)))
    console.print(table)
    for case in report.cases:
        if case.error is None and case.failures:
            style = styles[case.status]
            console.print(Text(f"{case.notebook} [{case.param_id}]: {case_word(case)}", style=style))
            if case.status == "not reproducible":
                console.print(Text(_indent(_clean(diagnosis_text(case)))))
                continue
            for target in case.failures:
                if target.mismatch is not None:
                    console.print(Text(_indent(_clean(target.mismatch.describe()))))
            if case.reproducible is not None:
                console.print(Text(_indent(_clean(diagnosis_text(case)))))
    for case in report.cases:
        if case.error is not None:
            console.print(Text(f"{case.notebook} [{case.param_id}] raised", style="bold magenta"))
            console.print(Text(_indent(_error_text(case.error))))
    for case in report.cases:
        if case.error is None and not case.targets:
            console.print(Text(f"{case.notebook} [{case.param_id}]: nothing was compared: {NO_TARGETS}. "
                               f"{NO_TARGETS_HINT}", style="yellow"))
    for case in report.cases:
        for gate in case.gates:
            style = "green" if gate.passed else "bold red"
            console.print(Text(f"{case.notebook} [{case.param_id}]: {gate.line()}", style=style))
    word = verdict(report)
    style = {"PASSED": "bold green", "FAILED": "bold red", "NOT REPRODUCIBLE": "bold yellow"}
    console.print(Text(f"{word}: {report.summary_line()}", style=style.get(word, "bold magenta")))


# -- JUnit XML ------------------------------------------------------------------------------------
def write_junit(report: ParityReport, path: str | Path) -> None:
    """JUnit XML in the shape GitHub, GitLab and Jenkins parse: one suite per notebook."""
    root = ET.Element("testsuites", name="nb2prod parity")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for notebook, cases in _by_notebook(report.cases).items():
        suite = ET.SubElement(root, "testsuite", name=notebook)
        props = ET.SubElement(suite, "properties")
        for name, value in [("rtol", report.rtol), ("atol", report.atol)]:
            ET.SubElement(props, "property", name=name, value=repr(value))
        counts = dict.fromkeys(totals, 0)
        seconds = 0.0
        for case in cases:
            ET.SubElement(
                props, "property", name=f"params[{case.param_id}]", value=_json(case.params)
            )
            seconds += _case_seconds(case)
            for element, outcome in _junit_cases(case):
                suite.append(element)
                counts["tests"] += 1
                if outcome:
                    counts[outcome] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("time", f"{seconds:.3f}")
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{report.duration:.3f}")
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _junit_cases(case: CaseResult) -> Iterable[tuple[ET.Element, str | None]]:
    """(testcase, "failures" | "errors" | "skipped" | None) for one notebook x parameter set."""
    classname = f"nb2prod.{case.name}"
    share = _case_seconds(case) / max(1, len(case.targets))
    if case.error is not None:
        el = ET.Element(
            "testcase",
            classname=classname,
            name=f"{case.param_id}::execution",
            time=f"{_case_seconds(case):.3f}",
        )
        first = (
            _clean(case.error.reason).splitlines()[0] if case.error.reason else "execution failed"
        )
        err = ET.SubElement(el, "error", message=first, type=case.error.ename or "ExecutionError")
        err.text = _error_text(case.error)
        yield el, "errors"
        return
    if case.gates:
        el = ET.Element("testcase", classname=classname, name=f"{case.param_id}::gates", time="0.000")
        failed = case.gate_failures
        if failed:
            fail = ET.SubElement(el, "failure", message=_clean(failed[0].line()), type="GateFailed")
            fail.text = _clean("\n".join(g.line() for g in failed))
        ET.SubElement(el, "system-out").text = _clean("\n".join(g.line() for g in case.gates))
        yield el, "failures" if failed else None
    if not case.targets:
        el = ET.Element("testcase", classname=classname, name=f"{case.param_id}::*", time="0.000")
        ET.SubElement(el, "skipped", message=f"nothing compared: {NO_TARGETS}")
        yield el, "skipped"
    moved = {m.target: m for m in case.moved}
    for t in case.targets:
        el = ET.Element(
            "testcase", classname=classname, name=f"{case.param_id}::{t.name}", time=f"{share:.3f}"
        )
        outcome = None
        status = target_status(case, t)
        if status != "passed":
            message = _clean(f"{t.name}: {_target_detail(t, case)}")
            kind = "NotReproducible" if status == "not reproducible" else "ParityMismatch"
            fail = ET.SubElement(el, "failure", message=message, type=kind)
            # the diagnosis shows what moved
            shown = "" if t.name in moved or t.mismatch is None else t.mismatch.describe()
            fail.text = _clean("\n".join(s for s in (shown, diagnosis_text(case)) if s))
            outcome = "failures"
        out = [f"notebook: {t.notebook_summary}", f"pipeline: {t.pipeline_summary}"]
        out += [f"cell: {t.cell}"] * (t.cell is not None)
        out += [f"evidence: {e}" for e in (case.evidence, case.rerun_evidence) if e]
        out += [f"written files: {case.written_files}"] * bool(case.written_files)
        ET.SubElement(el, "system-out").text = _clean("\n".join(out))
        yield el, outcome


# -- Markdown -------------------------------------------------------------------------------------
def write_markdown(report: ParityReport, path: str | Path) -> None:
    """A GitHub job summary: verdict, one table row per case, details folded underneath."""
    lines = [
        f"## nb2prod parity: {verdict(report)}",
        "",
        f"**{report.summary_line()}** (rtol {report.rtol:g}, atol {report.atol:g})",
        "",
        "| notebook | parameters | version | status | details |",
        "| --- | --- | --- | --- | --- |",
    ]
    for case in report.cases:
        status = _STATUS[case.status] if case.status == "passed" else f"**{_STATUS[case.status]}**"
        cells = [
            _md_code(case.notebook),
            _md_params(case),
            _md_cell(case.version or "-"),
            status,
            _md_cell(_case_detail(case)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    gate_lines = [(c, g) for c in report.cases for g in c.gates]
    if gate_lines:
        lines += ["", "**Gates**", ""]
        lines += [f"- {_md_code(c.notebook)} {_md_code(c.param_id)}: "
                  f"{'**' + _md_cell(g.line()) + '**' if not g.passed else _md_cell(g.line())}"
                  for c, g in gate_lines]
    blocks: list[tuple[str, str]] = []
    for c in report.cases:
        if c.status == "not reproducible":
            blocks.append((f"{c.notebook} · {c.param_id} · not reproducible", diagnosis_text(c)))
        elif c.status == "failed":
            blocks += [
                (f"{c.notebook} · {c.param_id} · {t.name}", _with_diagnosis(t.mismatch, c))
                for t in c.failures
                if t.mismatch is not None
            ]
        elif c.error is not None:
            blocks.append((f"{c.notebook} · {c.param_id} · execution", _error_text(c.error)))
    for summary, text in blocks:
        fence = "`" * max(3, 1 + max((len(r) for r in re.findall("`+", text)), default=0))
        lines += [
            "",
            f"<details><summary>{html.escape(_clean(summary))}</summary>",
            "",
            f"{fence}text",
            _clean(text),
            fence,
            "",
            "</details>",
        ]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _with_diagnosis(mismatch: Mismatch, case: CaseResult) -> str:
    return "\n".join(s for s in (mismatch.describe(), diagnosis_text(case)) if s)


def _md_params(case: CaseResult) -> str:
    params = _params_text(case.params)
    more = f" {_md_code(params)}" if params and params != case.param_id else ""
    return f"{_md_code(case.param_id)}{more}"


def _md_cell(text: str) -> str:
    return html.escape(_clean(text).replace("\n", " ")).replace("|", "\\|")


def _md_code(text: str) -> str:
    return "`" + _clean(text).replace("\n", " ").replace("`", "'").replace("|", "\\|") + "`"
