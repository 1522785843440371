"""The HTTP payload schema: pydantic validators built from the card's ``payload``, and coercion to pandas.

A request names its inputs (``{"inputs": {"X_test": [...]}}``); a DataFrame input comes as records or
as MLflow's ``dataframe_split`` (``{"columns": [...], "data": [[...]]}``), arrays as nested lists. Each
column is checked against the dtype the training run saw and coerced as ``DataFrame.astype`` would
(``1`` into a float column is ``1.0``, ``"2.5"`` too; ``1.5`` into an int column is an error). Errors
name the input, the row and the column, so a consumer can fix the request without reading our code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Optional

import numpy as np
import pandas as pd
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

MAX_ERRORS = 5  # a message lists the first few problems, not ten thousand


class RequestError(Exception):
    """A request the schema refuses: HTTP ``status`` and a message naming the field."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Parsed:
    """A validated request: what ``predict`` gets, what the log keeps, and how many rows."""

    payload: dict[str, Any]
    logged: dict[str, Any]
    rows: int


def _column_type(spec: dict[str, Any]) -> Any:
    """The pydantic type of one column (or Series) from its card entry."""
    dtype = str(spec.get("dtype") or "object")
    nullable = bool(spec.get("nullable", False))
    if dtype == "category":
        categories = tuple(spec.get("categories") or ())
        base: Any = Literal[categories] if categories else Any  # type: ignore[valid-type]
    elif dtype.startswith(("float", "Float")):
        base = float if nullable else Annotated[float, Field(allow_inf_nan=False)]
    elif dtype.startswith(("int", "uint", "Int", "UInt")):
        base = int
    elif dtype in ("bool", "boolean"):
        base = bool
    elif dtype in ("str", "string"):
        base = str
    elif dtype.startswith("datetime64"):
        base = datetime
    else:  # object and anything else: a JSON scalar, checked by the model itself
        base = Any
    return Optional[base] if nullable and base is not Any else base  # noqa: UP045


def _column_values(values: list[Any], spec: dict[str, Any]) -> Any:
    """Validated values as the array pandas would hold in that column."""
    dtype = str(spec.get("dtype") or "object")
    if dtype == "category":
        return pd.Categorical(values, categories=spec.get("categories") or None)
    if dtype.startswith("datetime64"):
        return pd.to_datetime(values)
    if dtype.startswith(("float", "int", "uint", "bool")) and dtype[0].islower():
        return np.array(values, dtype=dtype)
    return pd.array(values, dtype=None if dtype == "object" else dtype)


def _where(error: dict[str, Any], name: str, split: bool) -> str:
    loc = error.get("loc", ())
    parts = [f"inputs.{name}"]
    if loc and isinstance(loc[0], int):
        parts.append(f"row {loc[0]}")
        loc = loc[1:]
    if loc:
        parts.append(f"column {loc[0]!r}")
    return ", ".join(parts)


def _describe(err: ValidationError, name: str, known: list[str], split: bool = False) -> str:
    problems = []
    for error in err.errors()[:MAX_ERRORS]:
        where = _where(error, name, split)
        kind = error.get("type")
        if kind == "missing":
            problems.append(f"{where}: missing")
        elif kind == "extra_forbidden":
            problems.append(f"{where}: unknown column (the schema has {', '.join(map(repr, known))})")
        elif kind == "too_short":
            problems.append(f"inputs.{name}: the batch is empty; send at least one row")
        elif kind == "finite_number":
            problems.append(f"{where}: NaN or infinity where the schema allows none")
        else:
            got = error.get("input")
            shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
            problems.append(f"{where}: {error.get('msg')} (got {shown})")
    more = err.error_count() - len(problems)
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "") + "."


