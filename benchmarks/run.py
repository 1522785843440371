"""nb2prod's benchmark: every figure of issue 8 as a ratio against what users would otherwise run.

    python benchmarks/run.py                 # the full set, 3 repetitions per side (a few minutes)
    python benchmarks/run.py --quick         # one repetition, smaller inputs: a smoke test
    python benchmarks/run.py --repeat 5 --markdown
    python benchmarks/run.py --only build,compare

Both sides of a ratio run interleaved in the same run; the table shows medians. Everything happens
in a temporary folder; nothing is written into the repository. Exit code 0 when every figure meets
its target, 1 when one misses it, 2 when a side failed to run.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # nothing written into the repository, not even __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python benchmarks/run.py`

from benchmarks import workloads  # noqa: E402
from benchmarks.timing import BenchmarkError, Figure, file_creation_cost, format_table  # noqa: E402

GROUPS = ("startup", "build", "parity", "isolation", "many", "compare", "memory")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 repetition, smaller inputs")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions per side (default 3)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"comma-separated: {', '.join(GROUPS)}")
    parser.add_argument("--notebook", default="diabetes_regression", help="example for parity figures")
    parser.add_argument("--jobs", type=int, default=2, help="-j for the parameter-set figure")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    if unknown := only - set(GROUPS):
        parser.error(f"unknown group(s) {', '.join(sorted(unknown))}; known: {', '.join(GROUPS)}")
    repeat = args.repeat or (1 if args.quick else 3)
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731

    figures: list[Figure] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nb2prod-bench-") as tmp:
        project = workloads.Project.create(Path(tmp))
        creation = file_creation_cost(Path(tmp) / "probe")
        try:
            if "startup" in only:
                say("start-up ...")
                figures.append(workloads.startup(project, max(repeat, 5) * 2))
            if "build" in only:
                say("build throughput ...")
                figures += workloads.build_throughput(project, repeat, 100)
            if "parity" in only:
                say("parity overhead ...")
                figures.append(workloads.parity_one(project, repeat, args.notebook))
            if "isolation" in only:
                say("working folders ...")
                figures.append(workloads.isolation(project, repeat, args.notebook))
            if "many" in only:
                say("parameter sets ...")
                figures.append(workloads.parity_many(project, repeat, args.notebook, args.jobs))
            if "compare" in only:
                say("comparison ...")
                size, rows = (1_000_000, 100_000) if args.quick else (10_000_000, 1_000_000)
                figures += workloads.comparison(max(repeat, 5), size, rows)
            if "memory" in only:
                say("harness memory ...")
                figures.append(workloads.harness_memory(project, 10_000_000))
        except BenchmarkError as err:
            say(f"benchmark failed: {err}")
            return 2
    say(
        f"\n{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
        f"{_cpus()} CPUs; {repeat} repetition(s) per side; medians; {time.perf_counter() - started:.0f} s"
    )
    print(format_table(figures, args.markdown))
    slow = " (slow: files were deleted nearby in the last minutes; figures that create many files are inflated)"
    say(f"  disk: {creation:.0f} us to create a file at the start{slow if creation > 150 else ''}")
    notes = [f"{f.name.split(':')[0]}: {f.note}" for f in figures if f.note]
    for note in dict.fromkeys(notes):
        say(f"  {note}")
    say("every run, to judge the noise (seconds; ours | baseline):")
    for f in figures:
        if f.value is None and f.ours:
            runs = " ".join(f"{t:.2f}" for t in f.ours) + " | " + " ".join(f"{t:.2f}" for t in f.theirs)
            say(f"  {f.name.split(':')[0]} {f.ratio:.2f}: {runs}")
    return 0 if all(f.passed for f in figures) else 1


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
