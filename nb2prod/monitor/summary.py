"""The monitor's words: console lines and a Markdown summary for a CI job page.

Both read :class:`MonitorReport` and lead with the same verdict and findings, so a person reading
the CI log and one reading the job summary see the same reasons.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nb2prod.monitor.run import MonitorReport


def headline(report: MonitorReport) -> str:
    if report.findings:
        return f"{report.name}: RETRAIN, {len(report.findings)} finding(s) against {report.model_id}"
    return f"{report.name}: OK against {report.model_id}"


def console_lines(report: MonitorReport) -> list[str]:
    lines = [headline(report)]
    lines += [f"  - {f}" for f in report.findings]
    h = report.health
    if h is not None and h.requests:
        lines.append(
            f"  requests {h.requests} (rejected {h.rejected}, failed {h.failed}), rows {h.rows}, "
            f"latency p50 {_ms(h.p50)} p95 {_ms(h.p95)} p99 {_ms(h.p99)}"
        )
    drifted = sum(d.drifted for d in report.input_drift)
    if report.input_drift:
        lines.append(f"  input drift: {drifted} of {len(report.input_drift)} column(s) drifted")
    q = report.quality
    if q is not None:
        for m in q.metrics:
            if m.live is not None:
                lines.append(f"  quality {m.metric}: live {m.live:.4g} on {q.rows} rows, training {_n(m.training)}")
    lines += [f"  note: {n}" for n in report.notes]
    return lines


def write_markdown(report: MonitorReport, path: Path) -> None:
    word = "RETRAIN" if report.findings else "OK"
    lines = [f"## nb2prod monitor {report.name}: {word}", "",
             f"Production model `{report.model_id}`; {len(report.logs.predictions)} logged requests"
             f" from {len(report.logs.files)} file(s).", ""]
    if report.findings:
        lines += [f"- **{_md(f)}**" for f in report.findings] + [""]
    lines += ["### Input drift", "", "| column | kind | status | test | p-value | PSI | detail |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for d in report.input_drift + report.output_drift:
        status = f"**{d.status}**" if d.drifted else d.status
        lines.append(f"| `{_md(d.column)}` | {d.kind} | {status} | {d.test or '-'} | {_n(d.pvalue)} | "
                     f"{_n(d.psi)} | {_md(d.reason)} |")
    q = report.quality
    if q is not None:
        lines += ["", "### Live quality", "", f"{q.rows} rows with outcomes ({q.status})", ""]
        if q.metrics:
            lines += ["| metric | live | training | gates |", "| --- | --- | --- | --- |"]
            for m in q.metrics:
                gates = "<br>".join(_md(g.line()) for g in m.gates) or _md(m.note or "-")
                lines.append(f"| `{m.metric}` | {_n(m.live)} | {_n(m.training)} | {gates} |")
    h = report.health
    if h is not None:
        lines += ["", "### Health", "",
                  f"{h.requests} requests, {h.rejected} rejected, {h.failed} failed; latency p50 "
                  f"{_ms(h.p50)}, p95 {_ms(h.p95)}, p99 {_ms(h.p99)}"]
        if h.hours:
            lines += ["", "| hour (UTC) | requests | rejected | failed | p50 | p95 | p99 |",
                      "| --- | --- | --- | --- | --- | --- | --- |"]
            lines += [f"| {x.hour} | {x.requests} | {x.rejected} | {x.failed} | {_ms(x.p50)} | "
                      f"{_ms(x.p95)} | {_ms(x.p99)} |" for x in h.hours[-48:]]
    if report.notes:
        lines += ["", "### Notes", ""] + [f"- {_md(n)}" for n in report.notes]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _n(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"