class FrameInput:
    """A DataFrame input: records or ``dataframe_split`` in, a DataFrame with the card's dtypes out."""

    def __init__(self, name: str, spec: dict[str, Any]) -> None:
        self.name = name
        self.columns: dict[str, dict[str, Any]] = dict(spec.get("columns") or {})
        fields = {col: _column_type(col_spec) for col, col_spec in self.columns.items()}
        row = TypedDict(f"{name}_row", fields)  # type: ignore[operator]
        row.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
        self.adapter = TypeAdapter(Annotated[list[row], Field(min_length=1)])  # type: ignore[valid-type]
        dtypes = {str(c.get("dtype")) for c in self.columns.values()}
        nullable = any(c.get("nullable") for c in self.columns.values())
        # One float64 block is what read_csv makes of all-float data, and is 2x faster to build.
        self.one_block = dtypes == {"float64"} and not nullable

    def parse(self, value: Any) -> tuple[Any, list[dict[str, Any]], int]:
        split = isinstance(value, dict)
        if self.one_block:
            block = self._float_block(value, split)
            if block is not None:  # the common case, checked in one numpy pass instead of per row
                names = list(self.columns)
                rows = [dict(zip(names, row, strict=True)) for row in block.tolist()]
                return pd.DataFrame(block, columns=names, copy=False), rows, len(rows)
        records = self._records_from_split(value) if split else value
        if not isinstance(records, list):
            raise RequestError(
                f"inputs.{self.name}: expected a list of records ([{{\"column\": value, ...}}]) or "
                f"{{\"columns\": [...], \"data\": [[...]]}}, got {type(value).__name__}."
            )
        try:
            rows = self.adapter.validate_python(records)
        except ValidationError as err:
            raise RequestError(_describe(err, self.name, list(self.columns), split)) from None
        if self.one_block:
            names = list(self.columns)
            block = np.array([[r[c] for c in names] for r in rows], dtype=np.float64)
            # Row-major and not copied, like the row selection a notebook's X_test usually is
            # (train_test_split): another layout gives BLAS another summation order, 1 ulp away.
            frame = pd.DataFrame(block, columns=names, copy=False)
        else:
            frame = pd.DataFrame(
                {c: _column_values([r[c] for r in rows], s) for c, s in self.columns.items()}
            )
        return frame, rows, len(rows)

    def _float_block(self, value: Any, split: bool) -> np.ndarray | None:
        """An all-float64 payload as one array, or None when anything is off (the pydantic path
        then finds and names the problem). Text like ``"2.5"`` converts, as ``astype`` would."""
        names = list(self.columns)
        try:
            if split:
                columns, data = value.get("columns", names), value.get("data")
                if set(value) - {"columns", "data", "index"} or not isinstance(columns, list) \
                        or len(columns) != len(names) or set(columns) != set(names):
                    return None
                block = np.array(data, dtype=np.float64)
                if block.ndim != 2 or block.shape[1] != len(names):
                    return None
                if columns != names:
                    block = block[:, [columns.index(c) for c in names]]
            else:
                if not isinstance(value, list) or any(
                        not isinstance(r, dict) or len(r) != len(names) for r in value):
                    return None
                block = np.array([[r[c] for c in names] for r in value], dtype=np.float64)
        except (KeyError, ValueError, TypeError):
            return None
        if block.shape[0] == 0 or not np.isfinite(block).all():
            return None
        return block

    def _records_from_split(self, value: dict[str, Any]) -> Any:
        unknown = sorted(set(value) - {"columns", "data", "index"})
        if unknown or "data" not in value:
            raise RequestError(
                f"inputs.{self.name}: a dataframe_split object has 'columns' and 'data' (and "
                f"optionally 'index'); got keys {sorted(value)}."
            )
        columns, data = value.get("columns", list(self.columns)), value["data"]
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise RequestError(f"inputs.{self.name}.columns: expected a list of column names.")
        if len(set(columns)) != len(columns):
            raise RequestError(f"inputs.{self.name}.columns: a column is named twice.")
        if not isinstance(data, list):
            raise RequestError(f"inputs.{self.name}.data: expected a list of rows (lists).")
        records = []
        for i, row in enumerate(data):
            if not isinstance(row, list) or len(row) != len(columns):
                raise RequestError(
                    f"inputs.{self.name}.data, row {i}: expected a list of {len(columns)} values "
                    f"(one per column), got {len(row) if isinstance(row, list) else type(row).__name__}."
                )
            records.append(dict(zip(columns, row, strict=True)))
        return records


class ArrayInput:
    """An ndarray (or Series, or list) input: nested lists checked for dtype, shape and NaN."""

    def __init__(self, name: str, spec: dict[str, Any]) -> None:
        self.name = name
        self.kind = spec.get("kind", "ndarray")
        self.dtype = np.dtype(spec["dtype"]) if spec.get("dtype") and self.kind == "ndarray" else None
        self.shape = list(spec.get("shape") or [])
        self.nullable = bool(spec.get("nullable", False))
        self.series = TypeAdapter(Annotated[list[_column_type(spec)], Field(min_length=1)])
        self.spec = spec

    def parse(self, value: Any) -> tuple[Any, Any, int]:
        if not isinstance(value, list):
            raise RequestError(f"inputs.{self.name}: expected a JSON list, got {type(value).__name__}.")
        if not value:
            raise RequestError(f"inputs.{self.name}: the batch is empty; send at least one row.")
        if self.kind == "list":
            return value, value, len(value)
        if self.kind == "series":
            try:
                values = self.series.validate_python(value)
            except ValidationError as err:
                raise RequestError(_describe(err, self.name, [])) from None
            array = _column_values(values, self.spec)
            return pd.Series(array, name=self.spec.get("name")), values, len(values)
        return self._array(value), value, len(value)

    def _array(self, value: list[Any]) -> np.ndarray:
        where = f"inputs.{self.name}"
        try:
            raw = np.asarray(value)
        except ValueError as err:  # ragged nesting
            raise RequestError(f"{where}: not a rectangular nested list ({err}).") from None
        if self.shape and raw.ndim != len(self.shape):
            raise RequestError(
                f"{where}: expected {len(self.shape)} dimensions (shape [n, {', '.join(map(str, self.shape[1:]))}]), got shape {list(raw.shape)}."
                if len(self.shape) > 1
                else f"{where}: expected a flat list, got shape {list(raw.shape)}."
            )
        if self.shape and list(raw.shape[1:]) != self.shape[1:]:
            raise RequestError(f"{where}: expected shape [n, {', '.join(map(str, self.shape[1:]))}], got {list(raw.shape)}.")
        if self.dtype is None:
            return raw
        target = self.dtype
        if raw.dtype.kind not in _ACCEPTS.get(target.kind, raw.dtype.kind):
            raise RequestError(f"{where}: expected {target} values, got {raw.dtype.kind!r} ({_KINDS.get(raw.dtype.kind, raw.dtype)}) values.")
        array = raw.astype(target)
        if target.kind in "iu" and raw.dtype.kind == "f" and not np.array_equal(array, raw):
            raise RequestError(f"{where}: expected whole numbers for {target}, got fractions.")
        if target.kind == "f" and not self.nullable and not np.isfinite(array).all():
            first = np.argwhere(~np.isfinite(array))[0].tolist()
            raise RequestError(f"{where}: NaN or infinity at position {first} where the schema allows none.")
        return array


