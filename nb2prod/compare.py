"""Compare a notebook value with a pipeline value, as DESIGN.md ("Parity semantics") promises.

Equal values are the common case and must be cheap: arrays are checked in cache-sized chunks without
full-size temporaries, and the details of a :class:`Mismatch` (counts, largest difference, first
position) are computed only once a difference is known to exist. pandas is imported only when a
value already is a pandas object, so importing this module costs numpy alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from nb2prod.results import Mismatch

_CHUNK = 1 << 15  # elements per chunk: the float temporaries of one chunk stay in a 1 MiB L2 cache
_MAX_REPR = 60

Diff = Mismatch | None


def compare(
    name: str, notebook_value: Any, pipeline_value: Any, *, rtol: float = 1e-7, atol: float = 0.0
) -> Mismatch | None:
    """Return why ``pipeline_value`` disagrees with ``notebook_value``, or None when they agree.

    Floats (scalars and arrays) agree when ``|pipeline - notebook| <= atol + rtol * |notebook|``
    (the notebook is the reference), NaN matching NaN in the same place; integers, booleans and
    strings must be equal; arrays and pandas objects must also agree in shape, dtype kind, index
    and columns.
    """
    found = _Comparer(rtol, atol).value(notebook_value, pipeline_value, "")
    if found is None:
        return None
    if found.first_position or found.notebook_value is None:
        return replace(found, target=name)
    # A bare scalar (or 0-d array): the reason says both values, a count of "1 of 1" would be noise.
    reason = f"{found.reason}: notebook {found.notebook_value}, pipeline {found.pipeline_value}"
    return replace(
        found, target=name, reason=reason, first_position=None, n_different=None, n_total=None
    )


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
    return kind


def plot_points(
    notebook_value: Any, pipeline_value: Any, limit: int = 500
) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """Paired finite samples (notebook, pipeline) for a scatter plot, evenly thinned to ``limit``.

    None for scalars, non-numeric values or values whose shapes differ: there is nothing to plot.
    """
    a, b = _numeric_array(notebook_value), _numeric_array(pipeline_value)
    if a is None or b is None or a.shape != b.shape or a.size == 0:
        return None
    a, b = a.reshape(-1), b.reshape(-1)
    if a.size > limit:
        pick = np.linspace(0, a.size - 1, limit).round().astype(np.intp)
        a, b = a[pick], b[pick]
    keep = np.isfinite(a) & np.isfinite(b)
    if not keep.any():
        return None
    return tuple(a[keep].tolist()), tuple(b[keep].tolist())


class _Comparer:
    """Recursive comparison; ``path`` says where a value sits inside the target ("[2]['k']")."""

    def __init__(self, rtol: float, atol: float) -> None:
        self.rtol, self.atol = rtol, atol

    def value(self, a: Any, b: Any, path: str) -> Diff:
        if _is_pandas(a) or _is_pandas(b):
            return self.pandas(a, b, path)
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            return self.array(a, b, path) if type(a) is type(b) else _type_differs(a, b, path)
        if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
            return self.sequence(a, b, path)
        if isinstance(a, dict) or isinstance(b, dict):
            return self.mapping(a, b, path)
        return self.scalar(a, b, path)

    # -- scalars and containers -------------------------------------------------------------------
    def scalar(self, a: Any, b: Any, path: str) -> Diff:
        ka, kb = _scalar_kind(a), _scalar_kind(b)
        if ka is None or kb is None:  # strings, None, arbitrary objects: exact equality
            if _objects_equal(a, b):
                return None
            if not (isinstance(a, type(b)) or isinstance(b, type(a))):
                return _type_differs(a, b, path)
            return _value_differs(a, b, path)
        if ka != kb:
            return _type_differs(a, b, path, what="kind")
        if ka in "fc":
            with np.errstate(all="ignore"):
                if a == b or (_isnan(a) and _isnan(b)):
                    return None
                if np.isfinite(a) and abs(a - b) <= self.atol + self.rtol * abs(a):
                    return None
                diff = abs(complex(a) - complex(b))
        elif a == b:
            return None
        else:
            diff = abs(int(a) - int(b)) if ka == "i" else math.nan
        return _value_differs(a, b, path, None if math.isnan(diff) else float(diff))

    def sequence(self, a: Any, b: Any, path: str) -> Diff:
        if type(a) is not type(b):
            return _type_differs(a, b, path)
        if len(a) != len(b):
            return _mismatch(
                f"length differs: notebook {len(a)}, pipeline {len(b)}",
                path,
                notebook_shape=(len(a),),
                pipeline_shape=(len(b),),
            )
        pairs = [(f"[{i}]", x, y) for i, (x, y) in enumerate(zip(a, b, strict=True))]
        return self.children(pairs, path, len(a))

    def mapping(self, a: Any, b: Any, path: str) -> Diff:
        if type(a) is not type(b):
            return _type_differs(a, b, path)
        missing, extra = [k for k in a if k not in b], [k for k in b if k not in a]
        if missing or extra:
            parts = [f"missing in pipeline {missing!r}"] * bool(missing)
            parts += [f"extra in pipeline {extra!r}"] * bool(extra)
            return _mismatch("keys differ: " + "; ".join(parts), path)
        return self.children([(f"[{k!r}]", a[k], b[k]) for k in a], path, len(a))

    def children(self, pairs: list[tuple[str, Any, Any]], path: str, length: int) -> Diff:
        """Compare every child; report the first difference, with totals over all leaves."""
        found = [(d, x) for step, x, y in pairs if (d := self.value(x, y, path + step)) is not None]
        if not found:
            return None
        first = found[0][0]
        plain = all(d.reason in ("value differs", "values differ") for d, _ in found)
        if len(found) == 1 and not plain:
            return first  # one structural difference deeper down: its own shapes say more
        diffs = [d.max_abs_diff for d, _ in found if d.max_abs_diff is not None]
        return replace(
            first,
            reason="values differ" if plain else f"{first.reason} (and {len(found) - 1} more)",
            notebook_shape=(length,),
            pipeline_shape=(length,),
            n_different=sum(d.n_different or 1 for d, _ in found),
            n_total=sum(_leaves(x) for _, x, _ in pairs),
            max_abs_diff=max(diffs) if diffs else None,
        )

    # -- numpy ------------------------------------------------------------------------------------
    def array(self, a: np.ndarray, b: np.ndarray, path: str) -> Diff:
        if a.shape != b.shape:
            return _mismatch("shape differs", path, notebook_shape=a.shape, pipeline_shape=b.shape)
        rule = _family(a.dtype)
        if rule != _family(b.dtype):
            return _mismatch(
                f"dtype kind differs: notebook {a.dtype}, pipeline {b.dtype}",
                path,
                notebook_shape=a.shape,
                pipeline_shape=b.shape,
            )
        bad = self.bad(a, b, rule)
        if bad is None:
            return None
        return _values_differ(a, b, bad, rule, path, lambda i: path + _array_position(i, a.shape))

    def bad(self, a: np.ndarray, b: np.ndarray, rule: str) -> np.ndarray | None:
        """None when every element agrees (the cheap path); otherwise the mask of disagreeing ones.

        ``rule`` is a dtype family: "f"/"c" compare with tolerance, "O" element by element, anything
        else exactly (NaN and NaT facing themselves agree).
        """
        if a.ndim == 0:
            return self.bad(a.reshape(1), b.reshape(1), rule)
        if rule in "fc" and a.dtype.kind in "fc" and b.dtype.kind in "fc":
            if _all_chunks(a, b, self._close_chunk):
                return None
            with np.errstate(invalid="ignore", over="ignore"):
                ok = (np.abs(a - b) <= self.atol + self.rtol * np.abs(a)) & np.isfinite(a)
        elif rule == "O" or a.dtype.kind == "O" or b.dtype.kind == "O":
            return self._object_bad(a, b)
        else:
            if _all_chunks(a, b, np.equal):
                return None
            ok = np.equal(a, b)
        if not ok.all():
            ok[~ok] = _same_special(a[~ok], b[~ok])
        return None if ok.all() else ~ok

    def _close_chunk(self, x: np.ndarray, y: np.ndarray) -> bool:
        if np.equal(x, y).all():  # identical output is the usual case and the cheapest to prove
            return True
        with np.errstate(invalid="ignore", over="ignore"):
            d = np.subtract(x, y)
            d = np.abs(d, out=d) if d.dtype.kind == "f" else np.abs(d)
            t = np.abs(x)  # the notebook's value sets the scale
            t *= self.rtol
            t += self.atol
            np.minimum(t, np.finfo(t.dtype).max, out=t)  # an infinity tolerates only itself
            ok = np.less_equal(d, t)
        return bool(ok.all()) or bool(_same_special(x[~ok], y[~ok]).all())

    def _object_bad(self, a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
        try:
            with np.errstate(all="ignore"):
                bad = ~np.asarray(np.equal(a, b), dtype=bool)
        except (TypeError, ValueError):  # elements whose == is not a plain bool (arrays, pd.NA)
            bad = np.ones(a.shape, dtype=bool)
        flat, xs, ys = bad.reshape(-1), a.reshape(-1), b.reshape(-1)  # bad is fresh: a view
        idx = np.flatnonzero(flat)
        try:  # NaN facing NaN (NaN != NaN) is the common disagreement of equal data: settle in bulk
            gaps = np.not_equal(xs[idx], xs[idx]) & np.not_equal(ys[idx], ys[idx])
            flat[idx[gaps]], idx = False, idx[~gaps]
        except (TypeError, ValueError):
            pass
        # What is left (floats within tolerance, nested arrays, None facing NaN): one by one.
        pairs = zip(xs[idx], ys[idx], strict=True)
        flat[idx] = [self.value(x, y, "") is not None for x, y in pairs]
        return bad if bad.any() else None

    # -- pandas (nb2prod.compare_frames) ---------------------------------------------------------
    def pandas(self, a: Any, b: Any, path: str) -> Diff:
        from nb2prod.compare_frames import compare_pandas  # only values that are pandas get here

        return compare_pandas(self, a, b, path)


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
