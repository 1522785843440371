"""The payload schema and reference sample, captured from the training run's own payload.

For each payload input: kind (``dataframe`` | ``series`` | ``ndarray`` | ``list`` | ``scalar``), dtype,
shape, and for a DataFrame its columns with their dtypes, nullability and categories. The reference
sample (at most :data:`MAX_REFERENCE_ROWS` rows, drawn with a fixed seed) and the training outputs for
the same rows are stored as parquet beside the card, for drift checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nb2prod.errors import SerialisationError

MAX_REFERENCE_ROWS = 5000
REFERENCE = "reference.parquet"
REFERENCE_OUTPUTS = "reference_outputs.parquet"


def _pandas(value: Any) -> str | None:
    kind = type(value)
    if kind.__module__.startswith("pandas"):
        return kind.__name__
    return None


def describe(name: str, value: Any) -> dict[str, Any]:
    """One payload input (or output) as the card's schema entry."""
    pandas_kind = _pandas(value)
    if pandas_kind == "DataFrame":
        return {
            "kind": "dataframe",
            "shape": list(value.shape),
            "dtype": None,
            "columns": {str(c): _column(value[c]) for c in value.columns},
        }
    if pandas_kind == "Series":
        entry = {"kind": "series", "shape": list(value.shape), **_column(value)}
        entry["name"] = None if value.name is None else str(value.name)
        return entry
    if isinstance(value, np.ndarray):
        return {"kind": "ndarray", "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, list | tuple):
        kinds = sorted({type(v).__name__ for v in value})
        return {"kind": "list", "dtype": kinds[0] if len(kinds) == 1 else None, "shape": [len(value)]}
    if isinstance(value, bool | int | float | str | np.generic) or value is None:
        dtype = str(value.dtype) if isinstance(value, np.generic) else type(value).__name__
        return {"kind": "scalar", "dtype": dtype, "shape": []}
    raise SerialisationError(
        f"payload input {name!r} is a {type(value).__module__}.{type(value).__qualname__}, which a "
        "request cannot carry (payloads are DataFrames, Series, arrays, lists or scalars).",
        hint=f"if {name!r} is a fitted object, tag the cell that fits it 'model:{name}'.",
    )


def _column(series: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"dtype": str(series.dtype), "nullable": bool(series.isna().any())}
    if str(series.dtype) == "category":
        entry["categories"] = [_plain(c) for c in series.cat.categories]
    return entry


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def rows(value: Any) -> int | None:
    """How many rows a tabular value has (first axis), or None for a scalar or a mapping."""
    if _pandas(value) in ("DataFrame", "Series") or isinstance(value, np.ndarray) and value.ndim >= 1:
        return int(value.shape[0])
    return None


def reference_input(payload: dict[str, Any]) -> str | None:
    """The payload input the drift reference samples: the first one with rows."""
    return next((name for name, value in payload.items() if rows(value)), None)


def sample_positions(n: int) -> np.ndarray:
    if n <= MAX_REFERENCE_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, MAX_REFERENCE_ROWS, replace=False))


def as_frame(name: str, value: Any, positions: np.ndarray) -> Any:
    """``value``'s sampled rows as a DataFrame with string column names (the contract's layout)."""
    import pandas as pd

    kind = _pandas(value)
    if kind == "DataFrame":
        frame = value.iloc[positions].reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
        return frame
    if kind == "Series":
        return pd.DataFrame({name: value.iloc[positions].reset_index(drop=True)})
    array = np.asarray(value)[positions]
    if array.ndim == 1:
        return pd.DataFrame({name: array})
    flat = array.reshape(array.shape[0], -1)
    return pd.DataFrame({str(j): flat[:, j] for j in range(flat.shape[1])})


def write_reference(
    folder: Path, payload: dict[str, Any], outputs: dict[str, Any]
) -> dict[str, Any] | None:
    """reference.parquet and reference_outputs.parquet; the card's ``reference`` entry."""
    import pandas as pd

    name = reference_input(payload)
    if name is None:
        return None
    n = rows(payload[name]) or 0
    positions = sample_positions(n)
    _to_parquet(as_frame(name, payload[name], positions), folder / REFERENCE)
    columns: dict[str, Any] = {}
    for out, value in outputs.items():
        if rows(value) != n:
            continue
        frame = as_frame(out, value, positions)
        if frame.shape[1] == 1:
            columns[out] = frame.iloc[:, 0]
        else:  # a 2-D output (class probabilities): one column per position, "proba[0]", ...
            columns.update({f"{out}[{c}]": frame[c] for c in frame.columns})
    entry = {"payload": REFERENCE, "outputs": None, "rows": int(len(positions)), "input": name}
    if columns:
        _to_parquet(pd.DataFrame(columns), folder / REFERENCE_OUTPUTS)
        entry["outputs"] = REFERENCE_OUTPUTS
    return entry


def _to_parquet(frame: Any, path: Path) -> None:
    try:
        frame.to_parquet(path, index=False)
    except Exception:  # mixed-type object columns: stored as text, the drift check reads them so
        frame = frame.copy()
        for column in frame.columns:
            if frame[column].dtype == object:
                frame[column] = frame[column].astype(str)
        frame.to_parquet(path, index=False)
