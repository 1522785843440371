"""What every parity reporter shares: the verdict line, status words, and text helpers.

The console, JUnit and Markdown writers (``formats``) and the HTML page (``html_report``) import these,
so the outputs cannot disagree on a word.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from nb2prod.errors import EXIT_CHECK_FAILED, EXIT_OK, ExecutionError
from nb2prod.parity.reproducibility import relevant_hints
from nb2prod.parity.results import CaseResult, Mismatch, ParityReport, TargetResult

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
    if word == "FAILED" and not report.count("failed") and report.count("not reproducible"):
        return "NOT REPRODUCIBLE"
    return word


# -- console --------------------------------------------------------------------------------------
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
    moved = {m.target: m for m in case.moved} if case is not None else {}
    if t.name in moved:
        agreed = " (it matched the pipeline this time)" if t.mismatch is None else ""
        return f"moved between two notebook runs{agreed}: {_mismatch_detail(moved[t.name])}"
    if t.mismatch is None:
        return t.notebook_summary or "agrees"
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
        names = ", ".join(t.name for t in bad)
        return f"not reproducible: {names}; the notebook disagrees with itself ({moved}){hints}"
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
    gates = [g.line() for c in report.cases for g in c.gate_failures]
    parts += [f"{_plural(len(gates), 'gate')} failed ({'; '.join(gates[:2])})"] * bool(gates)
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
