"""Compare a notebook value with a pipeline value, as DESIGN.md ("Parity semantics") promises.

Equal values are the common case and must be cheap: arrays are checked in cache-sized chunks without
full-size temporaries, and the details of a :class:`Mismatch` (counts, largest difference, first
position) are computed only once a difference is known to exist. pandas is imported only when a
value already is a pandas object, so importing this module costs numpy alone.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from nb2prod.parity._diff import (
    Diff,
    _all_chunks,
    _array_position,
    _family,
    _is_pandas,
    _isnan,
    _leaves,
    _mismatch,
    _numeric_array,
    _objects_equal,
    _same_special,
    _scalar_kind,
    _type_differs,
    _value_differs,
    _values_differ,
    summarize,
)
from nb2prod.parity.compare_objects import compare_other, kind, to_numpy
from nb2prod.parity.results import Mismatch

__all__ = ["Diff", "compare", "plot_points", "summarize"]


def compare(
    name: str, notebook_value: Any, pipeline_value: Any, *, rtol: float = 1e-7, atol: float = 0.0
) -> Mismatch | None:
    """Return why ``pipeline_value`` disagrees with ``notebook_value``, or None when they agree.

    Floats (scalars and arrays) agree when ``|pipeline - notebook| <= atol + rtol * |notebook|``
    (the notebook is the reference), NaN matching NaN in the same place; integers, booleans and
    strings must be equal; arrays and pandas objects must also agree in shape, dtype kind, index
    and columns.
    """
    try:
        found = _Comparer(rtol, atol).value(notebook_value, pipeline_value, "")
    except Exception as exc:  # noqa: BLE001 - a value's own code failed: a verdict, not a traceback
        found = Mismatch(
            name, f"could not be compared: {type(exc).__name__}: {exc}",
            notebook_value=summarize(notebook_value), pipeline_value=summarize(pipeline_value),
        )
        return replace(found, first_position=None)
    if found is None:
        return None
    if found.first_position or found.notebook_value is None:
        return replace(found, target=name)
    # A bare scalar (or 0-d array): the reason says both values, a count of "1 of 1" would be noise.
    reason = f"{found.reason}: notebook {found.notebook_value}, pipeline {found.pipeline_value}"
    return replace(
        found, target=name, reason=reason, first_position=None, n_different=None, n_total=None
    )


def plot_points(
    notebook_value: Any, pipeline_value: Any, limit: int = 500
) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """Paired finite samples (notebook, pipeline) for a scatter plot, evenly thinned to ``limit``.

    None for scalars, non-numeric values or values whose shapes differ: there is nothing to plot.
    """
    if kind(notebook_value) == "array" and kind(pipeline_value) == "array":
        notebook_value, pipeline_value = to_numpy(notebook_value), to_numpy(pipeline_value)
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
        self.stack: set[tuple[int, int]] = set()  # objects being compared (cycles stop there)

    def value(self, a: Any, b: Any, path: str) -> Diff:
        if _is_pandas(a) or _is_pandas(b):
            return self.pandas(a, b, path)
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            if type(a) is type(b):
                return self.array(a, b, path)
            if kind(a) != "array" and kind(b) != "array":
                return _type_differs(a, b, path)
        if kind(a) is not None or kind(b) is not None:  # tensors, polars, sparse, estimators, ...
            return compare_other(self, a, b, path, self.stack)
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
        if a.dtype.names is not None or b.dtype.names is not None:  # structured: field by field
            if a.dtype.names != b.dtype.names:
                return _mismatch(f"fields differ: notebook {a.dtype.names}, pipeline {b.dtype.names}",
                                 path, notebook_shape=a.shape, pipeline_shape=b.shape)
            for name in a.dtype.names:
                found = self.array(a[name], b[name], f"{path}[{name!r}]")
                if found is not None:
                    return found
            return None
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

    # -- pandas (nb2prod.parity.compare_frames) ---------------------------------------------------------
    def pandas(self, a: Any, b: Any, path: str) -> Diff:
        from nb2prod.parity.compare_frames import (
            compare_pandas,  # only values that are pandas get here
        )

        return compare_pandas(self, a, b, path)