_ACCEPTS = {"f": "fiub", "i": "iub", "u": "iub", "b": "b", "U": "U", "O": "OUifb"}
_KINDS = {"U": "text", "O": "mixed or null", "f": "float", "i": "integer", "b": "boolean"}


class PayloadSchema:
    """Every payload input of a card; ``parse(body)`` validates a request body (already JSON-decoded)."""

    def __init__(self, payload: dict[str, dict[str, Any]]) -> None:
        self.spec = payload
        self.inputs: dict[str, Any] = {}
        for name, spec in payload.items():
            kind = spec.get("kind")
            if kind == "dataframe":
                self.inputs[name] = FrameInput(name, spec)
            elif kind in ("ndarray", "series", "list"):
                self.inputs[name] = ArrayInput(name, spec)
            else:  # scalar: a JSON value as is
                self.inputs[name] = None

    def parse(self, body: Any) -> Parsed:
        given = self._given(body)
        missing = [n for n in self.inputs if n not in given]
        unknown = [n for n in given if n not in self.inputs]
        if missing or unknown:
            parts = [f"missing input(s) {', '.join(map(repr, missing))}"] if missing else []
            parts += [f"unknown input(s) {', '.join(map(repr, unknown))}"] if unknown else []
            raise RequestError(f"inputs: {'; '.join(parts)}; the payload is {', '.join(map(repr, self.inputs))}.")
        payload, logged, rows = {}, {}, 0
        for name, parser in self.inputs.items():
            if parser is None:
                payload[name] = logged[name] = given[name]
                rows = rows or 1
                continue
            payload[name], logged[name], count = parser.parse(given[name])
            rows = rows or count
        return Parsed(payload, logged, rows)

    def _given(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise RequestError(f"the body must be a JSON object like {self.example()}, got {type(body).__name__}.")
        single = next(iter(self.inputs)) if len(self.inputs) == 1 else None
        mlflow = {"dataframe_split", "dataframe_records", "instances"} & set(body)
        if mlflow and single is not None and len(body) == 1:  # MLflow's scoring-server shapes
            return {single: body[next(iter(mlflow))]}
        if set(body) != {"inputs"}:
            raise RequestError(
                f"unknown top-level key(s) {', '.join(map(repr, sorted(set(body) - {'inputs'})))}"
                if "inputs" in body
                else f"the body has no 'inputs'; expected {self.example()}"
                + "."
            )
        inputs = body["inputs"]
        if isinstance(inputs, list) and single is not None:
            return {single: inputs}
        if not isinstance(inputs, dict):
            raise RequestError(f"inputs: expected an object keyed by input name, like {self.example()}.")
        return inputs

    def example(self) -> str:
        first = next(iter(self.inputs), "X")
        return f'{{"inputs": {{"{first}": [...]}}}}'


def jsonable(value: Any) -> Any:
    """An output as JSON: arrays and Series as lists, DataFrames as records, NaN as null."""
    if isinstance(value, np.ndarray):
        listed = value.tolist()
        return _no_nan(listed) if value.dtype.kind in "fcO" else listed
    if isinstance(value, pd.DataFrame):
        return [{str(k): jsonable(v) for k, v in row.items()} for row in value.to_dict("records")]
    if isinstance(value, pd.Series | pd.Index | pd.Categorical):
        return jsonable(np.asarray(value, dtype=object) if str(value.dtype) == "category" else value.to_numpy())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    return value


def _no_nan(listed: Any) -> Any:
    if isinstance(listed, list):
        return [_no_nan(v) for v in listed]
    if isinstance(listed, float) and (listed != listed or listed in (math.inf, -math.inf)):
        return None
    return listed


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as the records a consumer would post (categories as their values, NaN as null)."""
    return jsonable(frame)


def payload_from_json(card: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """The ``predict`` payload from JSON inputs (``{"X_test": records}``, as posted or as logged),
    built exactly as ``/predict`` builds it; raises :class:`RequestError` naming the field."""
    return PayloadSchema(card.get("payload") or {}).parse({"inputs": inputs}).payload
