"""Tell "the generated code diverged" from "the notebook is not reproducible".

A parity mismatch only means something when the notebook agrees with itself. After a mismatch the
notebook executes once more, with the same parameters and the same seed, and the two notebook runs
go through the same comparison as notebook and pipeline did. Targets that moved between the runs
make the case "not reproducible"; the static randomness hints say which lines to fix.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nb2prod.errors import ExecutionError
from nb2prod.parity.results import CaseResult, Mismatch, TargetResult

if TYPE_CHECKING:
    from nb2prod.analyse.randomness import RandomnessHint
    from nb2prod.parity.job import ParityJob

FIRST, SECOND = "run 1", "run 2"


def rerun_path(evidence: Path) -> Path:
    """Where the second executed notebook is kept, next to the first."""
    return evidence.with_name(f"{evidence.stem}-rerun{evidence.suffix}")


def run_again(
    case: CaseResult,
    job: ParityJob,
    execute: Callable[[Path], Any],
    first: dict[str, Any],
    *,
    rtol: float,
    atol: float,
    seed: int | None,
) -> None:
    """Execute ``job``'s notebook a second time (``execute``, as the first run was) and record on
    ``case`` whether it reproduced itself."""
    from nb2prod.analyse.randomness import notebook_hints
    from nb2prod.parity.compare import compare

    output = rerun_path(job.evidence)
    started = time.perf_counter()
    try:
        second = execute(output)
    except ExecutionError as err:
        where = f" in cell {err.cell}" if err.cell is not None else ""
        case.moved.append(
            Mismatch("execution", f"the second notebook run failed{where} where the first did not: "
                     f"{err.reason}")
        )
    else:
        for target in job.targets:
            a, b = target.name in first, target.name in second.values
            if a and b:
                moved = compare(target.name, first[target.name], second.values[target.name],
                                rtol=rtol, atol=atol)
                if moved is not None:
                    case.moved.append(moved.relabel(FIRST, SECOND))
            elif a != b:
                case.moved.append(
                    Mismatch(target.name, f"defined after cell {target.cell} in {FIRST if a else SECOND} "
                             "only", labels=(FIRST, SECOND))
                )
    case.timings["rerun"] = time.perf_counter() - started
    case.rerun_evidence = str(output) if output.is_file() else None
    case.reproducible = not case.moved
    case.seed = seed
    case.hints = notebook_hints(job.notebook, display=job.display)


def target_status(case: CaseResult, t: TargetResult) -> str:
    """The target's one verdict (:meth:`CaseResult.verdict`), for the reporters."""
    return case.verdict(t)


def diagnosis_text(case: CaseResult) -> str:
    """What the second notebook run found, and the lines that draw unseeded random numbers."""
    if case.reproducible is None:
        return ""
    hints = [f"  - {h.describe()}" for h in relevant_hints(case)]
    if case.reproducible:
        lines = [
            "diverged: a second notebook run with the same parameters reproduced the first, "
            "so the generated pipeline computes something else."
        ]
        if hints:
            lines += ["Randomness that can make the two sides draw differently:", *hints]
        return "\n".join(lines)
    seeded = f" and --seed {case.seed}" if case.seed is not None else ""
    lines = [
        f"not reproducible: a second run of the notebook with the same parameters{seeded} "
        "disagreed with the first, so the mismatch with the pipeline says nothing about the "
        "generated code.",
        "Moved between the two notebook runs:",
        *("\n".join("  " + line for line in m.describe().splitlines()) for m in case.moved),
    ]
    if hints:
        lines += ["Seed these lines:", *hints]
    advice = diagnosis_advice(case)
    return "\n".join([*lines, *[advice] * bool(advice)])


def relevant_hints(case: CaseResult) -> list[RandomnessHint]:
    """The hints that can explain this case: all of them for an unseeded notebook that disagrees
    with itself; once both sides were seeded (or the notebook reproduced itself), only the ones
    ``--seed`` cannot fix (a skipped cell drawing first, a generator made without a seed)."""
    if case.reproducible is False and case.seed is None:
        return list(case.hints)
    return [h for h in case.hints if not h.seed_fixes]


def case_word(case: CaseResult) -> str:
    """The status as a reader should take it: a mismatch is "diverged" once the notebook is known
    to reproduce itself."""
    return "diverged" if case.status == "failed" and case.reproducible else case.status


def diagnosis_advice(case: CaseResult) -> str:
    """The last line of a "not reproducible" verdict: whether --seed is enough, or where to look."""
    if case.reproducible is not False:
        return ""
    if not relevant_hints(case):
        if case.hints:  # found, but --seed covers them: they do not explain this on their own
            found = "; ".join(f"{h.location}: `{h.call}`" for h in case.hints[:3])
            more = f" and {len(case.hints) - 3} more" if len(case.hints) > 3 else ""
            return (
                f"The unseeded calls found ({found}{more}) draw from streams --seed {case.seed} "
                "seeds, so they do not explain this alone: give them an explicit seed anyway, and "
                "look for clocks, threads, or data that changes between runs."
            )
        return (
            "No unseeded call was found in the code: look for clocks, unordered sets of strings "
            "(PYTHONHASHSEED; --seed fixes those), threads, or data that changes between runs."
        )
    if case.seed is None and all(h.seed_fixes for h in case.hints):
        return (
            "Or run with --seed N: it seeds random, numpy.random, PYTHONHASHSEED (and torch and "
            "TensorFlow where imported) in the notebook and in the pipeline, before either runs."
        )
    return ""
