"""Artefacts, schema and the store on real skops files: trust, tampering, pointers, sampling."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nb2prod.errors import ArtefactTampered, ModelError, SerialisationError
from nb2prod.train.artefacts import load_models, save_models
from nb2prod.train.card import write_card
from nb2prod.train.job import save
from nb2prod.train.schema import MAX_REFERENCE_ROWS, describe
from nb2prod.train.store import MODEL_ID, ModelStore, new_model_id, verify_folder


def fitted() -> tuple[object, pd.DataFrame]:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    y = (X["a"] + X["b"] > 0).astype(int)
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), X


def staged(store: ModelStore, name: str = "demo", rows: int | None = None) -> tuple[str, object]:
    """A model folder written the way the training job writes one, renamed in."""
    model, X = fitted()
    if rows:
        X = pd.DataFrame({"a": np.arange(rows, dtype=float), "b": np.ones(rows)})
    folder = store.staging(name)
    job = save(folder, {"models": {"model": model}, "metrics": {"acc": np.float64(0.9)},
                        "payload": {"X_test": X}, "targets": {"y_pred": model.predict(X)}})
    model_id = new_model_id()
    card = {"format": 1, "name": name, "model_id": model_id, "models": job["models"], "files": job["files"],
            "round_trip": {"passed": True}, "reference": job["reference"], "payload": job["payload"],
            "metrics": job["metrics"]}
    write_card(folder, card)
    store.publish(name, folder, model_id, promote=False)
    return model_id, model


def test_a_saved_folder_verifies_and_loads_back_predicting_the_same(tmp_path):
    store = ModelStore(tmp_path / "models")
    model_id, model = staged(store)
    assert MODEL_ID.match(model_id) and store.model_ids("demo") == [model_id]
    card = store.card("demo", model_id)
    assert card["models"]["model"]["format"] == "skops" and card["metrics"] == {"acc": 0.9}
    assert set(card["files"]) == {"payload.pkl", "targets.pkl", "reference.parquet", "reference_outputs.parquet"}
    store.verify("demo", model_id)
    loaded = load_models(store.folder("demo", model_id), card)["model"]
    _, X = fitted()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    reference = pd.read_parquet(store.folder("demo", model_id) / "reference.parquet")
    assert list(reference.columns) == ["a", "b"] and len(reference) == 60
    assert not list((tmp_path / "models" / "demo").glob(".tmp-*"))


@pytest.mark.parametrize("victim", ["model.skops", "reference.parquet"])
def test_a_tampered_artefact_is_refused_naming_the_file(tmp_path, victim):
    store = ModelStore(tmp_path / "models")
    model_id, _ = staged(store)
    path = store.folder("demo", model_id) / victim
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ArtefactTampered, match=f"{victim} does not match the sha256 in its model card") as err:
        store.verify("demo", model_id)
    assert err.value.exit_code == 1
    with pytest.raises(ArtefactTampered):
        store.promote("demo", model_id)
    assert store.production_id("demo") is None


def test_a_file_the_card_does_not_list_is_refused(tmp_path):
    store = ModelStore(tmp_path / "models")
    model_id, _ = staged(store)
    (store.folder("demo", model_id) / "extra.pkl").write_bytes(b"x")
    with pytest.raises(ArtefactTampered, match="extra.pkl is in the model folder but not in its card"):
        verify_folder(store.folder("demo", model_id))


def test_untrusted_types_load_only_when_the_cards_own_list_names_them(tmp_path, monkeypatch):
    (tmp_path / "custom_scaling.py").write_text(textwrap.dedent("""
        from sklearn.base import BaseEstimator, TransformerMixin
        class Doubler(BaseEstimator, TransformerMixin):
            def fit(self, X, y=None):
                return self
            def transform(self, X):
                return X * 2
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    from custom_scaling import Doubler

    X = np.arange(20, dtype=float).reshape(10, 2)
    model = make_pipeline(Doubler(), LogisticRegression()).fit(X, np.arange(10) % 2)
    entries = save_models(tmp_path, {"model": model})
    assert entries["model"]["trusted"] == ["custom_scaling.Doubler"]
    card = {"models": entries}
    np.testing.assert_array_equal(load_models(tmp_path, card)["model"].predict(X), model.predict(X))
    card["models"]["model"]["trusted"] = []
    with pytest.raises(SerialisationError, match="does not load back from model.skops: Untrusted"):
        load_models(tmp_path, card)
    sys.modules.pop("custom_scaling", None)


def test_a_lambda_cannot_be_saved_and_the_reason_says_why(tmp_path):
    from sklearn.preprocessing import FunctionTransformer

    model = make_pipeline(FunctionTransformer(lambda v: v * 2), LogisticRegression())
    model.fit(np.arange(20.0).reshape(10, 2), np.arange(10) % 2)
    with pytest.raises(SerialisationError, match="cannot be saved: skops says .*joblib says") as err:
        save_models(tmp_path, {"model": model})
    assert "replace the lambda" in str(err.value)
    assert not list(tmp_path.iterdir())


def test_payload_schema_records_kind_dtype_shape_columns_and_categories():
    frame = pd.DataFrame({"age": [0.1, None], "sex": pd.Categorical(["f", "m"])})
    entry = describe("X", frame)
    assert entry["kind"] == "dataframe" and entry["shape"] == [2, 2]
    assert entry["columns"]["age"] == {"dtype": "float64", "nullable": True}
    assert entry["columns"]["sex"] == {"dtype": "category", "nullable": False, "categories": ["f", "m"]}
    assert describe("a", np.zeros((3, 4), dtype="float32")) == {"kind": "ndarray", "dtype": "float32",
                                                                  "shape": [3, 4]}
    assert describe("s", pd.Series([1, 2], name="n"))["kind"] == "series"
    assert describe("k", 3) == {"kind": "scalar", "dtype": "int", "shape": []}
    assert describe("l", [1, 2, 3]) == {"kind": "list", "dtype": "int", "shape": [3]}
    with pytest.raises(SerialisationError, match="tag the cell that fits it 'model:model'"):
        describe("model", StandardScaler())


def test_the_reference_sample_is_capped_and_drawn_the_same_way_every_time(tmp_path):
    store = ModelStore(tmp_path / "models")
    first, _ = staged(store, rows=12_000)
    second, _ = staged(store, rows=12_000)
    frames = [pd.read_parquet(store.folder("demo", m) / "reference.parquet") for m in (first, second)]
    assert len(frames[0]) == MAX_REFERENCE_ROWS and store.card("demo", first)["reference"]["rows"] == 5000
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert frames[0]["a"].is_monotonic_increasing  # rows kept in their order


def test_promote_moves_production_and_refuses_a_failed_round_trip(tmp_path):
    store = ModelStore(tmp_path / "models")
    first, _ = staged(store)
    second, _ = staged(store)
    assert store.promote("demo", first) is None
    assert store.promote("demo", second) == first
    assert (tmp_path / "models" / "demo" / "PRODUCTION").read_text() == second + "\n"
    folder = store.folder("demo", first)
    card = json.loads((folder / "card.json").read_text())
    card["round_trip"] = {"passed": False, "reason": "values differ"}
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="failed its round trip \\(values differ\\)"):
        store.promote("demo", first)
    assert store.production_id("demo") == second
    with pytest.raises(ModelError, match="not a model id"):
        store.card("demo", "../etc")
