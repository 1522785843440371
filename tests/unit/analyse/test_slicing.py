"""Issue 15 item 1: a step exports what the targets, later steps and side effects need."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nb2prod.analyse.planner import analyse
from nb2prod.read.notebook import load_notebook
from nb2prod.store.build import build
from tests.nbfactory import write_notebook


def plan_of(tmp_path: Path, cells):
    return analyse(load_notebook(write_notebook(tmp_path, cells), root=tmp_path))


def code_of(plan) -> str:
    return "\n".join(s.code for s in plan.steps)


def test_dead_stores_discarded_results_and_plots_go_and_each_is_listed(tmp_path):
    plan = plan_of(tmp_path, [
        ("import numpy as np\nimport matplotlib.pyplot as plt\nimport seaborn as sns", ["imports"]),
        ("X = np.arange(12.0).reshape(6, 2)\ny = X @ np.array([1.0, 2.0])\nunused = X * 2\n"
         "y.mean()\nplt.plot(y)\nsns.histplot(y)", ["step:load"]),
        ("# examine the shape\nX.shape", []),
        ("w = np.linalg.lstsq(X, y, rcond=None)[0]\ny_pred = X @ w\nnp.abs(y_pred - y).max()\n"
         "print(w)", ["step:fit", "parity:y_pred"]),
    ])
    code = code_of(plan)
    for gone in ("unused", "y.mean()", "plt.", "sns.", "examine the shape", "X.shape", "np.abs", "print("):
        assert gone not in code, gone
    assert "y_pred = X @ w" in code and "w = np.linalg.lstsq" in code
    assert plan.header == "import numpy as np"  # matplotlib and seaborn: only plots used them
    assert plan.imported_modules == ("numpy",)
    reasons = {d.describe() for d in plan.dropped}
    assert "cell 1 line 3: `unused = X * 2` (dead store: unused not used by any target or later step)" in reasons
    assert "cell 1 line 5: `plt.plot(y)` (plotting)" in reasons
    assert "cell 2: nothing left: the cell goes, comments too" in reasons
    assert "cell 3 line 4: `print(w)` (only prints)" in reasons


def test_what_may_change_a_kept_object_stays(tmp_path):
    plan = plan_of(tmp_path, [
        ("import numpy as np\nfrom sklearn.preprocessing import StandardScaler", ["imports"]),
        ("def widen(a):\n    a.append(1)\n\nitems = [0]\nwiden(items)\n"  # an unknown call on a kept name
         "scaler = StandardScaler()\nwrapper = [scaler]\nwrapper[0].fit(np.ones((3, 1)))\n"  # shared object
         "np.random.seed(0)\nnoise = np.random.rand(2)\n"  # module state; a draw the seed makes matter
         "with open('out.txt', 'w') as f:\n    f.write('x')\n"
         "transformed = scaler.fit_transform(np.ones((3, 1)))", ["step:a"]),
        ("n = len(items)\nmean = float(scaler.mean_[0])", ["step:b", "parity:n", "metric:mean"]),
    ])
    code = code_of(plan)
    for kept in ("widen(items)", "wrapper[0].fit(", "np.random.seed(0)", "\nnp.random.rand(2)",
                 "open('out.txt', 'w')"):
        assert kept in code, kept
    # kept for what it changes (scaler); the name nobody reads goes, so ruff's F841 has nothing to say
    assert "\nscaler.fit_transform(np.ones((3, 1)))" in code and "transformed" not in code


def test_keep_tag_and_directive_keep_every_statement(tmp_path):
    plan = plan_of(tmp_path, [
        ("x = 1\nside = x + 1", ["step:a", "keep"]),
        ("#| keep\nother = x * 3", []),
        ("y = x", ["parity:y"]),
    ])
    assert "side = x + 1" in code_of(plan) and "other = x * 3" in code_of(plan)


def test_a_notebook_without_targets_keeps_every_value(tmp_path):
    plan = plan_of(tmp_path, [("x = 1\nx + 1\nz = x * 2", ["step:a"])])
    assert "z = x * 2" in code_of(plan) and "x + 1" not in code_of(plan)


def test_a_dropped_statement_no_longer_needs_what_only_a_skipped_cell_defines(tmp_path):
    plan = plan_of(tmp_path, [
        ("offset = 3", ["skip"]),
        ("x = 1\ncheck = x + offset", ["step:a", "parity:x"]),
    ])
    assert "offset" not in code_of(plan)


def test_the_sliced_module_runs_and_returns_the_targets(tmp_path):
    path = write_notebook(tmp_path, [
        ("import numpy as np", ["imports"]),
        ("np.random.seed(1)\nwaste = np.random.rand(5)\nX = np.random.rand(4, 2)\nX.sum()", ["step:a"]),
        ("total = float(X.sum())\nignored = total * 2", ["step:b", "parity:total"]),
    ])
    report = build([path], tmp_path / "gen", root=tmp_path)
    assert report.exit_code == 0
    import numpy as np

    np.random.seed(1)
    np.random.rand(5)
    expected = float(np.random.rand(4, 2).sum())
    out = subprocess.run(
        [sys.executable, "-c", "import gen.nb as m; print(repr(m.run()['total']))"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) == expected  # the dead draw stays: the seeded sequence must match
    source = (tmp_path / "gen" / "nb" / "v1" / "pipeline.py").read_text()
    assert "ignored" not in source and "X.sum()\n" not in source
    assert "    np.random.rand(5)" in source and "waste" not in source
