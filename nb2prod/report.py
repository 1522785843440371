"""Parity reporters: console table, JUnit XML, one-file HTML and a GitHub job-summary Markdown.

Every reporter reads the same :class:`ParityReport` and asks it for counts and the verdict, so the four
outputs can never disagree. Only the standard library is used (rich loads inside ``print_console``).
"""

from __future__ import annotations

import html
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nb2prod import __version__
from nb2prod.errors import EXIT_CHECK_FAILED, EXIT_OK, ExecutionError
from nb2prod.results import CaseResult, ParityReport, TargetResult

if TYPE_CHECKING:
    from rich.console import Console

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_STATUS = {"passed": "passed", "failed": "FAILED", "error": "ERROR"}
_SNIPPET_LINES = 12


def verdict(report: ParityReport) -> str:
    """ "PASSED", "FAILED" or "ERROR": the word every reporter leads with, taken from the exit code."""
    return {EXIT_OK: "PASSED", EXIT_CHECK_FAILED: "FAILED"}.get(report.exit_code, "ERROR")


# -- console --------------------------------------------------------------------------------------
def print_console(report: ParityReport, console: Console) -> None:
    """A table of every target, then each mismatch and error in full, then the summary line."""
    from rich.table import Table
    from rich.text import Text

    styles = {"passed": "green", "failed": "bold red", "error": "bold magenta"}
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
            status = "passed" if t.passed else "failed"
            result = Text(_STATUS[status], styles[status])
            table.add_row(*head, Text(t.name), t.kind, result, Text(_target_detail(t)))
    console.print(table)
    for case, target in _failures(report.cases):
        assert target.mismatch is not None
        console.print(Text(f"{case.notebook} [{case.param_id}]", style="bold red"))
        console.print(Text(_indent(_clean(target.mismatch.describe()))))
    for case in report.cases:
        if case.error is not None:
            console.print(Text(f"{case.notebook} [{case.param_id}] raised", style="bold magenta"))
            console.print(Text(_indent(_error_text(case.error))))
    style = {"PASSED": "bold green", "FAILED": "bold red"}.get(verdict(report), "bold magenta")
    console.print(Text(f"{verdict(report)}: {report.summary_line()}", style=style))


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
    for t in case.targets:
        el = ET.Element(
            "testcase", classname=classname, name=f"{case.param_id}::{t.name}", time=f"{share:.3f}"
        )
        outcome = None
        if t.mismatch is not None:
            message = _clean(f"{t.name}: {_target_detail(t)}")
            fail = ET.SubElement(el, "failure", message=message, type="ParityMismatch")
            fail.text = _clean(t.mismatch.describe())
            outcome = "failures"
        out = [f"notebook: {t.notebook_summary}", f"pipeline: {t.pipeline_summary}"]
        out += [f"cell: {t.cell}"] * (t.cell is not None) + [f"evidence: {case.evidence}"] * bool(
            case.evidence
        )
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
    blocks = [
        (f"{c.notebook} · {c.param_id} · {t.name}", t.mismatch.describe())
        for c, t in _failures(report.cases)
        if t.mismatch is not None
    ]
    blocks += [
        (f"{c.notebook} · {c.param_id} · execution", _error_text(c.error))
        for c in report.cases
        if c.error is not None
    ]
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
    word = verdict(report)
    counts = " &middot; ".join(
        f"<b>{report.count(s)}</b> {label}"
        for s, label in [
            ("passed", "passed"),
            ("failed", "failed"),
            ("error", "error" if report.count("error") == 1 else "errors"),
        ]
    )
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>nb2prod parity: {word}</title><style>{_CSS}</style></head><body><main>",
        f'<header class="{word.lower()}"><h1>Parity report {_badge(word)}</h1>',
        f'<p class="lead">{_e(_lead(report))}</p>',
        f'<p class="counts">{counts} &mdash; {_plural(len(report.cases), "case")} in '
        f"{report.duration:.1f} s &middot; rtol {report.rtol:g} &middot; atol {report.atol:g}</p>"
        "</header>",
    ]
    index = 0
    for notebook, cases in _by_notebook(report.cases).items():
        parts.append(
            f'<section><h2>{_e(notebook)} <span class="muted">generated.{_e(cases[0].name)}</span></h2>'
        )
        rows = []
        for n, case in enumerate(cases, start=index):
            params = _params_text(case.params)
            more = f' <span class="muted">{_e(params)}</span>' if params != case.param_id else ""
            rows.append(
                [
                    f'<a href="#case-{n}"><code>{_e(case.param_id)}</code></a>{more}',
                    _e(case.version or "-"),
                    _badge(case.status),
                    _seconds(case.timings.get("notebook")),
                    _seconds(case.timings.get("pipeline")),
                    _e(_case_detail(case)),
                ]
            )
        parts.append(
            _table(
                "cases",
                ["Parameter set", "Version", "Status", "Notebook", "Pipeline", "Details"],
                rows,
                num={3, 4},
            )
        )
        for case in cases:
            parts.append(_html_case(case, index, report))
            index += 1
        parts.append("</section>")
    parts.append(f"<footer>nb2prod {_e(__version__)} &middot; {now}</footer></main></body></html>")
    Path(path).write_text("\n".join(parts) + "\n", encoding="utf-8")


