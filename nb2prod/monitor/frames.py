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
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    keys: list[dict[str, Any]] = []
    unusable = 0
    for p in predictions:
        if p.status != "ok" or p.payload is None or p.outputs is None:
            continue
        rows = _input_rows(p.payload.get(name), kind, name)
        outs = _output_rows(p.outputs, targets, len(rows)) if rows is not None else None
        if rows is None or outs is None:
            unusable += 1
            continue
        inputs += rows
        outputs += outs or [{} for _ in rows]
        keys += [{"request_id": p.request_id, "position": i, "time": p.time} for i in range(len(rows))]
    return LiveRows(pd.DataFrame(inputs), pd.DataFrame(outputs), pd.DataFrame(keys), unusable)


def _input_rows(value: Any, kind: str | None, name: str | None) -> list[dict[str, Any]] | None:
    if not isinstance(value, list):
        return None
    if kind == "dataframe" or (value and all(isinstance(v, dict) for v in value)):
        return value if all(isinstance(v, dict) for v in value) else None
    if value and all(isinstance(v, list) for v in value):  # a 2-D array, as nested lists
        return [{str(i): x for i, x in enumerate(row)} for row in value]
    if all(not isinstance(v, (list, dict)) for v in value):  # 1-D: one column named after the input
        return [{str(name): v} for v in value]
    return None


def _output_rows(outputs: dict[str, Any], targets: list[str], n: int) -> list[dict[str, Any]] | None:
    """One dict per row: 1-D outputs by name, 2-D ones as ``name[0]``, ``name[1]``, ... (as
    reference_outputs.parquet has them); outputs without a value per row (scalars, class lists) are
    left out."""
    row_dicts: list[dict[str, Any]] = [{} for _ in range(n)]
    for target in targets or list(outputs):
        value = outputs.get(target)
        if not isinstance(value, list) or len(value) != n:
            continue
        if all(isinstance(x, list) for x in value):
            for i, row in enumerate(value):
                row_dicts[i].update({f"{target}[{j}]": x for j, x in enumerate(row)})
        elif all(not isinstance(x, (list, dict)) for x in value):
            for i, x in enumerate(value):
                row_dicts[i][target] = x
    return row_dicts
