"""Parity targets beyond numpy, pandas and plain Python values: one rule per kind, never a traceback.

- **Tensors and other arrays** (torch, anything with ``__dlpack__`` or ``__array__``): both sides
  must be the same type; they are turned into numpy arrays (``np.from_dlpack``, else ``np.asarray``;
  torch tensors are detached and moved to the CPU first) and compared like arrays.
- **polars** DataFrames and Series: column names and dtypes must be equal, values compare column
  by column like numpy arrays.
- **scipy sparse** matrices and arrays: shape and dtype kind, then every stored or differing entry
  with the tolerances, without making them dense.
- **Fitted scikit-learn objects** (anything with ``get_params`` and ``fit``): same class, the same
  parameters (``get_params(deep=False)``), and the same fitted attributes (public names ending in
  ``_``, such as ``coef_`` or ``tree_``) compared with the tolerances.
- **Any other object**: its own ``__eq__`` when the class defines one and it returns a bool; otherwise
  its attributes (``__dict__``, or the state ``__getstate__`` gives, as pickle would save it),
  compared recursively by these same rules. Never by ``repr``, never by identity.

Only values that already are of a library's type reach that library's code, so nothing here imports
torch, polars or scipy.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from nb2prod.parity._diff import Diff, _mismatch, _type_differs, _values_differ

MAX_DEPTH = 40  # attribute nesting followed before giving up (cycles are cut earlier)


class Comparer(Protocol):
    def value(self, a: Any, b: Any, path: str) -> Diff: ...

    def array(self, a: np.ndarray, b: np.ndarray, path: str) -> Diff: ...

    def bad(self, a: np.ndarray, b: np.ndarray, rule: str) -> np.ndarray | None: ...


def module_of(value: Any) -> str:
    return type(value).__module__ or ""


# -- which rule -----------------------------------------------------------------------------------
def kind(value: Any) -> str | None:
    """The rule for ``value``: "polars", "sparse", "array", "estimator", "object", or None (the plain
    rules of ``compare.py``: numbers, strings, containers, numpy, pandas)."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic,
                                           np.ndarray, list, tuple, dict, set, frozenset)):
        return None
    module = module_of(value)
    if module.startswith("polars"):
        return "polars"
    if module.startswith("scipy.sparse"):
        return "sparse"
    if module.startswith("torch") and hasattr(value, "detach"):
        return "array"
    if hasattr(value, "__dlpack__") or hasattr(value, "__array__"):
        return "array"
    if callable(getattr(value, "get_params", None)) and callable(getattr(value, "fit", None)):
        return "estimator"
    return "object"


def to_numpy(value: Any) -> np.ndarray | None:
    """An array-like as a numpy array (torch: detached, on the CPU), or None when it will not go."""
    if module_of(value).startswith("torch") and hasattr(value, "detach"):
        tensor = value.detach().cpu()
        if tensor.dtype.is_floating_point and tensor.element_size() < 4:  # bfloat16 has no numpy twin
            tensor = tensor.float()
        try:
            return tensor.resolve_conj().resolve_neg().numpy()
        except (TypeError, RuntimeError):
            return None
    for convert in (np.from_dlpack, np.asarray):
        if convert is np.from_dlpack and not hasattr(value, "__dlpack__"):
            continue
        if convert is np.asarray and not hasattr(value, "__array__"):
            continue
        try:
            array = convert(value)
        except (TypeError, ValueError, RuntimeError, BufferError, AttributeError):
            continue
        if isinstance(array, np.ndarray):
            return array
    return None


def compare_other(cmp: Comparer, a: Any, b: Any, path: str, stack: set[tuple[int, int]]) -> Diff:
    """Compare values whose :func:`kind` is not None on one side at least."""
    ka, kb = kind(a), kind(b)
    if ka != kb or type(a) is not type(b):
        return _type_differs(a, b, path)
    if ka == "array":
        return _arrays(cmp, a, b, path)
    if ka == "polars":
        return _polars(cmp, a, b, path)
    if ka == "sparse":
        return _sparse(cmp, a, b, path)
    key = (id(a), id(b))
    if key in stack or len(stack) >= MAX_DEPTH:
        return None  # a cycle back to an object being compared: its differences show there
    stack.add(key)
    try:
        if ka == "estimator":
            return _estimator(cmp, a, b, path)
        return _object(cmp, a, b, path)
    finally:
        stack.discard(key)


# -- arrays and tensors ---------------------------------------------------------------------------
def _arrays(cmp: Comparer, a: Any, b: Any, path: str) -> Diff:
    xa, xb = to_numpy(a), to_numpy(b)
    if xa is None or xb is None:
        return _object(cmp, a, b, path)
    return cmp.array(xa, xb, path)


# -- polars ---------------------------------------------------------------------------------------
def _polars(cmp: Comparer, a: Any, b: Any, path: str) -> Diff:
    frame = hasattr(a, "columns") and hasattr(a, "get_column")
    if not frame and not hasattr(a, "to_numpy"):  # LazyFrame, expressions: not values
        return _object(cmp, a, b, path)
    shapes = {"notebook_shape": tuple(a.shape), "pipeline_shape": tuple(b.shape)}
    if a.shape != b.shape:
        return _mismatch("shape differs", path, **shapes)
    names_a = list(a.columns) if frame else [a.name]
    names_b = list(b.columns) if frame else [b.name]
    if names_a != names_b:
        what = "columns differ" if frame else "name differs"
        return _mismatch(f"{what}: notebook {names_a}, pipeline {names_b}", path, **shapes)
    columns = [(n, a.get_column(n), b.get_column(n)) for n in names_a] if frame else [(a.name, a, b)]
    found = []
    for j, (name, ca, cb) in enumerate(columns):
        if str(ca.dtype) != str(cb.dtype):
            where = f" in column {name!r}" if frame else ""
            return _mismatch(f"dtype differs{where}: notebook {ca.dtype}, pipeline {cb.dtype}", path,
                             **shapes)
        va, vb = _polars_values(ca), _polars_values(cb)
        bad = cmp.bad(va, vb, va.dtype.kind)
        if bad is not None:
            col = f", column {name!r}" if frame else ""
            found.append((int(bad.argmax()), j, _values_differ(
                va, vb, bad, va.dtype.kind, path, lambda i, col=col: f"{path} row {i}{col}".lstrip()
            )))
    if not found:
        return None
    first = min(found, key=lambda f: f[:2])[2]
    diffs = [d.max_abs_diff for *_, d in found if d.max_abs_diff is not None]
    from dataclasses import replace

    return replace(first, **shapes, n_different=sum(d.n_different or 0 for *_, d in found),
                   n_total=int(np.prod(a.shape)), max_abs_diff=max(diffs) if diffs else None)


