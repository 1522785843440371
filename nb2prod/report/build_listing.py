"""What ``nb2prod build`` prints: its warnings, then what it built or checked.

A small build gets a rich table of every notebook. A big one (more than ``TABLE_ROWS``) gets plain
aligned lines for the notebooks that changed and one summary line: rich measures every cell (about
1.5 ms a row, plus its import), which was a tenth of a 100-notebook build, and plain lines grep well
in CI logs. Colours come from click, which drops them when the output is not a terminal.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import click

from nb2prod.store.build import BuildReport, BuildRow

TABLE_ROWS = 20
#: Dropped statements listed per notebook in a small build; the rest are counted (--explain shows all).
DROPPED_LINES = 12
#: Past this many dropped statements in one build, each notebook gets one line that counts them.
DROPPED_TOTAL = 40
_COLUMNS = ("notebook", "module", "steps", "parameters", "parity", "version", "status")


def print_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(f"{click.style('warning:', fg='yellow')} {warning}", err=True)


def print_rows(report: BuildReport, console: Any) -> None:
    """The table (small builds) or the listing and summary (big ones); then ``--check``'s verdict."""
    if len(report.rows) <= TABLE_ROWS:
        _table(report.rows, console)
        _inferred(report.rows)
        many = sum(len(r.dropped) for r in report.rows) > DROPPED_TOTAL
        _dropped(report.rows, limit=0 if many else DROPPED_LINES)
    else:
        _listing(report)
        changed = [r for r in report.rows if r.status not in ("unchanged", "current")]
        _inferred(changed)
        _dropped(changed, limit=0)
    if report.check:
        stale = report.stale
        click.echo(
            f"{len(stale)} of {len(report.rows)} generated modules are stale; run `nb2prod build`."
            if stale
            else f"All {len(report.rows)} generated modules are current."
        )


def _style(status: str) -> str | None:
    return "red" if status.startswith("stale") else "green" if status in ("new", "updated") else None


def _table(rows: list[BuildRow], console: Any) -> None:
    from rich.table import Table

    table = Table(title=None, show_edge=False, header_style="bold")
    for column in _COLUMNS:
        table.add_column(column)
    for row in rows:
        style = _style(row.status)
        table.add_row(
            row.notebook,
            row.name,
            " → ".join(row.steps),
            ", ".join(row.parameters) or "-",
            ", ".join(row.parity) or "-",
            row.version or "-",
            f"[{style}]{row.status}[/]" if style else row.status,
        )
    if rows:
        console.print(table)


def _inferred(rows: list[BuildRow]) -> None:
    """One line per notebook whose tags were inferred (it had no step tags), saying what."""
    for row in rows:
        if row.inferred:
            click.echo(
                f"{row.notebook}: inferred {'; '.join(row.inferred)}. "
                f"`nb2prod tag {row.notebook} --write` writes these tags into it."
            )


def _dropped(rows: list[BuildRow], *, limit: int) -> None:
    """What each notebook's exported code leaves out, one line each, so nothing vanishes silently;
    past ``limit`` lines (a big build: every line), one count that points at ``--explain``."""
    for row in rows:
        shown = row.dropped[:limit]
        for line in shown:
            click.echo(f"{row.notebook}: dropped {line}")
        rest = len(row.dropped) - len(shown)
        if rest:
            more = " more" if shown else ""
            click.echo(
                f"{row.notebook}: dropped {rest}{more} statement{'s' if rest > 1 else ''} or empty "
                f"cell{'s' if rest > 1 else ''}; `nb2prod build --explain {row.notebook}` lists them."
            )


def _listing(report: BuildReport) -> None:
    quiet = "current" if report.check else "unchanged"
    changed = [r for r in report.rows if r.status != quiet]
    if changed:
        cells = [(r.name, r.version or "-", r.notebook) for r in changed]
        widths = [max(len(c[i]) for c in [("module", "version", "notebook"), *cells]) for i in range(3)]
        line = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
        click.echo(click.style(line.format("module", "version", "notebook", "status"), bold=True))
        for row, (name, version, notebook) in zip(changed, cells, strict=True):
            status = click.style(row.status, fg=_style(row.status)) if _style(row.status) else row.status
            click.echo(line.format(name, version, notebook, status))
    counts = Counter("stale" if r.status.startswith("stale") else r.status for r in report.rows)
    order = ("new", "updated", "stale", "missing", quiet)
    parts = [f"{counts[s]} {s}" + (" (not listed)" if s == quiet else "") for s in order if counts[s]]
    click.echo(f"{len(report.rows)} notebooks: {', '.join(parts)}.")