def _html_case(case: CaseResult, n: int, report: ParityReport) -> str:
    version = f' <span class="muted">{_e(case.version)}</span>' if case.version else ""
    out = [
        f'<article class="case {case.status}" id="case-{n}">',
        f"<h3>{_badge(case.status)} <code>{_e(case.param_id)}</code>{version}</h3>",
    ]
    if case.params:
        chips = "".join(f"<code>{_e(k)}={_e(repr(v))}</code>" for k, v in case.params.items())
        out.append(f'<p class="params">{chips}</p>')
    if case.error is not None:
        out.append(_html_error(case.error))
    if case.targets:
        rows = [
            [
                f"<code>{_e(t.name)}</code>",
                _e(t.kind),
                "-" if t.cell is None else str(t.cell),
                _e(t.notebook_summary),
                _e(t.pipeline_summary),
                _badge("passed" if t.passed else "failed"),
            ]
            for t in case.targets
        ]
        out.append(
            _table("targets", ["Target", "Kind", "Cell", "Notebook", "Pipeline", "Result"], rows)
        )
    out += [
        f'<pre class="mismatch">{_e(t.mismatch.describe())}</pre>'
        for t in case.failures
        if t.mismatch
    ]
    panels = [_figure(t, report) for t in case.targets if _plottable(t)]
    if case.metrics:
        rows = [[f"<code>{_e(k)}</code>", _e(_metric(v))] for k, v in case.metrics.items()]
        panels.insert(0, _table("metrics", ["Metric", "Value"], rows, num={1}))
    if panels:
        out.append(f'<div class="panels">{"".join(panels)}</div>')
    if case.evidence:
        out.append(f'<p class="muted">Executed notebook: <code>{_e(case.evidence)}</code></p>')
    return "\n".join(out) + "</article>"


def _table(cls: str, head: list[str], rows: list[list[str]], num: set[int] | None = None) -> str:
    """An HTML table of already-escaped cells; columns in ``num`` are right-aligned numbers."""

    def row(cells: list[str], tag: str) -> str:
        align = [' class="num"' if i in (num or ()) else "" for i in range(len(cells))]
        return (
            "<tr>"
            + "".join(f"<{tag}{a}>{c}</{tag}>" for a, c in zip(align, cells, strict=True))
            + "</tr>"
        )

    body = "".join(row(r, "td") for r in rows)
    return f'<table class="{cls}"><thead>{row(head, "th")}</thead><tbody>{body}</tbody></table>'


def _html_error(err: ExecutionError) -> str:
    where = f"<b>{_e(err.location)}</b>: " if err.location else ""
    out = [f'<div class="errbox"><p>{where}{_e(err.reason)}</p>']
    if err.hint:
        out.append(f'<p class="hint">Hint: {_e(err.hint)}</p>')
    code = [f'<span class="exc">{_e(exc)}</span>' for exc in [_exception(err)] if exc]
    code += [
        f'<span class="{"hl" if hit else "ln"}">{"&gt;" if hit else " "} {n:>3} | {_e(src)}</span>'
        for n, src, hit in _snippet(err)
    ]
    if code:
        out.append("<pre>" + "\n".join(code) + "</pre>")
    return "\n".join(out) + "</div>"


def _plottable(t: TargetResult) -> bool:
    """A scatter of fewer than three distinct points (0/1 labels) says nothing the table doesn't."""
    return t.plot_points is not None and len(set(zip(*t.plot_points, strict=True))) >= 3


