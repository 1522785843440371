"""Write a synthetic production model and prediction logs, following CONTRACT.md, for monitor tests.

Real files only: a models/<name>/<id>/ folder with card.json, reference.parquet and
reference_outputs.parquet, a PRODUCTION pointer, and JSON-lines logs as `nb2prod serve` writes
them. The "model" is a known linear function, so live quality can be made good or bad on purpose.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

NAME = "synthetic"
MODEL_ID = "m20261202T031500-3fa2c1"
NUMERIC = [f"x{i}" for i in range(10)]
CATEGORIES = {"colour": (["red", "green", "blue"], [0.5, 0.3, 0.2]), "size": (["s", "l"], [0.6, 0.4])}
WEIGHTS = np.linspace(-2.0, 2.0, len(NUMERIC))
START = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def draw(rng: np.random.Generator, n: int, shift: dict[str, float] | None = None) -> pd.DataFrame:
    """N rows of the training distribution; SHIFT adds to a numeric column's mean (in its sd)."""
    data: dict[str, Any] = {}
    for i, column in enumerate(NUMERIC):
        sd = 1.0 + i / 5
        data[column] = rng.normal(i + (shift or {}).get(column, 0.0) * sd, sd, n)
    for column, (values, p) in CATEGORIES.items():
        data[column] = rng.choice(values, n, p=p)
    return pd.DataFrame(data)


def predict(frame: pd.DataFrame) -> np.ndarray:
    return frame[NUMERIC].to_numpy() @ WEIGHTS + np.where(frame["colour"] == "red", 3.0, 0.0)


def truth(frame: pd.DataFrame, rng: np.random.Generator, noise: float = 1.0) -> np.ndarray:
    return predict(frame) + rng.normal(0.0, noise, len(frame))


def write_model(models: Path, rows: int = 1000, seed: int = 0, name: str = NAME,
                model_id: str = MODEL_ID) -> Path:
    """The production model's folder: card.json, reference.parquet, reference_outputs.parquet."""
    rng = np.random.default_rng(seed)
    reference = draw(rng, rows)
    y_pred = predict(reference)
    y_test = truth(reference, rng)
    r2 = 1 - np.sum((y_test - y_pred) ** 2) / np.sum((y_test - y_test.mean()) ** 2)
    mae = float(np.mean(np.abs(y_test - y_pred)))
    folder = models / name / model_id
    folder.mkdir(parents=True)
    reference.to_parquet(folder / "reference.parquet", index=False)
    pd.DataFrame({"y_pred": y_pred}).to_parquet(folder / "reference_outputs.parquet", index=False)
    columns = {c: {"dtype": "float64", "nullable": False} for c in NUMERIC}
    columns |= {c: {"dtype": "object", "nullable": False} for c in CATEGORIES}
    card = {
        "format": 1, "name": name, "model_id": model_id, "created": "2026-12-02T03:15:00Z",
        "code": {"out_dir": "generated", "version": "v1", "code_sha256": "0" * 64, "source": "x.ipynb"},
        "parameters": {}, "metrics": {"r2": float(r2), "mae": mae},
        "metric_functions": {"r2": {"function": "sklearn.metrics.r2_score", "truth": "y_test",
                                    "prediction": "y_pred"}},
        "data_files": [], "packages": {}, "models": {},
        "files": {f: hashlib.sha256((folder / f).read_bytes()).hexdigest()
                  for f in ("reference.parquet", "reference_outputs.parquet")},
        "payload": {"X_test": {"kind": "dataframe", "shape": [rows, len(columns)], "dtype": None,
                               "columns": columns}},
        "outputs": {"y_pred": {"kind": "ndarray", "dtype": "float64", "shape": [rows]}},
        "reference": {"payload": "reference.parquet", "outputs": "reference_outputs.parquet",
                      "rows": rows, "input": "X_test"},
        "round_trip": {"passed": True, "reason": None, "targets": {"y_pred": "passed"}},
        "gates": {"passed": True, "results": []},
        "trained_on": {"nb2prod": "0.1.0", "python": "3.11"},
    }
    (folder / "card.json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    (models / name / "PRODUCTION").write_text(model_id + "\n", encoding="utf-8")
    return folder


def log_lines(frame: pd.DataFrame, rng: np.random.Generator, *, per_request: int = 10,
              noise: float | None = 1.0, start: datetime = START, step: timedelta = timedelta(seconds=30),
              model_id: str = MODEL_ID, latency: float = 2.0) -> list[str]:
    """Prediction lines (and feedback lines when NOISE is not None) for FRAME's rows."""
    lines = []
    y_pred = predict(frame)
    y_true = truth(frame, rng, noise) if noise is not None else None
    for k, first in enumerate(range(0, len(frame), per_request)):
        part = slice(first, first + per_request)
        request_id = uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | k).hex
        when = (start + k * step).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        records = frame.iloc[part].to_dict(orient="records")
        lines.append(json.dumps({
            "kind": "prediction", "request_id": request_id, "time": when, "model_id": model_id,
            "code_version": "v1", "status": "ok", "http_status": 200, "rows": len(records),
            "payload": {"X_test": records}, "outputs": {"y_pred": y_pred[part].tolist()},
            "latency_ms": float(latency * rng.uniform(0.5, 1.5)), "error": None,
        }))
        if y_true is not None:
            lines.append(json.dumps({"kind": "feedback", "request_id": request_id, "time": when,
                                     "model_id": model_id, "outcome": y_true[part].tolist()}))
    return lines


def write_log(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path
