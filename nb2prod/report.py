"""Parity reporters: console table, JUnit XML and a GitHub job-summary Markdown (HTML: report_html).

Every reporter reads the same :class:`ParityReport` and asks it for counts and the verdict, so the four
outputs can never disagree; the text that explains a "not reproducible" or "diverged" case comes from
:func:`diagnosis_text` for all of them. Only the standard library is used (rich loads inside
``print_console``).
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nb2prod.errors import EXIT_CHECK_FAILED, EXIT_OK, ExecutionError
from nb2prod.reproducibility import case_word, diagnosis_text, relevant_hints, target_status
from nb2prod.results import CaseResult, Mismatch, ParityReport, TargetResult

if TYPE_CHECKING:
    from rich.console import Console

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_STATUS = {
    "passed": "passed",
    "failed": "FAILED",
    "not reproducible": "NOT REPRODUCIBLE",
    "error": "ERROR",
}
_SNIPPET_LINES = 12


def verdict(report: ParityReport) -> str:
    """ "PASSED", "FAILED", "NOT REPRODUCIBLE" or "ERROR": the word every reporter leads with.

    It follows the exit code; a run whose only failures are notebooks that disagree with themselves
    says so rather than blaming the generated code.
    """
    word = {EXIT_OK: "PASSED", EXIT_CHECK_FAILED: "FAILED"}.get(report.exit_code, "ERROR")
    if word == "FAILED" and not report.count("failed"):
        return "NOT REPRODUCIBLE"
    return word


# -- console --------------------------------------------------------------------------------------
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
            table.add_row(*head, "-", "-", Text("passed", styles["passed"]), Text("no targets"))
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
                assert target.mismatch is not None
                console.print(Text(_indent(_clean(target.mismatch.describe()))))
            if case.reproducible is not None:
                console.print(Text(_indent(_clean(diagnosis_text(case)))))
    for case in report.cases:
        if case.error is not None:
            console.print(Text(f"{case.notebook} [{case.param_id}] raised", style="bold magenta"))
            console.print(Text(_indent(_error_text(case.error))))
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
    if not case.targets:
        el = ET.Element("testcase", classname=classname, name=f"{case.param_id}::*", time="0.000")
        ET.SubElement(el, "skipped", message="no parity or metric targets declared")
        yield el, "skipped"
    moved = {m.target: m for m in case.moved}
    for t in case.targets:
        el = ET.Element(
            "testcase", classname=classname, name=f"{case.param_id}::{t.name}", time=f"{share:.3f}"
        )
        outcome = None
        if t.mismatch is not None:
            message = _clean(f"{t.name}: {_target_detail(t, case)}")
            kind = "NotReproducible" if case.status == "not reproducible" else "ParityMismatch"
            fail = ET.SubElement(el, "failure", message=message, type=kind)
            shown = "" if t.name in moved else t.mismatch.describe()  # the diagnosis shows moves
            fail.text = _clean("\n".join(s for s in (shown, diagnosis_text(case)) if s))
            outcome = "failures"
        out = [f"notebook: {t.notebook_summary}", f"pipeline: {t.pipeline_summary}"]
        out += [f"cell: {t.cell}"] * (t.cell is not None)
        out += [f"evidence: {e}" for e in (case.evidence, case.rerun_evidence) if e]
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


# -- HTML -----------------------------------------------------------------------------------------
def write_html(report: ParityReport, path: str | Path) -> None:
    """One self-contained page (inline CSS and SVG, no scripts) a reviewer can open from CI."""
    from nb2prod.report_html import write_html as write

    write(report, path)


# -- shared helpers -------------------------------------------------------------------------------
def _clean(text: str) -> str:
    """Drop terminal colour codes and characters XML cannot carry (kernel tracebacks have both)."""
    return _NOT_XML.sub("", _ANSI.sub("", text))




def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _by_notebook(cases: list[CaseResult]) -> dict[str, list[CaseResult]]:
    groups: dict[str, list[CaseResult]] = {}
    for case in cases:
        groups.setdefault(case.notebook, []).append(case)
    return groups


def _failures(cases: list[CaseResult]) -> Iterable[tuple[CaseResult, TargetResult]]:
    return ((c, t) for c in cases if c.error is None for t in c.failures)


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def _json(value: Any) -> str:
    return _clean(json.dumps(value, default=repr, sort_keys=True))


def _case_seconds(case: CaseResult) -> float:
    return sum(v for v in case.timings.values() if isinstance(v, (int, float)))


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _metric(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else repr(value)


def _target_detail(t: TargetResult, case: CaseResult | None = None) -> str:
    if t.mismatch is None:
        return t.notebook_summary or "agrees"
    moved = {m.target: m for m in case.moved} if case is not None else {}
    if t.name in moved:
        return f"moved between two notebook runs: {_mismatch_detail(moved[t.name])}"
    return _mismatch_detail(t.mismatch)


def _mismatch_detail(m: Mismatch) -> str:
    count = f" ({m.n_different} of {m.n_total})" if m.n_different is not None and m.n_total else ""
    return f"{m.reason}{count}"


def _case_detail(case: CaseResult) -> str:
    if case.error is not None:
        where = f"cell {case.error.cell}: " if case.error.cell is not None else ""
        what = f"{case.error.ename}: {case.error.evalue}" if case.error.ename else case.error.reason
        return _clean(where + what).splitlines()[0] if what else "execution failed"
    bad = case.failures
    if case.status == "not reproducible":
        moved = "; ".join(f"{m.target}: {_mismatch_detail(m)}" for m in case.moved)
        found = relevant_hints(case)
        hints = f"; {_plural(len(found), 'unseeded call')}" if found else ""
        return f"the notebook disagrees with itself ({moved}){hints}"
    if bad:
        text = "; ".join(f"{t.name}: {_target_detail(t, case)}" for t in bad)
        return f"diverged: {text}" if case.reproducible else text
    text = f"{len(case.targets)} target{'s' * (len(case.targets) != 1)} agree"
    metrics = ", ".join(f"{k}={_metric(v)}" for k, v in case.metrics.items())
    return f"{text}; {metrics}" if metrics else text


def _lead(report: ParityReport) -> str:
    """One sentence a reviewer can act on, before any table."""
    failed, errors = report.count("failed"), report.count("error")
    unrepro = report.count("not reproducible")
    if not report.cases:
        return "No notebook was tested."
    parts = [f"{_plural(errors, 'case')} could not run to the comparison"] * bool(errors)
    parts += [f"{_plural(failed, 'case')} predicted something its notebook did not"] * bool(failed)
    parts += [
        f"{_plural(unrepro, 'case')} ran a notebook that disagreed with itself on a second run"
    ] * bool(unrepro)
    return (
        "; ".join(parts) if parts else "Every pipeline reproduced its notebook's predictions"
    ) + "."


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _exception(err: ExecutionError) -> str:
    return _clean(f"{err.ename}: {err.evalue or ''}".rstrip(": ")) if err.ename else ""


def _snippet(err: ExecutionError) -> list[tuple[int, str, bool]]:
    """(line number, code, is the failing line) around the failing line of the cell's source."""
    source = _clean(err.source or "").splitlines()
    mark = err.line if err.line and 1 <= err.line <= len(source) else 0
    start = max(0, mark - _SNIPPET_LINES // 2 - 1) if mark else 0
    chunk = source[start : start + _SNIPPET_LINES]
    return [(n, code, n == mark) for n, code in enumerate(chunk, start=start + 1)]


def _error_text(err: ExecutionError | None) -> str:
    """The error message, the exception, and the failing cell's source with the line marked."""
    if err is None:
        return ""
    head = f"{err.location}: {err.reason}" if err.location else err.reason
    lines = [head] + [f"Hint: {err.hint}"] * bool(err.hint) + [e for e in [_exception(err)] if e]
    snippet = _snippet(err)
    if snippet:
        lines.append(f"cell {err.cell}:" if err.cell is not None else "source:")
        lines += [f"{'>' if hit else ' '} {n:>3} | {code}" for n, code, hit in snippet]
    return _clean("\n".join(lines))
