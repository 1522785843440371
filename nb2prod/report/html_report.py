"""The HTML parity report: one self-contained page (inline CSS and SVG, no scripts).

Split from ``report.py`` (console, JUnit, Markdown), whose helpers and words it shares so the page
never disagrees with the other reporters.
"""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime
from pathlib import Path

from nb2prod import __version__
from nb2prod.errors import ExecutionError
from nb2prod.parity.reproducibility import (
    diagnosis_advice,
    diagnosis_text,
    relevant_hints,
    target_status,
)
from nb2prod.parity.results import CaseResult, ParityReport, TargetResult
from nb2prod.report.common import (
    _STATUS,
    _by_notebook,
    _case_detail,
    _clean,
    _exception,
    _lead,
    _metric,
    _params_text,
    _plural,
    _seconds,
    _snippet,
    verdict,
)


def write_html(report: ParityReport, path: str | Path) -> None:
    """One self-contained page (inline CSS and SVG, no scripts) a reviewer can open from CI."""
    word = verdict(report)
    counts = " &middot; ".join(
        f"<b>{report.count(s)}</b> {label}"
        for s, label in [
            ("passed", "passed"),
            ("failed", "failed"),
            *[("not reproducible", "not reproducible")] * bool(report.count("not reproducible")),
            ("error", "error" if report.count("error") == 1 else "errors"),
        ]
    )
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>nb2prod parity: {word}</title><style>{_CSS}</style></head><body><main>",
        f'<header class="{_css(word)}"><h1>Parity report {_badge(word)}</h1>',
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
        f'<article class="case {_css(case.status)}" id="case-{n}">',
        f"<h3>{_badge(case.status)} <code>{_e(case.param_id)}</code>{version}</h3>",
    ]
    if case.params:
        chips = "".join(f"<code>{_e(k)}={_e(repr(v))}</code>" for k, v in case.params.items())
        out.append(f'<p class="params">{chips}</p>')
    if case.error is not None:
        out.append(_html_error(case.error))
    if case.gates:
        items = "".join(
            f'<li class="{"passed" if g.passed else "failed"}">{_e(g.line())}</li>' for g in case.gates
        )
        out.append(f'<ul class="gates">{items}</ul>')
    if case.targets:
        rows = [
            [
                f"<code>{_e(t.name)}</code>",
                _e(t.kind),
                "-" if t.cell is None else str(t.cell),
                _e(t.notebook_summary),
                _e(t.pipeline_summary),
                _badge(target_status(case, t)),
            ]
            for t in case.targets
        ]
        out.append(
            _table("targets", ["Target", "Kind", "Cell", "Notebook", "Pipeline", "Result"], rows)
        )
    if case.status == "not reproducible":
        out.append(_html_diagnosis(case))
    else:
        out += [
            f'<pre class="mismatch">{_e(t.mismatch.describe())}</pre>'
            for t in case.failures
            if t.mismatch
        ]
        if case.failures and case.reproducible is not None:
            out.append(_html_diagnosis(case))
    panels = [_figure(t, report) for t in case.targets if _plottable(t)]
    if case.metrics:
        rows = [[f"<code>{_e(k)}</code>", _e(_metric(v))] for k, v in case.metrics.items()]
        panels.insert(0, _table("metrics", ["Metric", "Value"], rows, num={1}))
    if panels:
        out.append(f'<div class="panels">{"".join(panels)}</div>')
    if case.evidence:
        out.append(f'<p class="muted">Executed notebook: <code>{_e(case.evidence)}</code></p>')
    if case.rerun_evidence:
        out.append(f'<p class="muted">Second run: <code>{_e(case.rerun_evidence)}</code></p>')
    if case.written_files:
        out.append(f'<p class="muted">Files each side wrote: <code>{_e(case.written_files)}</code></p>')
    return "\n".join(out) + "</article>"


def _html_diagnosis(case: CaseResult) -> str:
    """The second notebook run's finding, and the unseeded calls as a list naming cell and line."""
    first = diagnosis_text(case).partition("\n")[0]
    kind = "repro" if case.reproducible else "unrepro"
    out = [f'<div class="diagnosis {kind}"><p>{_e(first)}</p>']
    if case.moved:
        moved = "\n".join(m.describe() for m in case.moved)
        out.append(f"<p>Moved between the two notebook runs:</p><pre>{_e(moved)}</pre>")
    hints = relevant_hints(case)
    if hints:
        out.append("<p>Seed these lines:</p>" if not case.reproducible else
                   "<p>Randomness that can make the two sides draw differently:</p>")
        items = "".join(
            f"<li><b>{_e(h.location)}</b>: {_e(h.what)} <span class=\"hint\">Fix: {_e(h.fix)}</span>"
            "</li>"
            for h in hints
        )
        out.append(f"<ul>{items}</ul>")
    advice = diagnosis_advice(case)
    if advice:
        out.append(f'<p class="hint">{_e(advice)}</p>')
    return "\n".join(out) + "</div>"


def _css(status: str) -> str:
    """A status or verdict as a CSS class: passed, failed, unrepro, error."""
    key = status.lower()
    return "unrepro" if key == "not reproducible" else key


def _e(text: str) -> str:
    return html.escape(_clean(str(text)))


def _badge(status: str) -> str:
    key = _css(status)
    return f'<span class="badge {key}">{_e(_STATUS.get(status.lower(), status).lower())}</span>'


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
.gates{margin:0 0 10px;padding-left:20px} .gates li.failed{color:var(--bad);font-weight:600}

:root{--ok:#1a7f37;--ok-bg:#dafbe1;--bad:#cf222e;--bad-bg:#ffebe9;--err:#8250df;--err-bg:#fbefff;
--warn:#9a6700;--warn-bg:#fff8c5;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa}
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
header.error{border-left-color:var(--err)} header.unrepro{border-left-color:var(--warn)} .counts{margin:0;color:var(--muted)}
.counts b{color:var(--ink)} .lead{margin:0 0 4px;font-size:16px}
.muted{color:var(--muted);font-weight:400;font-size:.85em}
.badge{display:inline-block;padding:1px 10px;border-radius:999px;font-size:12px;font-weight:600;
letter-spacing:.04em;text-transform:uppercase;white-space:nowrap;border:1px solid transparent}
h1 .badge{font-size:14px;padding:3px 14px}
.badge.passed{background:var(--ok-bg);color:var(--ok);border-color:#aceebb}
.badge.failed{background:var(--bad-bg);color:var(--bad);border-color:#ffcecb}
.badge.error{background:var(--err-bg);color:var(--err);border-color:#ecd8ff}
.badge.unrepro{background:var(--warn-bg);color:var(--warn);border-color:#eed888}
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
.case.unrepro{border-left:4px solid var(--warn)}
.diagnosis{border:1px solid var(--line);border-left:4px solid var(--warn);border-radius:6px;
background:var(--warn-bg);padding:10px 14px;margin:4px 0 14px} .diagnosis.repro{background:var(--soft)}
.diagnosis p{margin:0 0 6px} .diagnosis pre{background:#fff} .diagnosis ul{margin:0 0 6px;padding-left:20px}
.diagnosis .hint{color:var(--muted)}
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


