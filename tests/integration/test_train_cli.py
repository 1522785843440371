"""`nb2prod train`, `models`, `promote`, `status` and `rollback` on real projects: real skops files,
real fresh-process training jobs and round trips, real data files edited between runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb2prod.parity.compare import compare
from nb2prod.train.store import ModelStore
from tests.conftest import NOTEBOOKS, ROOT
from tests.nbfactory import write_notebook


def nb2prod(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nb2prod", *args], cwd=cwd, capture_output=True, text=True)


def make_project(root: Path, *, alpha: float = 1.0, model_cell: str | None = None) -> Path:
    """A project whose notebook reads a CSV beside it; models go to [tool.nb2prod] models."""
    (root / "nb").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.nb2prod]\nnotebooks = ["nb"]\nmodels = "store"\n')
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": X @ [1.5, -2.0] + rng.normal(scale=0.1, size=200)})
    frame.to_csv(root / "nb" / "houses.csv", index=False)
    write_notebook(root / "nb", [
        ("import pandas as pd\nfrom sklearn.base import BaseEstimator, TransformerMixin\n"
         "from sklearn.linear_model import Ridge\nfrom sklearn.metrics import r2_score\n"
         "from sklearn.pipeline import make_pipeline", ["imports"]),
        (f"alpha = {alpha}", ["parameters"]),
        ('df = pd.read_csv("houses.csv")\nX_train, y_train = df[["a", "b"]][:150], df["y"][:150]\n'
         'X_test, y_test = df[["a", "b"]][150:], df["y"][150:]', ["step:load"]),
        (model_cell or "model = Ridge(alpha=alpha).fit(X_train, y_train)", ["step:train", "model:model"]),
        ("y_pred = model.predict(X_test)", ["step:predict", "inference", "parity:y_pred"]),
        ("r2 = r2_score(y_test, y_pred)", ["step:evaluate", "metric:r2"]),
    ], name="houses.ipynb")
    return root


def built(root: Path) -> Path:
    result = nb2prod("build", cwd=root)
    assert result.returncode == 0, result.stderr
    return root


def train(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = nb2prod("train", "--promote", *args, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def status(root: Path) -> tuple[int, dict]:
    result = nb2prod("status", "--json", cwd=root)
    return result.returncode, json.loads(result.stdout)["notebooks"][0]


def test_each_example_trains_round_trips_and_its_loaded_model_serves_the_reference(tmp_path):
    store_dir = tmp_path / "models"
    result = nb2prod("train", str(NOTEBOOKS), "--models", str(store_dir), "--promote", cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("round trip: passed") == 3
    store = ModelStore(store_dir)
    for name, output in (("diabetes_regression", "y_pred"), ("iris_kale", "y_pred"), ("wine_percent", "y_pred")):
        model_id = store.production_id(name)
        assert model_id is not None and store.model_ids(name) == [model_id]
        loaded = store.load(name, model_id)
        card = loaded.card
        assert card["code"]["version"] == (ROOT / "generated" / name / "CURRENT").read_text().strip()
        assert card["models"]["model"]["format"] == "skops" and card["round_trip"]["passed"] is True
        assert card["inference"]["payload"] == ["X_test"] and card["payload"]["X_test"]["kind"] == "dataframe"
        assert "scikit-learn" in card["packages"] and card["metrics"]
        folder = store_dir / name / model_id
        reference = pd.read_parquet(folder / card["reference"]["payload"])
        expected = pd.read_parquet(folder / card["reference"]["outputs"])[output].to_numpy()
        served = loaded.predict(X_test=reference)[output]  # rows from parquet: the last bit may move
        assert compare(output, expected, served) is None, name  # the parity rules: rtol 1e-7
    listing = nb2prod("models", "wine_percent", "--models", str(store_dir), "--json", cwd=ROOT)
    (row,) = json.loads(listing.stdout)["models"]
    assert row["production"] is True and row["round_trip"] is True and "accuracy" in row["metrics"]


def test_status_turns_red_on_a_data_edit_and_a_default_change_and_green_after_retraining(tmp_path):
    root = built(make_project(tmp_path))
    code, state = status(root)
    assert code == 1 and state["due"] == ["train: no production model"]
    train(root)
    assert status(root)[0] == 0
    with open(root / "nb" / "houses.csv", "a") as fh:
        fh.write("0.5,0.5,1.0\n")
    code, state = status(root)
    assert code == 1 and [d["path"] for d in state["data_changed"]] == ["nb/houses.csv"]
    assert "retrain: data changed (nb/houses.csv)" in state["due"]
    train(root)
    assert status(root)[0] == 0
    notebook = root / "nb" / "houses.ipynb"
    notebook.write_text(notebook.read_text().replace("alpha = 1.0", "alpha = 3.0"))
    code, state = status(root)
    assert code == 1 and state["code"] == "stale: parameters changed since v1"
    assert state["parameters_changed"] == {"alpha": {"trained": 1.0, "now": 3.0}}
    built(root)
    code, state = status(root)
    assert code == 1 and any("trained by v1; current is v2" in d for d in state["due"])
    train(root)
    code, state = status(root)
    assert code == 0 and state["trained_by"] == "v2", state
    table = nb2prod("status", cwd=root)
    assert table.returncode == 0 and "nothing" in table.stdout


def test_rollback_moves_the_code_and_the_production_model_together(tmp_path):
    root = built(make_project(tmp_path))
    train(root)
    store = ModelStore(root / "store")
    (v1_model,) = store.model_ids("houses")
    notebook = root / "nb" / "houses.ipynb"
    notebook.write_text(notebook.read_text().replace("alpha = 1.0", "alpha = 3.0"))
    built(root)
    train(root)
    v2_model = store.production_id("houses")
    assert v2_model != v1_model
    result = nb2prod("rollback", "houses", "v1", cwd=root)
    assert result.returncode == 0, result.stderr
    assert (root / "generated" / "houses" / "CURRENT").read_text() == "v1\n"
    assert store.production_id("houses") == v1_model
    assert f"PRODUCTION is now {v1_model}, the newest model trained by v1 (was {v2_model})" in result.stdout
    notebook.write_text(notebook.read_text().replace("alpha = 3.0", "alpha = 5.0"))
    built(root)  # v3, never trained
    nb2prod("rollback", "houses", "v2", cwd=root)
    result = nb2prod("rollback", "houses", "v3", cwd=root)
    assert "no model trained by v3" in result.stdout and "only the code moved" in result.stdout
    assert store.production_id("houses") == v2_model


def test_a_tampered_model_is_refused_with_exit_1(tmp_path):
    root = built(make_project(tmp_path))
    train(root)
    store = ModelStore(root / "store")
    (model_id,) = store.model_ids("houses")
    skops_file = root / "store" / "houses" / model_id / "model.skops"
    skops_file.write_bytes(skops_file.read_bytes()[:-10] + b"0123456789")
    result = nb2prod("promote", "houses", model_id, cwd=root)
    assert result.returncode == 1
    assert "model.skops does not match the sha256 in its model card" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_class_defined_inside_a_step_fails_naming_the_cell_and_the_fix(tmp_path):
    cell = ("class Doubler(BaseEstimator, TransformerMixin):\n    def fit(self, X, y=None):\n"
            "        return self\n    def transform(self, X):\n        return X * 2\n"
            "model = make_pipeline(Doubler(), Ridge(alpha=alpha)).fit(X_train, y_train)")
    root = built(make_project(tmp_path, model_cell=cell))
    result = nb2prod("train", "--promote", cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "nb/houses.ipynb, cell 3: model 'model' (sklearn.pipeline.Pipeline) cannot be saved" in result.stderr
    assert "train.<locals>.Doubler" in result.stderr and "move it into a 'functions' cell" in result.stderr
    assert "Traceback" not in result.stderr
    assert ModelStore(root / "store").model_ids("houses") == []
    assert not list((root / "store" / "houses").glob(".tmp-*"))


def test_two_trains_at_once_make_two_complete_folders_and_one_consistent_production(tmp_path):
    root = built(make_project(tmp_path))
    argv = [sys.executable, "-m", "nb2prod", "train", "--promote"]
    procs = [subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    store = ModelStore(root / "store")
    ids = store.model_ids("houses")
    assert len(ids) == 2
    for model_id in ids:
        store.verify("houses", model_id)
        assert store.card("houses", model_id)["round_trip"]["passed"]
    assert store.production_id("houses") in ids
    assert not list((root / "store" / "houses").glob(".tmp-*"))


def test_train_refuses_a_version_without_model_tags(tmp_path):
    write_notebook(tmp_path, [("x = 1", ["step:a", "parity:x"])], name="plain.ipynb")
    assert nb2prod("build", "plain.ipynb", cwd=tmp_path).returncode == 0
    result = nb2prod("train", "plain.ipynb", "--models", str(tmp_path / "m"), cwd=tmp_path)
    assert result.returncode == 2
    assert "plain.ipynb: the current version (v1) of 'plain' saves no model" in result.stderr
    assert not (tmp_path / "m").exists() or not list((tmp_path / "m").rglob("card.json"))


@pytest.mark.parametrize("command", ["models", "promote"])
def test_unknown_models_are_a_clear_usage_error(tmp_path, command):
    args = ["houses"] + (["m20261202T031500-3fa2c1"] if command == "promote" else [])
    result = nb2prod(command, *args, "--models", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
