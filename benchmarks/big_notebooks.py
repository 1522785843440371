"""How long `nb2prod build` takes on the two big inputs of the bad-input corpus (not a test: timings).

    python benchmarks/big_notebooks.py [--repeat 3]

Builds a 50 MB notebook of image outputs and the same notebook stripped of outputs (outputs are never
exported, so both should take about the same time), and a notebook of 5,000 cells. Prints the median
wall time of each build, in a fresh process, and the ratio heavy / stripped.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.test_bad_inputs import write_many_cells, write_output_heavy  # noqa: E402


def timed_build(notebook: Path, out: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "nb2prod", "build", str(notebook), "--out", str(out)],
        cwd=notebook.parent, capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"build of {notebook} failed:\n{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        heavy = write_output_heavy(folder / "heavy.ipynb")
        stripped = folder / "stripped" / "heavy.ipynb"
        many = write_many_cells(folder / "many.ipynb")
        medians = {}
        for label, notebook in (("50 MB of outputs", heavy), ("same, stripped", stripped), ("5,000 cells", many)):
            times = [timed_build(notebook, folder / f"gen{i}-{notebook.stem}{len(medians)}") for i in range(args.repeat)]
            medians[label] = statistics.median(times)
            size = notebook.stat().st_size / 1e6
            print(f"{label:18} {size:8.1f} MB  median {medians[label]:6.2f} s  ({', '.join(f'{t:.2f}' for t in times)})")
        ratio = medians["50 MB of outputs"] / medians["same, stripped"]
        print(f"heavy / stripped: {ratio:.2f}x")


if __name__ == "__main__":
    main()
