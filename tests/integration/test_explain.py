"""``nb2prod build`` lists what it dropped; ``--explain`` shows it cell by cell; and every module
built from the examples and the real corpus is clean: no unused import, unused local or useless
expression (ruff F401, F841, B018), no plotting call (issue 15)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.nbfactory import write_notebook

ROOT = Path(__file__).resolve().parents[2]
PLOTTING = re.compile(r"\b(plt|sns|px|matplotlib|seaborn|plotly)\.|\.plot\(|\.plot\.|\bdisplay\(|\.style\b")


def nb2prod(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nb2prod", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def notebook(tmp_path: Path) -> Path:
    return write_notebook(tmp_path, [
        ("import numpy as np\nimport matplotlib.pyplot as plt", ["imports"]),
        ("x = np.arange(5.0)\nx.mean()\nplt.plot(x)", ["step:load"]),
        ("# look at it\nx[:3]", []),
        ("y = x * 2\nspare = y + 1", ["step:fit", "parity:y"]),
    ], name="demo.ipynb")


def test_build_lists_each_dropped_statement_once(tmp_path):
    notebook(tmp_path)
    result = nb2prod("build", "demo.ipynb", "--out", "gen", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "dropped" in line]
    assert lines == [
        "demo.ipynb: dropped cell 1 line 2: `x.mean()` (result not used)",
        "demo.ipynb: dropped cell 1 line 3: `plt.plot(x)` (plotting)",
        "demo.ipynb: dropped cell 2 line 2: `x[:3]` (shows a value)",
        "demo.ipynb: dropped cell 2: nothing left: the cell goes, comments too",
        "demo.ipynb: dropped cell 3 line 2: `spare = y + 1` (dead store: spare not used by any "
        "target or later step)",
    ]


def test_explain_shows_every_cell_and_writes_nothing(tmp_path):
    notebook(tmp_path)
    result = nb2prod("build", "--explain", "demo.ipynb", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[0] == "demo.ipynb -> module demo"
    assert "cell 1: kept in step 'load', 2 statement(s) dropped" in out
    assert "    dropped line 3: `plt.plot(x)` (plotting)" in out
    assert "cell 2: dropped from step 'load': nothing in it is needed" in out
    assert out[-1] == "4 statement(s) dropped; 2 step cell(s) kept."
    assert not (tmp_path / "generated").exists() and not (tmp_path / "gen").exists()


def _corpus() -> list[Path]:
    real = ROOT / "tests" / "fixtures" / "notebooks" / "real"
    found = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks").glob("*.py"))
    for folder in (real, real / "untagged"):
        found += sorted(folder.glob("*.ipynb")) + sorted(folder.glob("*.py"))
    return found


def test_every_generated_module_is_clean(tmp_path):
    pytest.importorskip("ruff")
    modules = []
    for i, path in enumerate(_corpus()):
        project = tmp_path / f"p{i}"
        shutil.copytree(path.parent, project, ignore=shutil.ignore_patterns("untagged", "*.md", "gen*"))
        result = nb2prod("build", path.name, "--out", "gen", cwd=project)
        assert result.returncode == 0, f"{path.name}: {result.stderr}"
        modules += list((project / "gen").glob("*/v1/pipeline.py"))
    assert len(modules) == len(_corpus())
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--select", "F401,F841,B018",
         "--output-format", "concise", *map(str, modules)],
        capture_output=True, text=True, timeout=300,
    )
    assert ruff.returncode == 0, ruff.stdout
    plotting = [f"{m}:{n}: {line.strip()}" for m in modules
                for n, line in enumerate(m.read_text().splitlines(), 1) if PLOTTING.search(line)]
    assert plotting == []


def test_explain_says_why_inference_skipped_a_cell(tmp_path):
    write_notebook(tmp_path, [
        "import matplotlib.pyplot as plt\nx = [1.0, 2.0]\ny_pred = [v * 2 for v in x]",
        "plt.plot(x)",
        "!ls",
        ("plt.plot(y_pred)", ["skip"]),
    ], name="untagged.ipynb")
    result = nb2prod("build", "--explain", "untagged.ipynb", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert "cell 1: skipped (inferred: plots or shows values only)" in out
    assert "cell 2: skipped (inferred: shell commands only)" in out
    assert "cell 3: skipped (tag 'skip')" in out


def test_explain_of_a_notebook_that_does_not_build_shows_its_cells_then_the_error(tmp_path):
    write_notebook(tmp_path, [
        "import numpy as np",
        "%run helpers.py",
        "x = np.arange(3.0)\ny_pred = helper(x)",
        "y_pred.sum()",
    ], name="broken.ipynb")
    result = nb2prod("build", "--explain", "broken.ipynb", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        "broken.ipynb: the build stops (the error follows); the cells as tagged:",
        "cell 0: imports (inferred: import statements only)",
        "cell 1: not exported (before the first step)",
        "cell 2: starts step 'broken' (inferred: no headings: the whole notebook is one step)",
        "cell 3: in step 'broken'",
    ]
    assert result.stderr.startswith("Error: broken.ipynb, cell 2") and "'helper'" in result.stderr
    assert "Traceback" not in result.stderr
