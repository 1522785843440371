"""The card's payload schema as pydantic validators: shapes accepted, coercion, and refusals naming fields."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nb2prod.serve.schema import PayloadSchema, RequestError, frame_records, jsonable
from tests.unit.serve.models import ArrayModel, FrameModel


@pytest.fixture(scope="module")
def frame_schema() -> PayloadSchema:
    return PayloadSchema(FrameModel().card["payload"])


def refusal(schema: PayloadSchema, body: object) -> str:
    with pytest.raises(RequestError) as info:
        schema.parse(body)
    assert info.value.status == 422
    return info.value.message


def test_records_are_coerced_to_the_training_dtypes(frame_schema: PayloadSchema) -> None:
    parsed = frame_schema.parse({"inputs": {"X_test": [
        {"age": 51, "bmi": "24.5", "visits": 3.0, "sex": "m"},
        {"age": 40.5, "bmi": None, "visits": 0, "sex": "f"},
    ]}})
    frame = parsed.payload["X_test"]
    assert list(frame.columns) == ["age", "bmi", "visits", "sex"]
    assert {c: str(t) for c, t in frame.dtypes.items()} == {
        "age": "float64", "bmi": "float64", "visits": "int64", "sex": "category"}
    assert list(frame["sex"].cat.categories) == ["f", "m"]
    assert frame["age"].tolist() == [51.0, 40.5] and frame["visits"].tolist() == [3, 0]
    assert math.isnan(frame["bmi"][1]) and frame["bmi"][0] == 24.5
    assert parsed.rows == 2
    assert parsed.logged["X_test"][0] == {"age": 51.0, "bmi": 24.5, "visits": 3, "sex": "m"}


def test_dataframe_split_in_any_column_order_equals_records(frame_schema: PayloadSchema) -> None:
    records = frame_schema.parse({"inputs": {"X_test": [{"age": 1.5, "bmi": 2.0, "visits": 1, "sex": "f"}]}})
    split = frame_schema.parse({"inputs": {"X_test": {
        "columns": ["sex", "visits", "bmi", "age"], "data": [["f", 1, 2.0, 1.5]]}}})
    mlflow = frame_schema.parse({"dataframe_split": {
        "columns": ["age", "bmi", "visits", "sex"], "data": [[1.5, 2.0, 1, "f"]], "index": [7]}})
    for other in (split, mlflow):
        pd.testing.assert_frame_equal(other.payload["X_test"], records.payload["X_test"])


@pytest.mark.parametrize(("row", "expected"), [
    ({"age": 1.0, "bmi": 1.0, "visits": 1}, "inputs.X_test, row 0, column 'sex': missing"),
    ({"age": 1.0, "bmi": 1.0, "visits": 1, "sex": "f", "height": 2},
     "inputs.X_test, row 0, column 'height': unknown column"),
    ({"age": "old", "bmi": 1.0, "visits": 1, "sex": "f"}, "column 'age': Input should be a valid number"),
    ({"age": 1.0, "bmi": 1.0, "visits": 1.5, "sex": "f"}, "column 'visits': Input should be a valid integer"),
    ({"age": 1.0, "bmi": 1.0, "visits": 1, "sex": "x"}, "column 'sex': Input should be 'f' or 'm'"),
    ({"age": float("nan"), "bmi": 1.0, "visits": 1, "sex": "f"}, "column 'age': NaN or infinity"),
    ({"age": None, "bmi": 1.0, "visits": 1, "sex": "f"}, "column 'age': Input should be a valid number"),
])
def test_a_bad_row_is_refused_naming_row_and_column(frame_schema: PayloadSchema, row: dict, expected: str) -> None:
    assert expected in refusal(frame_schema, {"inputs": {"X_test": [{"age": 1.0, "bmi": 1.0, "visits": 1, "sex": "f"}, row]}}).replace("row 1", "row 0")


def test_shape_refusals(frame_schema: PayloadSchema) -> None:
    assert "the batch is empty" in refusal(frame_schema, {"inputs": {"X_test": []}})
    assert "missing input(s) 'X_test'" in refusal(frame_schema, {"inputs": {"X": []}})
    assert "unknown top-level key(s) 'extra'" in refusal(frame_schema, {"inputs": {"X_test": []}, "extra": 1})
    assert "must be a JSON object" in refusal(frame_schema, [1, 2])
    assert "expected a list of records" in refusal(frame_schema, {"inputs": {"X_test": 3}})
    assert "row 0: expected a list of 2 values" in refusal(
        frame_schema, {"inputs": {"X_test": {"columns": ["age", "bmi"], "data": [[1.0]]}}})
    assert "a column is named twice" in refusal(
        frame_schema, {"inputs": {"X_test": {"columns": ["age", "age"], "data": [[1.0, 2.0]]}}})


def test_many_errors_are_summarised(frame_schema: PayloadSchema) -> None:
    rows = [{"age": "x", "bmi": 1.0, "visits": 1, "sex": "f"}] * 50
    message = refusal(frame_schema, {"inputs": {"X_test": rows}})
    assert message.count("column 'age'") == 5 and message.endswith("and 45 more.")


def test_arrays_check_shape_dtype_and_nan() -> None:
    schema = PayloadSchema(ArrayModel().card["payload"])
    array = schema.parse({"inputs": {"X": [[1, 2, 3], [4.5, 5, 6]]}}).payload["X"]
    assert array.dtype == np.float64 and array.shape == (2, 3)
    assert schema.parse({"inputs": [[1, 2, 3]]}).rows == 1  # MLflow's tensor shape, one input
    assert "expected shape [n, 3], got [1, 2]" in refusal(schema, {"inputs": {"X": [[1, 2]]}})
    assert "text" in refusal(schema, {"inputs": {"X": [["a", "b", "c"]]}})
    assert "not a rectangular" in refusal(schema, {"inputs": {"X": [[1, 2, 3], [1]]}})
    assert "NaN or infinity at position [0, 1]" in refusal(schema, {"inputs": {"X": [[1, float("nan"), 3]]}})
    assert "the batch is empty" in refusal(schema, {"inputs": {"X": []}})


def test_outputs_and_frames_become_json() -> None:
    out = jsonable({"y": np.array([1.5, np.nan]), "n": np.int64(3), "s": pd.Series(["a", "b"]),
                    "c": pd.Categorical(["f"]), "t": (np.float32(0.5),)})
    assert out == {"y": [1.5, None], "n": 3, "s": ["a", "b"], "c": ["f"], "t": [0.5]}
    frame = FrameModel().frame.head(2)
    records = frame_records(frame)
    assert records[0]["sex"] in ("f", "m") and isinstance(records[0]["visits"], int)
    schema = PayloadSchema(FrameModel().card["payload"])
    again = schema.parse({"inputs": {"X_test": records}}).payload["X_test"]
    pd.testing.assert_frame_equal(again, frame.reset_index(drop=True))


def test_serve_config_is_validated_strictly(tmp_path) -> None:
    from nb2prod.config import load_config
    from nb2prod.errors import ConfigError

    (tmp_path / "pyproject.toml").write_text("[tool.nb2prod.serve]\nmax_body_mb = 5\n")
    assert load_config(tmp_path).serve == {"max_body_mb": 5.0, "log_max_mb": 100.0}
    (tmp_path / "pyproject.toml").write_text("[tool.nb2prod.serve]\nmax_body = 5\n")
    with pytest.raises(ConfigError, match="unknown key.*max_body.*known keys: max_body_mb, log_max_mb"):
        load_config(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.nb2prod.serve]\nlog_max_mb = -1\n")
    with pytest.raises(ConfigError, match="positive number"):
        load_config(tmp_path)


def test_all_float_frames_take_one_numpy_pass_with_the_same_result_and_errors() -> None:
    spec = {"X": {"kind": "dataframe", "columns": {c: {"dtype": "float64", "nullable": False} for c in "abc"}}}
    schema = PayloadSchema(spec)
    frame = schema.inputs["X"]
    rows = [{"a": 1, "b": "2.5", "c": 3.0}, {"a": -1.0, "b": 0, "c": 1e300}]
    assert frame._float_block(rows, split=False) is not None
    fast = schema.parse({"inputs": {"X": rows}})
    split = schema.parse({"inputs": {"X": {"columns": ["c", "a", "b"], "data": [[3.0, 1, "2.5"], [1e300, -1.0, 0]]}}})
    expected = pd.DataFrame({"a": [1.0, -1.0], "b": [2.5, 0.0], "c": [3.0, 1e300]})
    for parsed in (fast, split):
        pd.testing.assert_frame_equal(parsed.payload["X"], expected)
        assert parsed.logged["X"] == expected.to_dict("records") and parsed.rows == 2
    for bad, names in [
        ([{"a": 1, "b": 2, "c": "x"}], "row 0, column 'c': Input should be a valid number"),
        ([{"a": 1, "b": 2, "c": float("nan")}], "row 0, column 'c': NaN or infinity"),
        ([{"a": 1, "b": 2, "d": 3}], "row 0, column 'c': missing"),
        ([{"a": 1, "b": 2, "c": None}], "row 0, column 'c': Input should be a valid number"),
        ({"columns": ["a", "b", "c"], "data": [[1, 2, [3]]]}, "row 0, column 'c'"),
        ({"columns": ["a", "b"], "data": [[1, 2]]}, "row 0, column 'c': missing"),
        ([], "the batch is empty"),
    ]:
        assert names in refusal(schema, {"inputs": {"X": bad}}), bad


def test_payload_from_json_rebuilds_what_the_log_holds() -> None:
    from nb2prod.serve.schema import payload_from_json

    model = FrameModel()
    logged = PayloadSchema(model.card["payload"]).parse({"inputs": {"X_test": frame_records(model.frame.head(3))}}).logged
    frame = payload_from_json(model.card, logged)["X_test"]
    pd.testing.assert_frame_equal(frame, model.frame.head(3).reset_index(drop=True))
    with pytest.raises(RequestError, match="missing input"):
        payload_from_json(model.card, {})
