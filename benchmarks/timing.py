"""Side-by-side timing: both sides of a ratio run interleaved, in the same run, and give medians.

On a shared machine the load drifts; running A, B, B, A, A, B ... puts both sides under the same
drift, and medians of several repetitions shrug off the odd slow run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class BenchmarkError(RuntimeError):
    """A side of a benchmark failed: its figure would mean nothing."""


@dataclass
class Figure:
    """One row of the table: ``ours / theirs`` (medians), against ``target``."""

    name: str
    ours: list[float] = field(default_factory=list)
    theirs: list[float] = field(default_factory=list)
    target: float = 1.0
    higher_is_better: bool = False  # for figures that are not a time ratio
    ours_label: str = ""
    theirs_label: str = ""
    unit: str = "s"
    note: str = ""
    value: float | None = None  # a figure computed otherwise (e.g. memory), else the ratio

    @property
    def ratio(self) -> float:
        if self.value is not None:
            return self.value
        return statistics.median(self.ours) / statistics.median(self.theirs)

    @property
    def passed(self) -> bool:
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target


def run_command(argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None) -> float:
    """Wall-clock seconds of one command; a non-zero exit is an error (the figure would be void)."""
    started = time.perf_counter()
    done = subprocess.run(
        list(argv), cwd=cwd, env=env or os.environ.copy(), capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchmarkError(
            f"`{' '.join(map(str, argv))}` exited with {done.returncode}:\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return elapsed


def file_creation_cost(folder: Path, files: int = 500) -> float:
    """Microseconds to create one small file in a new ``folder`` (kept: deleting it would raise the
    cost it measures). About 30 on a settled disk here; many times that within minutes of deleting
    thousands of files, which weighs on figures by how many files each side creates."""
    folder.mkdir(parents=True)
    started = time.perf_counter()
    for i in range(files):
        with open(folder / f"probe_{i}.txt", "w", encoding="utf-8") as fh:
            fh.write("x\n")
    return (time.perf_counter() - started) / files * 1e6


def interleave(
    figure: Figure,
    ours: Callable[[], float],
    theirs: Callable[[], float],
    repeat: int,
    *,
    before: Callable[[], None] | None = None,
) -> Figure:
    """Run both sides ``repeat`` times, alternating which goes first; ``before`` resets state."""
    for i in range(repeat):
        order = [(figure.ours, ours), (figure.theirs, theirs)]
        for bucket, side in order if i % 2 == 0 else reversed(order):
            if before is not None:
                before()
            bucket.append(side())
    return figure


def format_table(figures: Sequence[Figure], markdown: bool) -> str:
    """The results as a Markdown table (the README takes it verbatim) or aligned plain text."""
    header = ["figure", "nb2prod", "baseline", "ratio", "target", "result"]
    rows = []
    for f in figures:
        if f.value is not None:
            ours, theirs = f.ours_label, f.theirs_label
        else:
            ours = f"{statistics.median(f.ours):.3f} {f.unit}" + (f" {f.ours_label}" * bool(f.ours_label))
            theirs = f"{statistics.median(f.theirs):.3f} {f.unit} {f.theirs_label}".rstrip()
        target = ("≥ " if f.higher_is_better else "≤ ") + f"{f.target:g}"
        rows.append([f.name, ours, theirs, f"{f.ratio:.2f}", target, "PASS" if f.passed else "MISS"])
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*r) for r in [header, *rows])