def _figure(t: TargetResult, report: ParityReport) -> str:
    assert t.plot_points is not None
    xs, ys = t.plot_points
    off = sum(
        not abs(y - x) <= report.atol + report.rtol * abs(x) for x, y in zip(xs, ys, strict=True)
    )
    caption = f"{t.name}: pipeline against notebook, {_plural(len(xs), 'point')}"
    caption += f", {off} outside tolerance (red)" if off else ""
    return (
        f"<figure>{_scatter(xs, ys, report.rtol, report.atol)}"
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _scatter(xs: tuple[float, ...], ys: tuple[float, ...], rtol: float, atol: float) -> str:
    """A square SVG scatter with the y = x diagonal; points outside tolerance are drawn red."""
    lo, hi, ticks = _axis(min(min(xs), min(ys)), max(max(xs), max(ys)))
    widest = max(len(label) for _, label in ticks)
    size, left, pad = 300, max(58, 20 + 7 * widest), 12  # room for the y tick labels
    plot = size - left - pad

    def px(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot

    def py(v: float) -> float:
        return pad + (hi - v) / (hi - lo) * plot

    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" role="img" aria-label="notebook versus pipeline values">',
        f'<rect x="{left}" y="{pad}" width="{plot}" height="{plot}" class="frame"/>',
    ]
    for i, (v, label) in enumerate(ticks):
        x, y, label = px(v), py(v), _e(label)
        xlabel = label if widest <= 6 or i % 2 == 0 else ""  # long labels would collide on x
        svg.append(
            f'<line x1="{x:.1f}" y1="{pad}" x2="{x:.1f}" y2="{pad + plot}" class="grid"/>'
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{x:.1f}" y="{pad + plot + 16}" class="tick" text-anchor="middle">{xlabel}</text>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{label}</text>'
        )
    svg.append(
        f'<line x1="{px(lo):.1f}" y1="{py(lo):.1f}" x2="{px(hi):.1f}" y2="{py(hi):.1f}" '
        'class="diagonal"/>'
    )
    for x, y in zip(xs, ys, strict=True):
        off = not abs(y - x) <= atol + rtol * abs(x)
        svg.append(
            f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="{3.2 if off else 2.4}" '
            f'class="{"off" if off else "pt"}"/>'
        )
    svg.append(
        f'<text x="{left + plot / 2}" y="{size - 6}" class="axis" text-anchor="middle">'
        "notebook</text>"
        f'<text x="14" y="{pad + plot / 2}" class="axis" text-anchor="middle" '
        f'transform="rotate(-90 14 {pad + plot / 2})">pipeline</text></svg>'
    )
    return "".join(svg)


def _axis(lo: float, hi: float) -> tuple[float, float, list[tuple[float, str]]]:
    """A domain widened to round numbers, and 4 to 7 labelled ticks on it (1-2-5 steps)."""
    if hi - lo <= 1e-12 * max(1.0, abs(lo), abs(hi)):
        lo, hi = lo - max(1.0, abs(lo) * 0.1), hi + max(1.0, abs(hi) * 0.1)
    raw = (hi - lo) / 5
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if m * step >= raw)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    ticks = [lo + i * step for i in range(round((hi - lo) / step) + 1)]
    ticks = [0.0 if abs(t) < step * 1e-9 else float(t) for t in ticks]
    digits = max(2, math.ceil(math.log10(max(abs(lo), abs(hi)) / step)) + 1)  # enough to tell apart
    whole = all(t.is_integer() and abs(t) < 1e7 for t in ticks)  # 2000, not 2e+03
    return lo, hi, [(t, f"{t:.0f}" if whole else f"{t:.{digits}g}") for t in ticks]


