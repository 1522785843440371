"""What ``nb2prod build`` prints: a rich table for a few notebooks, plain lines for many."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from nb2prod.report.build_listing import TABLE_ROWS, print_rows
from nb2prod.store.build import BuildReport, BuildRow


def _row(k: int, status: str) -> BuildRow:
    return BuildRow(f"nbs/nb_{k:03d}.ipynb", f"nb_{k:03d}", ("load", "fit"), ("alpha",), ("y",), "v2", status)


def test_a_small_build_is_one_table_with_every_notebook(capsys):
    report = BuildReport(rows=[_row(0, "new"), _row(1, "unchanged")])
    out = StringIO()
    print_rows(report, Console(file=out, width=160))
    table = out.getvalue()
    assert "nb_000" in table and "nb_001" in table and "load → fit" in table and "│" in table
    assert capsys.readouterr().out == ""


def test_a_big_build_lists_what_changed_in_plain_lines_and_sums_up(capsys):
    statuses = ["new"] * 3 + ["updated"] * 2 + ["unchanged"] * (TABLE_ROWS + 5)
    report = BuildReport(rows=[_row(k, s) for k, s in enumerate(statuses)])
    print_rows(report, console=None)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["module", "version", "notebook", "status"]
    assert [line.split() for line in lines[1:4]] == [
        [f"nb_{k:03d}", "v2", f"nbs/nb_{k:03d}.ipynb", "new"] for k in range(3)
    ]
    assert len(lines) == 1 + 5 + 1  # header, the five that changed, the summary
    assert lines[-1] == f"{len(statuses)} notebooks: 3 new, 2 updated, {TABLE_ROWS + 5} unchanged (not listed)."


def test_a_big_check_names_the_stale_ones_and_gives_the_verdict(capsys):
    rows = [_row(k, "current") for k in range(TABLE_ROWS + 1)]
    rows[7] = _row(7, "stale: exported code changed since v2")
    print_rows(BuildReport(rows=rows, check=True), console=None)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].endswith("stale: exported code changed since v2") and "nb_007" in lines[1]
    assert lines[2] == f"{TABLE_ROWS + 1} notebooks: 1 stale, {TABLE_ROWS} current (not listed)."
    assert lines[3] == f"1 of {TABLE_ROWS + 1} generated modules are stale; run `nb2prod build`."
