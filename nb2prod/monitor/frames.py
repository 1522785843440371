"""Logged payloads and outputs as tables shaped like the card's reference files.

reference.parquet holds a DataFrame input's columns as they are, a 2-D array's as ``"0"``, ``"1"``,
..., and a 1-D input as one column named after it (CONTRACT.md); the live rows get the same columns,
so drift compares like with like. Every row keeps its request id, position and time, which quality
needs to join ``/feedback`` outcomes and the report needs to draw time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nb2prod.monitor.logs import Prediction


@dataclass
class LiveRows:
    """One row per predicted row of every usable ``ok`` request."""

    inputs: Any  # pandas.DataFrame, columns as reference.parquet
    outputs: Any  # pandas.DataFrame, one column per 1-D output
    keys: Any  # pandas.DataFrame: request_id, position, time
    unusable: int  # ok requests whose payload did not have the card's shape


def input_name(card: dict[str, Any]) -> str | None:
    """The payload entry the reference sample is drawn from."""
    reference = card.get("reference") or {}
    if reference.get("input"):
        return str(reference["input"])
    payload = card.get("payload") or {}
    return next(iter(payload), None)


def live_rows(card: dict[str, Any], predictions: list[Prediction]) -> LiveRows:
    import pandas as pd

    name = input_name(card)
    kind = ((card.get("payload") or {}).get(name) or {}).get("kind")
    targets = list((card.get("outputs") or {}).keys())
    inputs, outputs = _Columns(), _Columns()
    request_ids: list[str] = []
    positions: list[int] = []
    times: list[Any] = []
    unusable = 0
    for p in predictions:
        if p.status != "ok" or p.payload is None or p.outputs is None:
            continue
        found = _input_columns(p.payload.get(name), kind, name)
        if found is None:
            unusable += 1
            continue
        columns, n = found
        outs = _output_columns(p.outputs, targets, n)
        inputs.extend(columns, n)
        outputs.extend(outs, n)
        request_ids += [p.request_id] * n
        positions += range(n)
        times += [p.time] * n
    keys = pd.DataFrame({"request_id": request_ids, "position": positions, "time": times})
    return LiveRows(inputs.frame(), outputs.frame(), keys, unusable)


class _Columns:
    """Rows gathered column by column: a list per column, not a dict per row."""

    def __init__(self) -> None:
        self.data: dict[str, list[Any]] = {}
        self.rows = 0

    def extend(self, columns: dict[str, list[Any]], n: int) -> None:
        for column in columns:
            if column not in self.data:
                self.data[column] = [None] * self.rows
        for column, values in self.data.items():
            values.extend(columns.get(column, [None] * n))
        self.rows += n

    def frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.data) if self.data else pd.DataFrame(index=range(self.rows))


def _input_columns(value: Any, kind: str | None, name: str | None) -> tuple[dict[str, list[Any]], int] | None:
    """The payload entry as columns named like reference.parquet's, and its row count."""
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(v, dict) for v in value):  # DataFrame records
        names: dict[str, None] = {}
        for record in value:
            names.update(dict.fromkeys(record))
        return {k: [r.get(k) for r in value] for k in names}, len(value)
    if all(isinstance(v, list) for v in value):  # a 2-D array, as nested lists
        width = max(len(v) for v in value)
        return {str(i): [v[i] if i < len(v) else None for v in value] for i in range(width)}, len(value)
    if kind != "dataframe" and all(not isinstance(v, (list, dict)) for v in value):
        return {str(name): value}, len(value)  # 1-D: one column named after the input
    return None


def _output_columns(outputs: dict[str, Any], targets: list[str], n: int) -> dict[str, list[Any]]:
    """1-D outputs by name, 2-D ones as ``name[0]``, ``name[1]``, ... (as reference_outputs.parquet
    has them); outputs without a value per row (scalars, class lists) are left out."""
    columns: dict[str, list[Any]] = {}
    for target in targets or list(outputs):
        value = outputs.get(target)
        if not isinstance(value, list) or len(value) != n:
            continue
        if value and all(isinstance(x, list) for x in value):
            width = max(len(x) for x in value)
            for j in range(width):
                columns[f"{target}[{j}]"] = [x[j] if j < len(x) else None for x in value]
        elif all(not isinstance(x, (list, dict)) for x in value):
            columns[target] = value
    return columns
