"""The pandas half of parity comparison: DataFrames, Series and Indexes, split from ``compare.py``.

Only values that already are pandas objects reach this module, so importing ``nb2prod.parity.compare``
never imports pandas. Labels (index, columns) must be equal; values are compared column by column as
numpy arrays without copies where pandas allows it, and a single-dtype frame as one 2-D block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from nb2prod.parity._diff import (
    Comparer,
    Diff,
    _family,
    _mismatch,
    _objects_equal,
    _pandas_kind,
    _type_differs,
    _value_differs,
    _values_differ,
)
from nb2prod.parity.results import Mismatch


# -- pandas -----------------------------------------------------------------------------------
def compare_pandas(cmp: Comparer, a: Any, b: Any, path: str) -> Diff:
    """DataFrame, Series or Index (or a pandas scalar) against the other side's value."""
    kind, other = _pandas_kind(a), _pandas_kind(b)
    if kind != other:
        return _type_differs(a, b, path)
    if kind is None:  # Timestamp, Timedelta, NA, Categorical, ...
        if hasattr(a, "equals") and type(a) is type(b):
            return None if a.equals(b) else _value_differs(a, b, path)
        return cmp.scalar(a, b, path)
    shapes = {"notebook_shape": a.shape, "pipeline_shape": b.shape}
    if a.shape != b.shape:
        return _mismatch("shape differs", path, **shapes)
    if kind != "Index" and not a.index.equals(b.index):
        return labels_differ("index", a.index, b.index, path, shapes)
    if kind == "DataFrame" and not a.columns.equals(b.columns):
        return labels_differ("column", a.columns, b.columns, path, shapes)
    frame = kind == "DataFrame"
    dtypes = (list(a.dtypes), list(b.dtypes)) if frame else ([a.dtype], [b.dtype])
    for j, (da, db) in enumerate(zip(*dtypes, strict=True)):
        if _family(da) != _family(db):
            where = f" in column {label(a.columns[j])}" if frame else ""
            reason = f"dtype kind differs{where}: notebook {da}, pipeline {db}"
            return _mismatch(reason, path, **shapes)
    if frame and len(set(dtypes[0] + dtypes[1])) == 1 and isinstance(dtypes[0][0], np.dtype):
        return _block(cmp, a, b, path)  # one dtype: one 2-D numpy comparison, however wide
    columns = [a.iloc[:, j] for j in range(a.shape[1])] if frame else [a]
    others = [b.iloc[:, j] for j in range(b.shape[1])] if frame else [b]
    found = []  # (first bad row, column number, mismatch); one numpy column at a time
    for j, (ca, cb) in enumerate(zip(columns, others, strict=True)):
        va, vb = _pandas_values(ca), _pandas_values(cb)
        rule = _family(ca.dtype) if _family(va.dtype) == _family(vb.dtype) else "O"
        bad = cmp.bad(va, vb, rule)
        if bad is not None:
            where = _pandas_position(a, kind, j, path)
            found.append((int(bad.argmax()), j, _values_differ(va, vb, bad, rule, path, where)))
    if not found:
        return None
    first = min(found, key=lambda f: f[:2])[2]  # the earliest row, then the leftmost column
    diffs = [d.max_abs_diff for *_, d in found if d.max_abs_diff is not None]
    return replace(
        first,
        notebook_shape=a.shape,
        pipeline_shape=b.shape,
        n_different=sum(d.n_different or 0 for *_, d in found),
        n_total=int(a.size),
        max_abs_diff=max(diffs) if diffs else None,
    )


def _block(cmp: Comparer, a: Any, b: Any, path: str) -> Diff:
    """A single-dtype DataFrame compared as one array; C order finds the earliest row first."""
    va, vb = a.to_numpy(), b.to_numpy()
    rule = _family(va.dtype)
    bad = cmp.bad(va, vb, rule)
    if bad is None:
        return None
    rows, cols, width = a.index, a.columns, a.shape[1]

    def where(i: int) -> str:
        row, col = label(rows[i // width]), label(cols[i % width])
        return f"{path} row {row}, column {col}".lstrip()

    return _values_differ(va, vb, bad, rule, path, where)


def _pandas_position(obj: Any, kind: str, j: int, path: str) -> Callable[[int], str]:
    """Turn a flat row number into "row <label>, column <label>" (or "[i]" inside an Index)."""
    if kind == "Index":
        return lambda i: f"{path}[{i}]"
    col = f", column {label(obj.columns[j])}" if kind == "DataFrame" else ""
    return lambda i: f"{path} row {label(obj.index[i])}{col}".lstrip()


def _pandas_values(obj: Any) -> np.ndarray:
    """A numpy view of a Series/Index; nullable numeric extension arrays become float with NaN."""
    dtype = obj.dtype
    if not isinstance(dtype, np.dtype) and getattr(dtype, "kind", "O") in "iufb":
        return obj.to_numpy(dtype="float64", na_value=np.nan)
    return obj.to_numpy()


def label(v: Any) -> str:
    return repr(v.item() if isinstance(v, np.generic) else v)


def labels_differ(what: str, ia: Any, ib: Any, path: str, shapes: dict[str, Any]) -> Mismatch:
    if len(ia) != len(ib):
        reason = f"{what} labels differ: notebook {len(ia)}, pipeline {len(ib)}"
        return _mismatch(reason, path, **shapes)
    differ = [i for i, (x, y) in enumerate(zip(ia, ib, strict=True)) if not _objects_equal(x, y)]
    if not differ:
        reason = f"{what} labels differ in dtype: notebook {ia.dtype}, pipeline {ib.dtype}"
        return _mismatch(reason, path, **shapes)
    i = differ[0]
    return _mismatch(
        f"{what} labels differ",
        path,
        **shapes,
        n_different=len(differ),
        n_total=len(ia),
        first_position=f"{path} {what} position {i}".lstrip(),
        notebook_value=label(ia[i]),
        pipeline_value=label(ib[i]),
    )
