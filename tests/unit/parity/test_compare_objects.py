"""Parity targets of any type (issue 14, item 4): tensors, DLPack and ``__array__`` objects, polars,
scipy sparse, fitted scikit-learn objects and plain objects; each by its documented rule."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from nb2prod.parity.compare import compare, summarize

X, Y = load_iris(return_X_y=True)


class DLPackBox:
    """A small array type of our own that speaks only DLPack (no ``__array__``)."""

    def __init__(self, data) -> None:
        self._data = np.asarray(data)

    def __dlpack__(self, **kw):
        return self._data.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()


class ArrayBox:
    """One that speaks only ``__array__``, and whose ``==`` returns an array (like a tensor's)."""

    def __init__(self, data) -> None:
        self.data = np.asarray(data)

    def __array__(self, dtype=None, copy=None):
        return self.data

    def __eq__(self, other):
        return self.data == np.asarray(other)


class Point:
    def __init__(self, x, tags) -> None:
        self.x, self.tags = x, tags


class Money:
    def __init__(self, cents) -> None:
        self.cents = cents

    def __eq__(self, other):
        return isinstance(other, Money) and self.cents == other.cents


class Opaque:
    __slots__ = ()


def test_dlpack_and_array_objects_compare_like_arrays() -> None:
    assert compare("w", DLPackBox([1.0, 2.0]), DLPackBox([1.0, 2.0])) is None
    m = compare("w", DLPackBox([1.0, 2.0, 3.0]), DLPackBox([1.0, 2.5, 3.0]))
    assert m is not None and m.reason == "values differ"
    assert (m.n_different, m.first_position, m.max_abs_diff) == (1, "[1]", 0.5)
    assert compare("w", ArrayBox([[1, 2]]), ArrayBox([[1, 2]])) is None
    m = compare("w", ArrayBox([1.0, 2.0]), ArrayBox([1.0, 2.0 + 1e-3]), rtol=1e-6)
    assert m is not None and m.first_position == "[1]"
    assert compare("w", ArrayBox([1.0, 2.0]), ArrayBox([1.0, 2.0 + 1e-9]), rtol=1e-6) is None
    assert "type differs" in compare("w", ArrayBox([1.0]), np.array([1.0])).reason


def test_torch_tensors_compare_like_arrays_never_as_bool() -> None:
    torch = pytest.importorskip("torch")
    t = torch.randn(4, 3, requires_grad=True)
    assert compare("t", t, t.detach().clone()) is None
    other = t.detach().clone()
    other[2, 1] += 1.0
    m = compare("t", t, other)
    assert m is not None and m.first_position == "[2, 1]" and m.n_different == 1
    assert summarize(t) == "Tensor float32 (4, 3)"
    assert compare("t", torch.ones(2, dtype=torch.bfloat16), torch.ones(2, dtype=torch.bfloat16)) is None
    assert "dtype kind differs" in compare("t", torch.ones(2), torch.ones(2, dtype=torch.int64)).reason


def test_fitted_estimators_compare_by_parameters_and_fitted_attributes() -> None:
    fit = lambda **kw: DecisionTreeClassifier(random_state=0, **kw).fit(X, Y)  # noqa: E731
    assert compare("model", fit(), fit()) is None  # equal trees: "passed", not identity
    m = compare("model", fit(), fit(max_depth=2))
    assert m is not None and m.first_position == ".max_depth"
    moved = DecisionTreeClassifier(random_state=0).fit(X, np.roll(Y, 1))
    m = compare("model", fit(), moved)
    assert m is not None and m.first_position.startswith(".tree_")  # what fit learnt differs
    forest = lambda: make_pipeline(StandardScaler(), RandomForestClassifier(5, random_state=1)).fit(X, Y)  # noqa: E731
    assert compare("pipe", forest(), forest()) is None
    assert compare("pipe", forest(), pickle.loads(pickle.dumps(forest()))) is None


def test_estimator_attributes_use_the_tolerances() -> None:
    from sklearn.linear_model import LinearRegression

    a = LinearRegression().fit(X, X[:, 0] * 2 + 1)
    b = pickle.loads(pickle.dumps(a))
    b.coef_ = b.coef_ + 1e-12
    assert compare("lr", a, b, rtol=1e-7, atol=1e-9) is None
    b.coef_ = b.coef_ + 1e-3
    m = compare("lr", a, b, rtol=1e-7, atol=1e-9)
    assert m is not None and m.first_position.startswith(".coef_")


def test_polars_frames_and_series() -> None:
    pl = pytest.importorskip("polars")
    a = pl.DataFrame({"x": [1.0, 2.0, 3.0], "k": ["a", "b", "c"]})
    assert compare("f", a, a.clone()) is None
    m = compare("f", a, a.with_columns(pl.Series("x", [1.0, 2.5, 3.0])))
    assert m is not None and m.first_position == "row 1, column 'x'" and m.n_total == 6
    assert "columns differ" in compare("f", a, a.rename({"k": "key"})).reason
    assert "dtype differs" in compare("f", a, a.with_columns(pl.col("x").cast(pl.Float32))).reason
    assert compare("s", a["k"], a["k"].clone()) is None
    assert compare("s", a["k"], pl.Series("k", ["a", "B", "c"])).first_position == "row 1"


def test_scipy_sparse_matrices_without_making_them_dense() -> None:
    sp = pytest.importorskip("scipy.sparse")
    a = sp.random(200, 100, density=0.05, random_state=0, format="csr")
    assert compare("m", a, a.copy()) is None
    assert compare("m", a, a.tocsc().tocsr()) is None
    b = a.tolil()
    b[7, 3] = 5.0
    m = compare("m", a, b.tocsr())
    assert m is not None and m.first_position == "[7, 3]" and m.n_total == 20000
    assert "shape differs" in compare("m", a, a[:10]).reason


def test_other_objects_use_eq_that_returns_a_bool_else_their_attributes() -> None:
    assert compare("p", Point(1.0, [1, 2]), Point(1.0, [1, 2])) is None
    m = compare("p", Point(1.0, [1, 2]), Point(1.0, [1, 3]))
    assert m is not None and m.first_position == ".tags[1]"
    assert compare("m", Money(5), Money(5)) is None
    assert "Money.__eq__" in compare("m", Money(5), Money(6)).reason
    m = compare("o", Opaque(), Opaque())
    assert m is not None and "cannot compare Opaque" in m.reason  # never identity, never repr


def test_a_comparison_that_raises_is_a_verdict_not_a_traceback() -> None:
    class Broken:
        @property
        def __dict__(self):
            raise RuntimeError("boom")

    m = compare("b", Broken(), Broken())
    assert m is not None and "RuntimeError: boom" in m.reason
