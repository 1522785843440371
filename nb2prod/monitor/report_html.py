"""The monitor's HTML page: one self-contained file (inline CSS and SVG, no scripts), like parity's.

Read at a glance: the verdict and the findings first, then each column's training and live
distributions drawn over each other (drifted columns first), then live quality and latency per hour.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from nb2prod import __version__
from nb2prod.monitor.drift import ColumnDrift
from nb2prod.monitor.run import MonitorReport

_REF, _LIVE, _BAD = "#8c959f", "#0969da", "#cf222e"


def write_html(report: MonitorReport, path: Path) -> None:
    word = report.verdict
    cls = "bad" if report.findings else "ok"
    h = report.health
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>nb2prod monitor {_e(report.name)}: {word}</title><style>{_CSS}</style></head><body><main>",
        f'<header class="{cls}"><h1>Monitor: {_e(report.name)} <span class="badge {cls}">{word}</span></h1>',
        f'<p class="lead">{_e(_lead(report))}</p>',
        f'<p class="muted">production model <code>{_e(report.model_id)}</code> &middot; '
        f"{len(report.logs.predictions)} requests in {len(report.logs.files)} log file(s)"
        + (f" since {report.since:%Y-%m-%d %H:%M:%S} UTC" if report.since else "")
        + f" &middot; {_e(report.created)} &middot; nb2prod {__version__}</p>",
    ]
    if report.findings:
        parts.append('<ul class="findings">' + "".join(f"<li>{_e(f)}</li>" for f in report.findings) + "</ul>")
    parts.append("</header>")
    if report.notes:
        parts.append('<div class="notes">' + "".join(f"<p>{_e(n)}</p>" for n in report.notes) + "</div>")
    for title, drift in (("Input drift", report.input_drift), ("Output drift", report.output_drift)):
        if not drift:
            continue
        n = sum(d.drifted for d in drift)
        parts.append(f'<h2>{title} <span class="muted">{n} of {len(drift)} drifted &middot; '
                     f'<span class="key ref"></span> training reference &nbsp;'
                     f'<span class="key live"></span> live</span></h2><div class="grid">')
        for d in sorted(drift, key=lambda d: (not d.drifted, d.status != "ok", d.column)):
            parts.append(_column_card(d))
        parts.append("</div>")
    parts += _quality(report)
    if h is not None and h.requests:
        parts.append("<h2>Health</h2>")
        parts.append(
            '<table class="facts"><tr><th>requests</th><th>rows</th><th>rejected</th><th>failed</th>'
            "<th>p50</th><th>p95</th><th>p99</th></tr>"
            f'<tr><td class="num">{h.requests}</td><td class="num">{h.rows}</td>'
            f'<td class="num">{h.rejected}</td><td class="num">{h.failed}</td>'
            f'<td class="num">{_ms(h.p50)}</td><td class="num">{_ms(h.p95)}</td><td class="num">{_ms(h.p99)}</td></tr></table>'
        )
        if h.errors:
            parts.append("<pre>" + _e("\n".join(f"{n} x {t}" for t, n in h.errors.items())) + "</pre>")
        series = {
            "p50": [(x.hour, x.p50) for x in h.chart if x.p50 is not None],
            "p95": [(x.hour, x.p95) for x in h.chart if x.p95 is not None],
            "p99": [(x.hour, x.p99) for x in h.chart if x.p99 is not None],
        }
        parts.append(f"<h3>Latency per {h.chart_width} (ms)</h3>")
        parts.append(_line_chart(series, {"max_p95_ms": report.settings.max_p95_ms}))
        parts.append(f"<h3>Requests per {h.chart_width}</h3>")
        parts.append(_line_chart({"requests": [(x.hour, float(x.requests)) for x in h.chart],
                                  "rejected + failed": [(x.hour, float(x.rejected + x.failed)) for x in h.chart]}, {}))
    parts.append("</main></body></html>")
    Path(path).write_text("\n".join(parts), encoding="utf-8")


def _lead(report: MonitorReport) -> str:
    if report.findings:
        return "Time to retrain: " + "; ".join(_short(f) for f in report.findings[:4]) + (
            f"; and {len(report.findings) - 4} more" if len(report.findings) > 4 else "")
    return "No drift, quality or health threshold was passed."


def _short(finding: str) -> str:
    """The words before the numbers: "input drift in column 'x4'", "health: failed requests"."""
    head, _, rest = finding.partition(": ")
    if head == "health":
        return "health: " + " ".join(rest.split()[:2])
    return head


def _column_card(d: ColumnDrift) -> str:
    cls = {"drifted": "bad", "ok": "ok"}.get(d.status, "thin")
    stats = [f"{d.kind}, {d.live_rows} live / {d.reference_rows} reference rows"]
    chart = ""
    if d.reference_share or d.live_share:
        chart = _bars(d) if d.kind == "categorical" else _histogram(d)
    return (f'<section class="col {cls}"><h3><code>{_e(d.column)}</code> <span class="badge {cls}">'
            f'{_e(d.status)}</span></h3><p class="stats">{_e(" · ".join(stats))}</p>{chart}'
            f'<p class="why">{_e(d.reason)}</p></section>')


def _histogram(d: ColumnDrift) -> str:
    """Reference as grey bars, live as a blue outline, on the same bins."""
    w, hgt, pad = 300, 120, 18
    n = len(d.reference_share)
    top = max(d.reference_share + d.live_share + [1e-9])
    bw = (w - 2 * pad) / max(1, n)
    out = [f'<svg viewBox="0 0 {w} {hgt + 22}" class="chart" role="img">']
    for i, share in enumerate(d.reference_share):
        bh = (hgt - 10) * share / top
        out.append(f'<rect x="{pad + i * bw:.1f}" y="{hgt - bh:.1f}" width="{bw - 1:.1f}" '
                   f'height="{bh:.1f}" fill="{_REF}" opacity=".45"/>')
    points = []
    for i, share in enumerate(d.live_share):
        y = hgt - (hgt - 10) * share / top
        points += [f"{pad + i * bw:.1f},{y:.1f}", f"{pad + (i + 1) * bw:.1f},{y:.1f}"]
    colour = _BAD if d.drifted else _LIVE
    out.append(f'<polyline points="{pad:.1f},{hgt} {" ".join(points)} {w - pad:.1f},{hgt}" '
               f'fill="none" stroke="{colour}" stroke-width="2"/>')
    out.append(f'<line x1="{pad}" y1="{hgt}" x2="{w - pad}" y2="{hgt}" stroke="#d1d9e0"/>')
    if d.bins:
        out.append(f'<text x="{pad}" y="{hgt + 15}" class="tick">{_fmt(d.bins[0])}</text>')
        out.append(f'<text x="{w - pad}" y="{hgt + 15}" class="tick" text-anchor="end">{_fmt(d.bins[-1])}</text>')
    out.append("</svg>")
    return "".join(out)


def _bars(d: ColumnDrift) -> str:
    cats = [str(c) for c in d.bins][:12]
    w, hgt, pad = 300, 120, 18
    top = max(d.reference_share + d.live_share + [1e-9])
    slot = (w - 2 * pad) / max(1, len(cats))
    colour = _BAD if d.drifted else _LIVE
    out = [f'<svg viewBox="0 0 {w} {hgt + 22}" class="chart" role="img">']
    for i, cat in enumerate(cats):
        for j, (share, fill) in enumerate(((d.reference_share[i], _REF), (d.live_share[i], colour))):
            bh = (hgt - 10) * share / top
            x = pad + i * slot + slot * (0.1 + 0.4 * j)
            out.append(f'<rect x="{x:.1f}" y="{hgt - bh:.1f}" width="{slot * 0.38:.1f}" height="{bh:.1f}" '
                       f'fill="{fill}" opacity="{".45" if j == 0 else ".9"}"/>')
        out.append(f'<text x="{pad + (i + 0.5) * slot:.1f}" y="{hgt + 15}" class="tick" '
                   f'text-anchor="middle">{_e(cat[:10])}</text>')
    out.append("</svg>")
    return "".join(out)


def _quality(report: MonitorReport) -> list[str]:
    q = report.quality
    if q is None:
        return []
    parts = ["<h2>Live quality</h2>",
             f'<p>{q.rows} predicted rows with a known outcome from {q.requests} request(s): '
             f'<b>{_e(q.status)}</b>{" &mdash; " + _e(q.reason) if q.reason and q.status != "degraded" else ""}</p>']
    if not q.metrics:
        return parts
    parts.append('<table class="facts"><tr><th>metric</th><th>live</th><th>training</th><th>gates</th></tr>')
    for m in q.metrics:
        gates = "<br>".join(f'<span class="{"bad" if not g.passed else ""}">{_e(g.line())}</span>'
                            for g in m.gates) or _e(m.note or "-")
        parts.append(f'<tr><td><code>{_e(m.metric)}</code></td><td class="num">{_fmt(m.live)}</td>'
                     f'<td class="num">{_fmt(m.training)}</td><td>{gates}</td></tr>')
    parts.append("</table>")
    for m in q.metrics:
        if m.over_time:
            refs = {"training": m.training} if m.training is not None else {}
            refs.update({f"gate {g.rule}": float(g.rule.split()[-1])
                         for g in m.gates if not g.rule.startswith("max")})
            parts.append(f"<h3>{_e(m.metric)} per {_e(q.width)}</h3>")
            parts.append(_line_chart({m.metric: [(h, v) for h, v, _ in m.over_time]}, refs))
    return parts


def _line_chart(series: dict[str, list[tuple[str, float]]], refs: dict[str, float | None]) -> str:
    """Hours along x, one polyline per series, dashed horizontal lines for thresholds."""
    hours = sorted({h for points in series.values() for h, _ in points})
    if len(hours) < 2:
        when = f" (from {hours[0]} UTC)" if hours else ""
        return f'<p class="muted">one point in time{_e(when)}: nothing to draw over time yet</p>'
    data = [v for points in series.values() for _, v in points]
    top = max(data) if data else 0.0
    # a threshold far above the data would flatten it: name it instead of drawing it
    off = {k: v for k, v in refs.items() if v is not None and top > 0 and v > 3 * top}
    refs = {k: v for k, v in refs.items() if v is not None and k not in off}
    values = data + list(refs.values())
    lo, hi = min(values + [0.0]), max(values)
    hi = hi if hi > lo else lo + 1
    w, hgt, left, pad = 960, 180, 56, 14

    stamps = {h: _stamp(h) for h in hours}
    first, span = min(stamps.values()), max(stamps.values()) - min(stamps.values())

    def x(hour: str) -> float:  # by time, so a quiet gap in traffic shows as a gap
        return left + (w - left - pad) * ((stamps[hour] - first) / span if span else 0.5)

    def y(v: float) -> float:
        return pad + (hgt - 2 * pad) * (1 - (v - lo) / (hi - lo))

    colours = ["#0969da", "#bf8700", "#cf222e", "#8250df"]
    out = [f'<svg viewBox="0 0 {w} {hgt + 24}" class="wide" role="img">',
           f'<line x1="{left}" y1="{y(lo):.1f}" x2="{w - pad}" y2="{y(lo):.1f}" stroke="#d1d9e0"/>',
           f'<text x="{left - 6}" y="{y(hi) + 4:.1f}" class="tick" text-anchor="end">{_fmt(hi)}</text>',
           f'<text x="{left - 6}" y="{y(lo) + 4:.1f}" class="tick" text-anchor="end">{_fmt(lo)}</text>']
    for name, value in refs.items():
        if value is None:
            continue
        out.append(f'<line x1="{left}" y1="{y(value):.1f}" x2="{w - pad}" y2="{y(value):.1f}" '
                   f'stroke="#59636e" stroke-dasharray="5 4"/>')
        out.append(f'<text x="{w - pad}" y="{y(value) - 4:.1f}" class="tick" text-anchor="end">'
                   f'{_e(name)} {_fmt(value)}</text>')
    for i, (name, points) in enumerate(series.items()):
        colour = colours[i % len(colours)]
        coords = " ".join(f"{x(h):.1f},{y(v):.1f}" for h, v in points)
        out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out += [f'<circle cx="{x(h):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>' for h, v in points]
        out.append(f'<text x="{left + 8 + 130 * i}" y="{hgt + 20}" class="tick" style="fill:{colour}">&#9632; {_e(name)}</text>')
    for hour in (hours[0], hours[-1]) if len(hours) > 1 else (hours[0],):
        anchor = "start" if hour == hours[0] and len(hours) > 1 else "end"
        out.append(f'<text x="{x(hour):.1f}" y="{hgt}" class="tick" text-anchor="{anchor}">{_e(hour)} UTC</text>')
    if off:  # in the legend row, right-aligned, so it never covers a line
        text = "; ".join(f"{name} {_fmt(value)} is far above" for name, value in off.items())
        out.append(f'<text x="{w - pad}" y="{hgt + 20}" class="tick" text-anchor="end">{_e(text)}</text>')
    out.append("</svg>")
    return "".join(out)


def _stamp(label: str) -> float:
    from datetime import UTC, datetime

    return datetime.strptime(label, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _e(text: Any) -> str:
    return html.escape(str(text))


_CSS = """
:root{--ok:#1a7f37;--ok-bg:#dafbe1;--bad:#cf222e;--bad-bg:#ffebe9;--ink:#1f2328;--muted:#59636e;
--line:#d1d9e0;--soft:#f6f8fa;--warn-bg:#fff8c5}
*{box-sizing:border-box}
body{margin:0;background:#fff;color:var(--ink);
font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif}
main{max-width:1080px;margin:0 auto;padding:28px 28px 56px}
h1{font-size:26px;margin:0 0 4px;display:flex;align-items:center;gap:12px}
h2{font-size:19px;margin:32px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:14px 0 6px;display:flex;align-items:center;gap:8px}
header{padding:18px 24px;border:1px solid var(--line);border-left-width:6px;border-radius:10px;background:var(--soft)}
header.ok{border-left-color:var(--ok)} header.bad{border-left-color:var(--bad)}
.lead{margin:0 0 4px;font-size:16px} .muted{color:var(--muted);font-weight:400;font-size:.85em}
.findings{margin:10px 0 0;padding-left:20px} .findings li{color:var(--bad);margin:2px 0}
.notes{margin:14px 0;padding:8px 14px;border:1px solid var(--line);border-radius:6px;background:var(--warn-bg)}
.notes p{margin:4px 0;font-size:14px}
.badge{display:inline-block;padding:1px 10px;border-radius:999px;font-size:12px;font-weight:600;
letter-spacing:.04em;text-transform:uppercase;white-space:nowrap;border:1px solid transparent}
h1 .badge{font-size:14px;padding:3px 14px}
.badge.ok{background:var(--ok-bg);color:var(--ok)} .badge.bad{background:var(--bad-bg);color:var(--bad)}
.badge.thin{background:var(--soft);color:var(--muted);border-color:var(--line)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px}
.col{border:1px solid var(--line);border-radius:8px;padding:8px 12px}
.col.bad{border-left:4px solid var(--bad);background:#fffafa} .col.thin{opacity:.75}
.col h3{margin:2px 0 0} .stats{margin:0;color:var(--muted);font-size:13px}
.why{margin:2px 0 0;color:var(--muted);font-size:12px}
.chart{width:100%;height:auto;display:block} .wide{width:100%;height:auto;display:block}
.tick{font-size:11px;fill:#59636e}
.key{display:inline-block;width:12px;height:10px;vertical-align:middle;border-radius:2px}
.key.ref{background:#8c959f;opacity:.6} .key.live{background:#0969da}
table{border-collapse:collapse;margin:6px 0 14px;font-size:14px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.05em}
.num{text-align:right;font-variant-numeric:tabular-nums} span.bad{color:var(--bad);font-weight:600}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
pre{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:8px 12px;white-space:pre-wrap}
"""