def _polars_values(series: Any) -> np.ndarray:
    values = series.to_numpy()
    return values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)


# -- scipy sparse ---------------------------------------------------------------------------------
def _sparse(cmp: Comparer, a: Any, b: Any, path: str) -> Diff:
    if not hasattr(a, "tocsr"):
        return _object(cmp, a, b, path)
    shapes = {"notebook_shape": tuple(a.shape), "pipeline_shape": tuple(b.shape)}
    if a.shape != b.shape:
        return _mismatch("shape differs", path, **shapes)
    from nb2prod.parity._diff import _family

    if _family(a.dtype) != _family(b.dtype):
        return _mismatch(f"dtype kind differs: notebook {a.dtype}, pipeline {b.dtype}", path, **shapes)
    ca, cb = a.tocsr(), b.tocsr()
    diff = (ca - cb).tocoo()  # every entry where they differ at all (explicit zeros included)
    rows, cols = diff.row, diff.col
    if rows.size == 0:
        return None
    va = np.asarray(ca[rows, cols]).reshape(-1)
    vb = np.asarray(cb[rows, cols]).reshape(-1)
    bad = cmp.bad(va, vb, _family(a.dtype))
    if bad is None:
        return None
    order = np.lexsort((cols, rows))  # row-major: the first difference a reader would find
    va, vb, bad, rows, cols = va[order], vb[order], bad[order], rows[order], cols[order]
    found = _values_differ(va, vb, bad, _family(a.dtype), path,
                           lambda i: f"{path}[{int(rows[i])}, {int(cols[i])}]")
    from dataclasses import replace

    return replace(found, **shapes, n_total=int(np.prod(a.shape)))


# -- scikit-learn ---------------------------------------------------------------------------------
def _estimator(cmp: Comparer, a: Any, b: Any, path: str) -> Diff:
    try:
        pa, pb = a.get_params(deep=False), b.get_params(deep=False)
    except Exception:  # noqa: BLE001 - a get_params that fails: fall back to the attributes
        return _object(cmp, a, b, path)
    found = _attributes(cmp, pa, pb, path, "params")
    if found is not None:
        return found
    fa, fb = _fitted(a), _fitted(b)
    return _attributes(cmp, fa, fb, path, "fitted attributes")


def _fitted(estimator: Any) -> dict[str, Any]:
    """scikit-learn's convention: what ``fit`` learnt is a public attribute whose name ends in ``_``."""
    names = getattr(estimator, "__dict__", {})
    return {k: v for k, v in names.items() if k.endswith("_") and not k.startswith("_")}


# -- anything else --------------------------------------------------------------------------------
def _object(cmp: Comparer, a: Any, b: Any, path: str) -> Diff:
    if type(a).__eq__ is not object.__eq__:
        try:
            same = a == b
        except Exception:  # noqa: BLE001 - an __eq__ that raises says nothing: use the attributes
            same = None
        if isinstance(same, (bool, np.bool_)):
            return None if same else _mismatch(
                f"value differs: {type(a).__name__}.__eq__ says the two are not equal", path
            )
    sa, sb = _state(a), _state(b)
    if sa is None or sb is None:
        return _cannot(a, path)
    if isinstance(sa, dict) and isinstance(sb, dict):
        return _attributes(cmp, sa, sb, path, "attributes")
    return cmp.value(sa, sb, path)


def _state(value: Any) -> Any:
    """What an object holds: its ``__dict__``, or the state pickle would save for it."""
    names = getattr(value, "__dict__", None)
    if isinstance(names, dict) and names:
        return names
    getstate = getattr(value, "__getstate__", None)
    if callable(getstate):
        try:
            state = getstate()
        except Exception:  # noqa: BLE001
            state = None
        if isinstance(state, tuple) and len(state) == 2 and state[0] is None:
            state = state[1]  # __slots__ only: (None, {slot: value})
        if state is not None:
            return state
    return names if isinstance(names, dict) else None


def _cannot(value: Any, path: str) -> Diff:
    return _mismatch(
        f"cannot compare {type(value).__name__} values: the class defines no __eq__ that returns "
        "a bool and holds no attributes to compare; make the target a number, an array or a frame",
        path,
    )


def _attributes(cmp: Comparer, a: dict[str, Any], b: dict[str, Any], path: str, what: str) -> Diff:
    missing, extra = [k for k in a if k not in b], [k for k in b if k not in a]
    if missing or extra:
        parts = [f"missing in pipeline {missing!r}"] * bool(missing)
        parts += [f"extra in pipeline {extra!r}"] * bool(extra)
        return _mismatch(f"{what} differ: " + "; ".join(parts), path)
    for name in a:
        found = cmp.value(a[name], b[name], f"{path}.{name}")
        if found is not None:
            return found
    return None