def explain(plan: Any, inference: Any = None) -> list[str]:
    """``nb2prod build --explain``: every cell, what the exported code does with it, and each
    statement the slice dropped, with why (:mod:`nb2prod.analyse.slicing`). ``inference`` (the
    :class:`~nb2prod.analyse.infer.Inference` of an untagged notebook) says why a cell was skipped."""
    step_of = {cell: s.name for s in plan.steps for cell in s.cells}
    step_of |= {cell: d.step for d in plan.dropped if getattr(d, "step", "") for cell in d.cells}
    parameters = {p.cell for p in plan.parameters}
    by_cell: dict[int, list[Any]] = {}
    for d in plan.dropped:
        by_cell.setdefault(d.cell, []).append(d)
    lines = [f"{plan.notebook.display_path} -> module {plan.name}"]
    for cell in plan.notebook.cells:
        i, tags, gone = cell.index, cell.tags, by_cell.get(cell.index, [])
        whole = any(d.line == 0 for d in gone)
        if i in step_of:
            what = (f"dropped from step {step_of[i]!r}: nothing in it is needed" if whole
                    else f"kept in step {step_of[i]!r}" + (f", {len(gone)} statement(s) dropped" if gone else ""))
        elif tags.imports:
            what = "imports: import statements to the header, definitions to the functions part, " \
                   "configuration to the start of run()"
        elif tags.functions:
            what = "functions: module-level definitions"
        elif i in parameters or tags.parameters:
            what = "parameters"
        elif i in plan.skipped_cells:
            what = f"skipped ({_skip_reason(i, inference)})"
        elif i in plan.unexported_cells:
            what = "not exported (before the first step)"
        else:
            what = "not exported (no code)"
        lines.append(f"cell {i}: {what}")
        lines += [f"    dropped line {d.line}: {d.code} ({d.reason})" for d in gone if d.line]
    kept = sum(1 for c in plan.notebook.cells if c.index in step_of) - sum(
        1 for c, ds in by_cell.items() if c in step_of and any(d.line == 0 for d in ds))
    lines.append(f"{len([d for d in plan.dropped if d.line])} statement(s) dropped; {kept} step cell(s) kept.")
    return lines


def _skip_reason(cell: int, inference: Any) -> str:
    """Why a cell is skipped: its own tag, or what inference saw in it (``plots or shows values only``)."""
    if inference is not None and "skip" in inference.tags.get(cell, ()):
        return f"inferred: {inference.reasons.get(cell) or 'nothing to export'}"
    return "tag 'skip'"


def explain_roles(nb: Any, inference: Any = None) -> list[str]:
    """What ``--explain`` can still show when the analysis stops (the build would exit 2): each
    cell's role under its own and the inferred tags (Kale's rule: an untagged cell continues the
    step above it), and why inference chose it; the error follows."""
    lines = [f"{nb.display_path}: the build stops (the error follows); the cells as tagged:"]
    current: str | None = None
    for cell in nb.cells:
        tags, inferred = cell.tags, tuple(inference.tags.get(cell.index, ())) if inference else ()
        step = tags.step or next((t.split(":", 1)[1] for t in inferred if t.startswith("step:")), None)
        role = tags.role or next((t for t in inferred if t in ("skip", "imports")), None)
        if cell.injected and not role:
            role = "parameters"
        if role:
            what = "skipped" if role == "skip" else role
        elif step:
            current = step
            what = f"starts step {step!r}"
        elif current:
            what = f"in step {current!r}"
        else:
            what = "not exported (before the first step)" if cell.source.strip() else "not exported (no code)"
        marks = [*(f"parity:{v}" for v in tags.parity), *(f"metric:{v}" for v in tags.metrics)]
        marks += [t for t in inferred if t.startswith(("parity:", "metric:")) and t not in marks]
        why = inference.reasons.get(cell.index) if inference else None
        detail = "; ".join(x for x in (", ".join(marks), f"inferred: {why}" if why else "") if x)
        lines.append(f"cell {cell.index}: {what}" + (f" ({detail})" if detail else ""))
    return lines