_CSS = """

:root{--ok:#1a7f37;--ok-bg:#dafbe1;--bad:#cf222e;--bad-bg:#ffebe9;--err:#8250df;--err-bg:#fbefff;
--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;background:#fff;color:var(--ink);
font:15px/1.55 -apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif}
main{max-width:1080px;margin:0 auto;padding:32px 28px 56px}
h1{font-size:26px;margin:0 0 4px;display:flex;align-items:center;gap:12px}
h2{font-size:19px;margin:36px 0 8px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:16px;margin:0 0 10px;display:flex;align-items:center;gap:10px}
header{padding:20px 24px;border:1px solid var(--line);border-left-width:6px;border-radius:10px;
background:var(--soft)}
header.passed{border-left-color:var(--ok)} header.failed{border-left-color:var(--bad)}
header.error{border-left-color:var(--err)} .counts{margin:0;color:var(--muted)}
.counts b{color:var(--ink)} .lead{margin:0 0 4px;font-size:16px}
.muted{color:var(--muted);font-weight:400;font-size:.85em}
.badge{display:inline-block;padding:1px 10px;border-radius:999px;font-size:12px;font-weight:600;
letter-spacing:.04em;text-transform:uppercase;white-space:nowrap;border:1px solid transparent}
h1 .badge{font-size:14px;padding:3px 14px}
.badge.passed{background:var(--ok-bg);color:var(--ok);border-color:#aceebb}
.badge.failed{background:var(--bad-bg);color:var(--bad);border-color:#ffcecb}
.badge.error{background:var(--err-bg);color:var(--err);border-color:#ecd8ff}
table{border-collapse:collapse;width:100%;margin:6px 0 14px;font-size:14px}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.05em}
.num{text-align:right;font-variant-numeric:tabular-nums} table.metrics{width:auto;min-width:280px}
code,pre{font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,monospace;font-size:13px}
a{color:inherit} a:hover{color:#0969da}
pre{background:var(--soft);border:1px solid var(--line);border-left:4px solid var(--line);
border-radius:6px;padding:10px 14px;margin:8px 0 14px;white-space:pre-wrap;overflow-wrap:anywhere}
pre.mismatch{border-left-color:var(--bad)}
.case{border:1px solid var(--line);border-radius:10px;padding:16px 20px 6px;margin:14px 0}
.case.failed{border-left:4px solid var(--bad)} .case.error{border-left:4px solid var(--err)}
.params{margin:-4px 0 10px;display:flex;flex-wrap:wrap;gap:6px}
.params code{background:var(--soft);border:1px solid var(--line);border-radius:4px;padding:0 6px}
.panels{display:flex;flex-wrap:wrap;align-items:flex-start;gap:28px;margin:4px 0 12px}
.panels table{margin:0}
.errbox{border:1px solid #ecd8ff;border-left:4px solid var(--err);border-radius:6px;
background:var(--err-bg);padding:10px 14px;margin:4px 0 14px}
.errbox p{margin:0 0 6px} .errbox .hint{color:var(--muted)}
.errbox pre{background:#fff;border-left-color:var(--line);margin:8px 0 4px}
pre .exc{color:var(--bad);font-weight:600} pre .ln{color:var(--ink)}
pre .hl{display:inline-block;width:100%;background:var(--bad-bg);font-weight:600} figure{margin:0}
figcaption{font-size:12px;color:var(--muted);text-align:center}
svg .frame{fill:#fff;stroke:var(--line)} svg .grid{stroke:#eef1f4}
svg .diagonal{stroke:#8c959f;stroke-dasharray:4 4} svg .pt{fill:#0969da;fill-opacity:.55}
svg .off{fill:var(--bad);fill-opacity:.9} svg .tick{font-size:11px;fill:var(--muted)}
svg .axis{font-size:12px;fill:var(--ink)} footer{margin-top:40px;color:var(--muted);font-size:12px}
"""


# -- shared helpers -------------------------------------------------------------------------------
def _clean(text: str) -> str:
    """Drop terminal colour codes and characters XML cannot carry (kernel tracebacks have both)."""
    return _NOT_XML.sub("", _ANSI.sub("", text))


def _e(text: str) -> str:
    return html.escape(_clean(str(text)))


def _badge(status: str) -> str:
    key = {"PASSED": "passed", "FAILED": "failed", "ERROR": "error"}.get(status, status)
    return f'<span class="badge {key}">{_e(_STATUS.get(key, status).lower())}</span>'


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


def _target_detail(t: TargetResult) -> str:
    if t.mismatch is None:
        return t.notebook_summary or "agrees"
    m = t.mismatch
    count = f" ({m.n_different} of {m.n_total})" if m.n_different is not None and m.n_total else ""
    return f"{m.reason}{count}"


def _case_detail(case: CaseResult) -> str:
    if case.error is not None:
        where = f"cell {case.error.cell}: " if case.error.cell is not None else ""
        what = f"{case.error.ename}: {case.error.evalue}" if case.error.ename else case.error.reason
        return _clean(where + what).splitlines()[0] if what else "execution failed"
    bad = case.failures
    if bad:
        return "; ".join(f"{t.name}: {_target_detail(t)}" for t in bad)
    text = f"{len(case.targets)} target{'s' * (len(case.targets) != 1)} agree"
    metrics = ", ".join(f"{k}={_metric(v)}" for k, v in case.metrics.items())
    return f"{text}; {metrics}" if metrics else text


def _lead(report: ParityReport) -> str:
    """One sentence a reviewer can act on, before any table."""
    failed, errors = report.count("failed"), report.count("error")
    if not report.cases:
        return "No notebook was tested."
    parts = [f"{_plural(errors, 'case')} could not run to the comparison"] * bool(errors)
    parts += [f"{_plural(failed, 'case')} predicted something its notebook did not"] * bool(failed)
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
