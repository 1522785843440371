"""A real scikit-learn model on synthetic data, with a card in the contract's format, for app tests.

The app only needs ``.card`` and ``.predict(**payload)``: this is the same shape as the store's
LoadedModel, without a training run, so schema, auth and limits are tested in a second.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder


def training_frame(rows: int = 60, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.normal(50, 10, rows),
        "bmi": rng.normal(25, 4, rows),
        "visits": rng.integers(0, 10, rows).astype("int64"),
        "sex": pd.Categorical(rng.choice(["f", "m"], rows), categories=["f", "m"]),
    })
    target = 2 * frame["age"] + frame["bmi"] - 3 * frame["visits"] + (frame["sex"] == "m") * 5
    return frame, target.to_numpy()


class FrameModel:
    """Ridge on a DataFrame with a category column; ``fail_on`` makes predict raise for a test."""

    def __init__(self) -> None:
        frame, target = training_frame()
        encode = ColumnTransformer([("sex", OneHotEncoder(), ["sex"])], remainder="passthrough")
        self.model = make_pipeline(encode, Ridge(alpha=1.0)).fit(frame, target)
        self.frame = frame
        self.card: dict[str, Any] = {
            "format": 1, "name": "synthetic", "model_id": "m20261202T000000-abcdef",
            "created": "2026-12-02T00:00:00Z",
            "code": {"out_dir": "generated", "version": "v1", "code_sha256": "0" * 64, "source": "x.ipynb"},
            "parameters": {"alpha": 1.0}, "metrics": {"r2": 0.99},
            "data_files": [], "packages": {},
            "payload": {"X_test": {
                "kind": "dataframe", "shape": [60, 4], "dtype": None,
                "columns": {
                    "age": {"dtype": "float64", "nullable": False},
                    "bmi": {"dtype": "float64", "nullable": True},
                    "visits": {"dtype": "int64", "nullable": False},
                    "sex": {"dtype": "category", "nullable": False, "categories": ["f", "m"]},
                },
            }},
            "outputs": {"y_pred": {"kind": "ndarray", "dtype": "float64", "shape": [60]}},
        }

    def predict(self, **payload: Any) -> dict[str, Any]:
        frame = payload["X_test"]
        if (frame["age"] < -1000).any():
            raise ValueError("age below -1000 is not a person")
        return {"y_pred": self.model.predict(frame)}


class ArrayModel:
    """Ridge on a plain float array, the shape a notebook without pandas has."""

    def __init__(self) -> None:
        rng = np.random.default_rng(1)
        self.X = rng.normal(size=(40, 3))
        self.model = Ridge().fit(self.X, self.X @ np.array([1.0, -2.0, 0.5]))
        self.card: dict[str, Any] = {
            "name": "arrays", "model_id": "m20261202T000001-123456", "code": {"version": "v2"},
            "payload": {"X": {"kind": "ndarray", "dtype": "float64", "shape": [40, 3]}},
        }

    def predict(self, **payload: Any) -> dict[str, Any]:
        return {"y_pred": self.model.predict(payload["X"])}
