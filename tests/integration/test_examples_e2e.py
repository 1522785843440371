"""Issue 2's promise on every example: the generated module imports, and `run()` returns what the
notebook computes when papermill executes it with the same parameters."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from nb2prod.execute.engine import execute_notebook
from nb2prod.parity.compare import compare
from nb2prod.read.notebook import read_notebook_node
from tests.conftest import FIXTURES, NOTEBOOKS, ROOT

pytestmark = pytest.mark.kernel

EXAMPLES = {
    NOTEBOOKS / "diabetes_regression.ipynb": {"alpha": 0.05, "test_size": 0.4, "random_state": 7},
    NOTEBOOKS / "iris_kale.ipynb": {"N_ESTIMATORS": 10, "MAX_DEPTH": 2, "SEED": 5},
    NOTEBOOKS / "wine_percent.py": {"C": 0.1, "test_size": 0.4},
    FIXTURES / "notebooks/good/kale_foreign.ipynb": {"N_ESTIMATORS": 30, "MAX_DEPTH": 3},
    FIXTURES / "notebooks/good/minimal.ipynb": {"n": 8, "scale": -1.5},
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build") / "gen_e2e"
    result = subprocess.run(
        [sys.executable, "-m", "nb2prod", "build", *map(str, EXAMPLES), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    sys.path.insert(0, str(out.parent))
    yield out
    sys.path.remove(str(out.parent))


@pytest.mark.parametrize("params_kind", ["defaults", "other"])
@pytest.mark.parametrize("notebook", list(EXAMPLES), ids=lambda p: p.stem)
def test_run_returns_what_papermill_computes(generated, notebook, params_kind, tmp_path, monkeypatch):
    from nb2prod.analyse.planner import module_name

    params = {} if params_kind == "defaults" else EXAMPLES[notebook]
    module = importlib.import_module(f"gen_e2e.{module_name(notebook)}")
    manifest_targets = [
        (t.name, t.cell) for t in _plan_targets(notebook)
    ]
    monkeypatch.chdir(notebook.parent)  # the pipeline runs where the notebook runs
    produced = module.run(**params)
    assert set(produced) == {name for name, _ in manifest_targets}
    executed = execute_notebook(
        read_notebook_node(notebook), path=notebook, params=params, output_path=None,
        captures=[(cell, name) for name, cell in manifest_targets], capture_dir=tmp_path, progress=False,
    )
    for name, _ in manifest_targets:
        assert compare(name, executed.values[name], produced[name]) is None, name


def _plan_targets(notebook: Path):
    from nb2prod.analyse.planner import analyse
    from nb2prod.read.notebook import load_notebook

    return analyse(load_notebook(notebook, root=ROOT)).targets


def test_unknown_parameter_is_a_type_error_listing_the_known_ones(generated):
    module = importlib.import_module("gen_e2e.minimal")
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) alpha; known parameters: n, scale"):
        module.run(alpha=1)


def test_generated_modules_do_not_import_nb2prod(generated):
    for pipeline in generated.glob("*/v*/pipeline.py"):
        assert "nb2prod" not in "".join(
            line for line in pipeline.read_text().splitlines(keepends=True)
            if line.startswith(("import", "from"))
        )
