"""Parity comparison: every rule of DESIGN.md "Parity semantics", asserted on computed values."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from nb2prod.parity.compare import compare, plot_points, summarize


# -- numpy arrays ---------------------------------------------------------------------------------
def test_equal_arrays_pass() -> None:
    a = np.linspace(0.0, 1.0, 89)
    assert compare("y_pred", a, a.copy()) is None


def test_one_differing_element_reports_count_diff_and_position() -> None:
    a = np.linspace(0.0, 1.0, 89)
    b = a.copy()
    b[17] += 0.25
    m = compare("y_pred", a, b)
    assert m is not None
    assert m.target == "y_pred"
    assert m.reason == "values differ"
    assert (m.n_different, m.n_total) == (1, 89)
    assert m.max_abs_diff == pytest.approx(0.25)
    assert m.first_position == "[17]"
    assert m.notebook_value == repr(a[17].item())
    assert m.pipeline_value == repr(b[17].item())
    assert m.notebook_shape == m.pipeline_shape == (89,)


def test_several_differences_count_all_and_report_largest_and_first() -> None:
    a = np.zeros(1000)
    b = a.copy()
    b[[900, 12, 400]] = [3.0, 0.5, -7.0]
    m = compare("y", a, b)
    assert m is not None
    assert m.n_different == 3
    assert m.max_abs_diff == 7.0
    assert m.first_position == "[12]"


def test_2d_position_is_row_major_index() -> None:
    a = np.arange(12.0).reshape(3, 4)
    b = a.copy()
    b[2, 1] = -1.0
    b[2, 3] = -1.0
    m = compare("proba", a, b)
    assert m is not None
    assert m.first_position == "[2, 1]"
    assert (m.n_different, m.n_total) == (2, 12)
    assert m.max_abs_diff == 12.0  # |11 - (-1)|


def test_2d_position_of_fortran_ordered_arrays() -> None:
    a = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    b = a.copy(order="F")
    b[1, 2] = 100.0
    m = compare("proba", a, b)
    assert m is not None and m.first_position == "[1, 2]"


def test_relative_tolerance_edges() -> None:
    a = np.array([1000.0])
    assert compare("y", a, np.array([1000.0 + 1e-4]), rtol=1e-7) is None  # exactly 1e-7 * |b|
    assert compare("y", a, np.array([1000.0 + 2e-4]), rtol=1e-7) is not None


def test_tolerance_is_relative_to_the_notebook_value() -> None:
    notebook, pipeline = np.array([1.0]), np.array([1.15])
    # |a - b| = 0.15; 0.14 * |notebook| = 0.14 fails, 0.14 * |pipeline| = 0.161 would pass
    assert compare("y", notebook, pipeline, rtol=0.14) is not None
    assert compare("y", notebook, pipeline, rtol=0.16) is None


def test_absolute_tolerance_edges() -> None:
    a = np.array([0.0, 0.0])
    assert compare("y", a, np.array([0.0, 0.5]), atol=0.5) is None
    m = compare("y", a, np.array([0.0, 0.5000001]), atol=0.5)
    assert m is not None and m.first_position == "[1]"


def test_default_tolerance_catches_small_drift_but_not_rounding() -> None:
    a = np.array([0.1 + 0.2])
    assert compare("y", a, np.array([0.3])) is None
    assert compare("y", a, np.array([0.3 + 1e-6])) is not None


def test_tolerance_applies_across_chunks() -> None:
    a = np.linspace(1.0, 2.0, 200_000)
    b = a * (1 + 1e-9)
    assert compare("y", a, b) is None
    b[150_123] *= 1.001
    m = compare("y", a, b)
    assert m is not None
    assert m.first_position == "[150123]"
    assert m.n_different == 1


def test_nan_equals_nan_in_same_position_only() -> None:
    a = np.array([1.0, np.nan, 3.0])
    assert compare("y", a, a.copy()) is None
    m = compare("y", a, np.array([1.0, 2.0, 3.0]))
    assert m is not None
    assert (m.n_different, m.first_position) == (1, "[1]")
    assert m.notebook_value == "nan" and m.pipeline_value == "2.0"
    assert m.max_abs_diff is None  # NaN against a number has no finite difference


def test_infinities() -> None:
    a = np.array([np.inf, -np.inf, 1.0])
    assert compare("y", a, a.copy()) is None
    assert compare("y", a, np.array([np.inf, np.inf, 1.0])) is not None
    # an infinite notebook value is not "within rtol" of a finite one
    assert compare("y", np.array([np.inf]), np.array([1e300])) is not None
    assert compare("y", np.array([1.0]), np.array([np.inf])) is not None


def test_shape_mismatch() -> None:
    m = compare("y", np.zeros(89), np.zeros(88))
    assert m is not None
    assert m.reason == "shape differs"
    assert (m.notebook_shape, m.pipeline_shape) == ((89,), (88,))
    assert compare("y", np.zeros((2, 3)), np.zeros((3, 2))) is not None


def test_dtype_kind_mismatch_float_vs_int() -> None:
    m = compare("y", np.zeros(3), np.zeros(3, dtype=np.int64))
    assert m is not None
    assert m.reason == "dtype kind differs: notebook float64, pipeline int64"


def test_int_widths_and_signedness_are_one_family() -> None:
    assert compare("y", np.arange(5, dtype=np.int32), np.arange(5, dtype=np.uint8)) is None
    assert compare("y", np.arange(5.0, dtype=np.float32), np.arange(5.0)) is None
    assert compare("y", np.array([True]), np.array([1])) is not None  # bool is its own kind


def test_integer_arrays_compare_exactly() -> None:
    a = np.array([10**9, 5])
    m = compare("labels", a, np.array([10**9 + 1, 5]), rtol=1e-3)
    assert m is not None
    assert m.max_abs_diff == 1.0 and m.first_position == "[0]"


def test_bool_and_string_arrays() -> None:
    assert compare("y", np.array([True, False]), np.array([True, False])) is None
    m = compare("y", np.array(["a", "b", "c"]), np.array(["a", "x", "c"]))
    assert m is not None
    assert (m.first_position, m.notebook_value, m.pipeline_value) == ("[1]", "'b'", "'x'")
    assert m.max_abs_diff is None


def test_object_arrays_elementwise() -> None:
    a = np.array(["a", None, np.nan, 1.0], dtype=object)
    assert compare("y", a, a.copy()) is None
    m = compare("y", a, np.array(["a", None, np.nan, "1.0"], dtype=object))
    assert m is not None and m.first_position == "[3]" and m.n_different == 1


def test_datetime_arrays_with_nat() -> None:
    a = np.array(["2024-01-01", "NaT"], dtype="datetime64[ns]")
    assert compare("t", a, a.copy()) is None
    m = compare("t", a, np.array(["2024-01-02", "NaT"], dtype="datetime64[ns]"))
    assert m is not None and m.first_position == "[0]"


def test_zero_dim_arrays() -> None:
    assert compare("y", np.array(1.5), np.array(1.5)) is None
    m = compare("y", np.array(1.5), np.array(2.5))
    assert m is not None and m.reason == "values differ: notebook 1.5, pipeline 2.5"


# -- scalars --------------------------------------------------------------------------------------
def test_ints_compare_exactly() -> None:
    assert compare("n", 42, 42) is None
    m = compare("n", 10**12, 10**12 + 1, rtol=1.0)
    assert m is not None
    assert m.reason == "value differs: notebook 1000000000000, pipeline 1000000000001"
    assert m.max_abs_diff == 1.0


def test_floats_with_tolerance_and_numpy_scalars() -> None:
    assert compare("auc", 0.4512, 0.4512 * (1 + 1e-9)) is None
    assert compare("auc", np.float64(0.5), 0.5) is None  # numpy and Python floats are one kind
    m = compare("auc", 0.5, 0.6)
    assert m is not None
    assert m.reason == "value differs: notebook 0.5, pipeline 0.6"
    assert m.max_abs_diff == pytest.approx(0.1)
    assert compare("auc", float("nan"), float("nan")) is None


def test_int_vs_float_scalar_is_a_kind_difference() -> None:
    m = compare("n", 3, 3.0)
    assert m is not None and m.reason == "kind differs: notebook int 3, pipeline float 3.0"


def test_bools_and_strings_and_none() -> None:
    assert compare("flag", True, True) is None
    assert compare("flag", True, False) is not None
    assert compare("flag", True, 1) is not None
    assert compare("s", "abc", "abc") is None
    m = compare("s", "abc", "abd")
    assert m is not None and m.reason == "value differs: notebook 'abc', pipeline 'abd'"
    assert compare("s", None, None) is None
    assert compare("s", None, "x") is not None


# -- containers -----------------------------------------------------------------------------------
def test_nested_lists_and_dicts_report_paths() -> None:
    a = {"scores": [0.1, 0.2, 0.3], "meta": {"model": "lr", "k": 3}}
    assert compare("out", a, {"scores": [0.1, 0.2, 0.3], "meta": {"model": "lr", "k": 3}}) is None
    m = compare("out", a, {"scores": [0.1, 0.25, 0.3], "meta": {"model": "lr", "k": 3}})
    assert m is not None
    assert m.first_position == "['scores'][1]"
    assert (m.notebook_value, m.pipeline_value) == ("0.2", "0.25")
    assert (m.n_different, m.n_total) == (1, 5)
    assert m.max_abs_diff == pytest.approx(0.05)


def test_nested_counts_over_all_leaves() -> None:
    m = compare("out", [1, [2, 3], "x"], [1, [5, 3], "y"])
    assert m is not None
    assert m.first_position == "[1][0]"
    assert (m.n_different, m.n_total) == (2, 4)
    assert m.max_abs_diff == 3.0


def test_array_inside_a_dict() -> None:
    b = np.arange(5.0)
    b[3] = 9
    m = compare("out", {"y": np.arange(5.0)}, {"y": b})
    assert m is not None
    assert m.first_position == "['y'][3]"
    assert (m.n_different, m.n_total) == (1, 5)


def test_length_and_key_differences() -> None:
    m = compare("out", [1, 2, 3], [1, 2])
    assert m is not None
    assert m.reason == "length differs: notebook 3, pipeline 2"
    m = compare("out", {"a": 1, "b": 2}, {"a": 1, "c": 2})
    assert m is not None
    assert m.reason == "keys differ: missing in pipeline ['b']; extra in pipeline ['c']"
    m = compare("out", {"x": {"a": 1}}, {"x": {}})
    assert m is not None and m.first_position == "['x']"


def test_type_differences() -> None:
    m = compare("y", np.zeros(3), [0.0, 0.0, 0.0])
    assert m is not None
    assert m.reason == "type differs: notebook ndarray float64 (3,), pipeline list len 3"
    assert compare("y", [1, 2], (1, 2)) is not None
    assert compare("y", "1", 1) is not None


# -- pandas ---------------------------------------------------------------------------------------
@pytest.fixture()
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"score": [0.1, 0.2, 0.3, 0.4], "label": [0, 1, 1, 0], "name": list("abcd")},
        index=pd.Index([10, 11, 12, 13], name="id"),
    )


def test_equal_frames_pass(frame: pd.DataFrame) -> None:
    assert compare("df", frame, frame.copy()) is None


def test_frame_value_difference_names_row_and_column(frame: pd.DataFrame) -> None:
    other = frame.copy()
    other.loc[13, "score"] = 0.9
    other.loc[12, "label"] = 5
    m = compare("df", frame, other)
    assert m is not None
    assert m.first_position == "row 12, column 'label'"  # earliest row first, whatever the column
    assert (m.notebook_value, m.pipeline_value) == ("1", "5")
    assert (m.n_different, m.n_total) == (2, 12)
    assert m.max_abs_diff == pytest.approx(4.0)
    assert m.notebook_shape == (4, 3)


def test_frame_string_column_difference(frame: pd.DataFrame) -> None:
    other = frame.copy()
    other.loc[11, "name"] = "z"
    m = compare("df", frame, other)
    assert m is not None
    assert m.first_position == "row 11, column 'name'"
    assert (m.notebook_value, m.pipeline_value) == ("'b'", "'z'")


def test_frame_tolerance_and_nan(frame: pd.DataFrame) -> None:
    a = frame.copy()
    a.loc[10, "score"] = np.nan
    b = a.copy()
    b["score"] = b["score"] * (1 + 1e-9)
    assert compare("df", a, b) is None


def test_single_dtype_frame_uses_labels(frame: pd.DataFrame) -> None:
    a = pd.DataFrame(np.arange(12.0).reshape(4, 3), columns=["x", "y", "z"], index=list("pqrs"))
    b = a.copy()
    b.loc["r", "y"] += 1
    m = compare("df", a, b)
    assert m is not None
    assert m.first_position == "row 'r', column 'y'"
    assert (m.n_different, m.max_abs_diff) == (1, 1.0)


def test_frame_index_mismatch(frame: pd.DataFrame) -> None:
    other = frame.copy()
    other.index = pd.Index([10, 11, 99, 13], name="id")
    m = compare("df", frame, other)
    assert m is not None
    assert m.reason == "index labels differ"
    assert m.first_position == "index position 2"
    assert (m.notebook_value, m.pipeline_value) == ("12", "99")


def test_frame_column_mismatch(frame: pd.DataFrame) -> None:
    m = compare("df", frame, frame.rename(columns={"label": "target"}))
    assert m is not None
    assert m.reason == "column labels differ"
    assert (m.notebook_value, m.pipeline_value) == ("'label'", "'target'")
    m = compare("df", frame, frame[["label", "score", "name"]])
    assert m is not None and m.first_position == "column position 0"


def test_frame_shape_and_dtype_mismatch(frame: pd.DataFrame) -> None:
    m = compare("df", frame, frame.iloc[:3])
    assert m is not None
    assert (m.reason, m.notebook_shape, m.pipeline_shape) == ("shape differs", (4, 3), (3, 3))
    m = compare("df", frame, frame.astype({"label": "float64"}))
    assert m is not None
    assert m.reason == "dtype kind differs in column 'label': notebook int64, pipeline float64"


def test_series_compare(frame: pd.DataFrame) -> None:
    s = frame["score"]
    assert compare("s", s, s.copy()) is None
    other = s.copy()
    other.loc[11] = 0.5
    m = compare("s", s, other)
    assert m is not None
    assert m.first_position == "row 11"
    assert m.max_abs_diff == pytest.approx(0.3)


def test_nullable_extension_dtypes() -> None:
    s = pd.Series([1, None, 3], dtype="Int64")
    assert compare("s", s, s.copy()) is None
    assert compare("s", s, pd.Series([1, 2, 3], dtype="Int64")) is not None
    assert compare("s", s, s.astype("Int32")) is None


def test_series_vs_ndarray_and_frame_vs_series_are_type_mismatches(frame: pd.DataFrame) -> None:
    m = compare("s", frame["score"], frame["score"].to_numpy())
    assert m is not None
    assert m.reason == "type differs: notebook Series float64 (4,), pipeline ndarray float64 (4,)"
    assert compare("s", frame, frame["score"]) is not None
    assert compare("s", frame["score"].to_numpy(), frame["score"]) is not None


# -- summarize, plot_points, import cost -----------------------------------------------------------
def test_summarize() -> None:
    assert summarize(np.zeros(89)) == "ndarray float64 (89,)"
    assert summarize(pd.DataFrame(np.zeros((89, 3)))) == "DataFrame (89, 3)"
    assert summarize(pd.Series([1.0, 2.0])) == "Series float64 (2,)"
    assert summarize(0.4512) == "float 0.4512"
    assert summarize("abc") == "str 'abc'"
    assert summarize(3) == "int 3"
    assert summarize(None) == "None"
    assert summarize([1, 2]) == "list len 2"
    assert summarize({"a": 1}) == "dict 1 keys"
    assert len(summarize("x" * 1000)) < 80


def test_plot_points_pairs_and_subsamples() -> None:
    a = np.arange(2000.0)
    points = plot_points(a, a * 2, limit=500)
    assert points is not None
    xs, ys = points
    assert len(xs) == len(ys) == 500
    assert (xs[0], xs[-1]) == (0.0, 1999.0)
    assert all(y == 2 * x for x, y in zip(xs, ys, strict=True))


def test_plot_points_drops_non_finite_and_refuses_non_numeric() -> None:
    points = plot_points(np.array([1.0, np.nan, 3.0]), np.array([1.0, 2.0, np.inf]))
    assert points == ((1.0,), (1.0,))
    assert plot_points(np.zeros(3), np.zeros(4)) is None
    assert plot_points(np.array(["a"]), np.array(["a"])) is None
    assert plot_points(0.5, 0.5) is None
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4]})
    assert plot_points(df, df) == ((1.0, 3.0, 2.0, 4.0), (1.0, 3.0, 2.0, 4.0))


def test_importing_compare_does_not_import_pandas() -> None:
    code = (
        "import sys, numpy as np, nb2prod.parity.compare as c\n"
        "c.compare('y', np.zeros(3), np.zeros(3)); c.compare('d', {'a': [1.5]}, {'a': [1.5]})\n"
        "print(sorted({'pandas', 'nb2prod.parity.compare_frames'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"  # the pandas half loads only for pandas values


def test_large_frames_report_the_first_difference_by_label() -> None:
    """A large single-dtype frame is compared as one block; a mixed one column by column."""
    n = 200_000
    block = pd.DataFrame(np.arange(2 * n, dtype=float).reshape(n, 2), columns=["a", "b"])
    changed = block.copy()
    changed.iloc[n - 1, 1] = -1.0
    m = compare("block", block, changed)
    assert m is not None
    assert (m.n_different, m.n_total, m.first_position) == (1, 2 * n, f"row {n - 1}, column 'b'")
    mixed = block.assign(label=np.where(np.arange(n) % 2 == 0, "even", "odd"))
    other = mixed.copy()
    other.loc[7, "label"] = "seven"
    m = compare("mixed", mixed, other)
    assert m is not None
    assert (m.n_different, m.first_position) == (1, "row 7, column 'label'")
    assert compare("mixed", mixed, mixed.copy()) is None
