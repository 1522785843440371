"""The elements of parity comparison that both halves share: the Diff type, dtype families,
chunked element tests and the Mismatch builders (``compare`` for numpy and Python values,
``compare_frames`` for pandas)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from nb2prod.parity.results import Mismatch

_CHUNK = 1 << 15  # elements per chunk: the float temporaries of one chunk stay in a 1 MiB L2 cache
_MAX_REPR = 60

Diff = Mismatch | None


class Comparer(Protocol):
    """What the pandas half asks of the comparer that dispatched to it (``compare._Comparer``)."""

    def scalar(self, a: Any, b: Any, path: str) -> Diff: ...

    def bad(self, a: np.ndarray, b: np.ndarray, rule: str) -> np.ndarray | None: ...


def summarize(value: Any) -> str:
    """A short description for tables ("ndarray float64 (89,)", "float 0.4512"), not a full repr."""
    kind = type(value).__name__
    if _pandas_kind(value) == "DataFrame":
        return f"DataFrame {value.shape}"
    if _pandas_kind(value) is not None:
        return f"{kind} {value.dtype} {value.shape}"
    if isinstance(value, np.ndarray):
        return f"ndarray {value.dtype} {value.shape}"
    if isinstance(value, np.generic):
        return f"{value.dtype} {_short(value)}"
    if value is None:
        return "None"
    if isinstance(value, (bool, int, float, complex, str, bytes)):
        return f"{kind} {_short(value)}"
    if _is_pandas(value):
        return f"{kind} {str(value)[:_MAX_REPR]}"
    if isinstance(value, (list, tuple)):
        return f"{kind} len {len(value)}"
    if isinstance(value, dict):
        return f"dict {len(value)} keys"
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if isinstance(shape, tuple) or type(shape).__name__ == "Size":  # tensors, sparse, polars
        dtype = str(dtype).removeprefix("torch.") if dtype is not None else ""
        return " ".join(p for p in (kind, dtype, str(tuple(shape))) if p)
    return kind


# -- helpers --------------------------------------------------------------------------------------
def _is_pandas(value: Any) -> bool:
    return type(value).__module__.startswith("pandas")


def _pandas_kind(value: Any) -> str | None:
    """The pandas container a value is (DataFrame, Series, Index or a subclass), else None."""
    if not _is_pandas(value):
        return None
    import pandas as pd  # already imported by whoever made ``value``

    for kind in (pd.DataFrame, pd.Series, pd.Index):
        if isinstance(value, kind):
            return kind.__name__
    return None


def _family(dtype: Any) -> str:
    """numpy's kind letter, except that signed and unsigned integers are one family."""
    kind = getattr(dtype, "kind", "O")
    return "i" if kind == "u" else kind


def _scalar_kind(v: Any) -> str | None:
    for kind, types in (
        ("b", (bool, np.bool_)),
        ("i", (int, np.integer)),
        ("f", (float, np.floating)),
        ("c", (complex, np.complexfloating)),
    ):
        if isinstance(v, types):
            return kind
    return None


def _isnan(v: Any) -> bool:
    return isinstance(v, (float, complex, np.inexact)) and v != v


def _missing(v: Any) -> bool:
    """None, NaN, NaT or pd.NA: what pandas prints as a gap."""
    if isinstance(v, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(v))
    return v is None or _isnan(v) or type(v).__name__ in ("NAType", "NaTType")


def _objects_equal(a: Any, b: Any) -> bool:
    if a is b or (_missing(a) and _missing(b)):
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # == that returns an array or refuses to be a bool
        return False


def _same_special(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Equal infinities, NaN facing NaN and NaT facing NaT agree, whatever arithmetic says."""
    same = x == y
    if x.dtype.kind in "fc" and y.dtype.kind in "fc":
        same |= np.isnan(x) & np.isnan(y)
    elif x.dtype.kind in "mM" and y.dtype.kind in "mM":
        same |= np.isnat(x) & np.isnat(y)
    return same


def _all_chunks(a: np.ndarray, b: np.ndarray, ok: Callable[..., Any]) -> bool:
    """``ok`` over cache-sized views of both arrays (no copies); stops at the first failure."""
    if a.flags.c_contiguous and b.flags.c_contiguous:
        a, b = a.reshape(-1), b.reshape(-1)
    elif a.flags.f_contiguous and b.flags.f_contiguous:
        a, b = a.ravel(order="K"), b.ravel(order="K")
    step = max(1, _CHUNK // max(1, a[:1].size))  # rows per chunk when a stays multi-dimensional
    for start in range(0, max(len(a), 1), step):
        if not bool(np.all(ok(a[start : start + step], b[start : start + step]))):
            return False
    return True


def _values_differ(
    a: np.ndarray, b: np.ndarray, bad: np.ndarray, rule: str, path: str, where: Callable[[int], str]
) -> Mismatch:
    flat = np.flatnonzero(bad)  # C order: the first one is where a reader's eye lands first
    x, y = a.reshape(-1)[flat], b.reshape(-1)[flat]
    return _mismatch(
        "values differ",
        path,
        notebook_shape=a.shape,
        pipeline_shape=b.shape,
        n_different=int(flat.size),
        n_total=int(a.size),
        max_abs_diff=_max_abs_diff(x, y) if rule in "fci" and x.dtype.kind in "fciu" else None,
        first_position=where(int(flat[0])),
        notebook_value=_short(x[0]),
        pipeline_value=_short(y[0]),
    )


def _max_abs_diff(x: np.ndarray, y: np.ndarray) -> float | None:
    with np.errstate(all="ignore"):
        d = np.abs(x.astype(np.complex128 if x.dtype.kind == "c" else np.float64) - y)
    d = d[~np.isnan(d)]
    return float(d.max()) if d.size else None


def _array_position(i: int, shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(k)) for k in np.unravel_index(i, shape)) + "]" if shape else ""


def _leaves(v: Any) -> int:
    if isinstance(v, (list, tuple)):
        return sum(_leaves(x) for x in v)
    if isinstance(v, dict):
        return sum(_leaves(x) for x in v.values())
    return int(v.size) if hasattr(v, "shape") and hasattr(v, "size") else 1


def _short(v: Any) -> str:
    text = repr(v.item() if isinstance(v, np.generic) else v)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def _mismatch(reason: str, path: str, **fields: Any) -> Mismatch:
    fields.setdefault("first_position", path or None)
    return Mismatch(target="", reason=reason, **fields)


def _value_differs(a: Any, b: Any, path: str, max_abs_diff: float | None = None) -> Mismatch:
    return _mismatch(
        "value differs",
        path,
        n_different=1,
        n_total=1,
        max_abs_diff=max_abs_diff,
        notebook_value=_short(a),
        pipeline_value=_short(b),
    )


def _type_differs(a: Any, b: Any, path: str, what: str = "type") -> Mismatch:
    return _mismatch(f"{what} differs: notebook {summarize(a)}, pipeline {summarize(b)}", path)


def _numeric_array(v: Any) -> np.ndarray | None:
    if (kind := _pandas_kind(v)) is not None:
        kinds = list(v.dtypes) if kind == "DataFrame" else [v.dtype]
        if not kinds or any(getattr(k, "kind", "O") not in "iuf" for k in kinds):
            return None
        return v.to_numpy(dtype="float64", na_value=np.nan)
    if isinstance(v, (list, tuple)):
        try:
            v = np.asarray(v)
        except ValueError:  # ragged
            return None
    if isinstance(v, np.ndarray) and v.dtype.kind in "iuf" and v.ndim >= 1:
        return v.astype(np.float64, copy=False)
    return None
