"""Typing command-line parameters like the parameters cell's defaults, and YAML parameter sets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from nb2prod.errors import EXIT_BAD_INPUT, UsageError
from nb2prod.execute.params import coerce, load_param_sets, param_hash, param_id, resolve


@pytest.mark.parametrize(
    ("raw", "default", "expected"),
    [
        ("5", 3, 5),
        (" -2 ", 3, -2),
        ("1_000", 3, 1000),
        ("0.3", 0.1, 0.3),
        ("1e-3", 0.1, 0.001),
        ("2", 0.1, 2.0),
        ("true", False, True),
        ("Yes", False, True),
        ("1", False, True),
        ("FALSE", True, False),
        ("no", True, False),
        ("0", True, False),
        ("hello world", "x", "hello world"),
        ("3", "x", "3"),
        ("", "x", ""),
        ("3", None, 3),
        ("[1, 2]", None, [1, 2]),
        ("None", None, None),
        ("plain text", None, "plain text"),
        ("[64, 32]", [1], [64, 32]),
        ("64,32", [1], [64, 32]),
        ("(1, 2)", (0,), (1, 2)),
        ("[1, 2]", (0,), (1, 2)),
        ("{'a': 1}", {}, {"a": 1}),
    ],
)
def test_coerce_types_like_the_default(raw: str, default: Any, expected: Any) -> None:
    value = coerce("p", raw, default)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("raw", "default", "expected"),
    [
        ("three", 3, "an integer"),
        ("abc", 0.1, "a number"),
        ("maybe", True, "a boolean"),
        ("[1,", [1], "list"),
        ("{'a': 1}", [1], "list"),
        ("[1]", {}, "dict"),
    ],
)
def test_coerce_rejects_values_that_do_not_fit(raw: str, default: Any, expected: str) -> None:
    with pytest.raises(UsageError) as info:
        coerce("alpha", raw, default)
    message = str(info.value)
    assert "'alpha'" in message and expected in message and repr(raw) in message
    assert info.value.exit_code == EXIT_BAD_INPUT


def test_resolve_types_strings_and_keeps_only_given_names() -> None:
    defaults = {"n": 3, "alpha": 0.1, "name": "x", "flag": False}
    got = resolve({"n": "7", "alpha": 1, "flag": "yes"}, defaults, source="nb.ipynb")
    assert got == {"n": 7, "alpha": 1.0, "flag": True}
    assert type(got["alpha"]) is float  # an int from YAML becomes the float the cell expects
    assert resolve({}, defaults, source="nb.ipynb") == {}
    assert resolve({"name": ["already", "typed"]}, defaults, source="x") == {
        "name": ["already", "typed"]
    }


def test_resolve_rejects_unknown_names_listing_the_known_ones() -> None:
    with pytest.raises(UsageError) as info:
        resolve({"alpah": "0.3"}, {"alpha": 0.1, "n": 3}, source="notebooks/churn.ipynb")
    err = info.value
    assert err.path == "notebooks/churn.ipynb"
    assert "'alpah'" in err.reason and "alpha, n" in err.reason
    assert err.hint == "did you mean 'alpha'?"
    with pytest.raises(UsageError, match="no parameters cell"):
        resolve({"x": "1"}, {}, source="nb.ipynb")


def test_resolve_names_the_notebook_on_a_bad_value() -> None:
    with pytest.raises(UsageError) as info:
        resolve({"n": "three"}, {"n": 3}, source="nb.ipynb")
    assert info.value.path == "nb.ipynb"
    assert "'n' expects an integer" in info.value.reason


def test_param_id_and_hash() -> None:
    assert param_id({}) == "defaults"
    assert param_id({"alpha": 0.3, "n": 5}) == "alpha=0.3,n=5"
    assert param_id({"name": "a b", "flag": True, "xs": [1, 2], "none": None}) == (
        "name=a b,flag=True,xs=[1,2],none=None"
    )
    h = param_hash({"a": 1, "b": [1, 2]})
    assert len(h) == 8 and int(h, 16) >= 0
    assert h == param_hash({"b": [1, 2], "a": 1})  # canonical: key order does not matter
    assert h != param_hash({"a": 2, "b": [1, 2]})
    assert param_hash({}) != param_hash({"a": None})


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_yaml_one_mapping(tmp_path: Path) -> None:
    sets = load_param_sets(_yaml(tmp_path, "alpha: 0.3\nn: 5\n"))
    assert sets == [("alpha=0.3,n=5", {"alpha": 0.3, "n": 5})]


def test_yaml_list_of_mappings(tmp_path: Path) -> None:
    sets = load_param_sets(_yaml(tmp_path, "- {alpha: 0.3}\n- {alpha: 0.5, n: 2}\n- {}\n"))
    assert sets == [
        ("alpha=0.3", {"alpha": 0.3}),
        ("alpha=0.5,n=2", {"alpha": 0.5, "n": 2}),
        ("defaults", {}),
    ]


def test_yaml_named_sets(tmp_path: Path) -> None:
    text = "sets:\n  small: {n: 1}\n  large:\n    n: 100\n    alpha: 0.9\n  base:\n"
    sets = load_param_sets(_yaml(tmp_path, text))
    assert sets == [("small", {"n": 1}), ("large", {"n": 100, "alpha": 0.9}), ("base", {})]


def test_yaml_parameter_called_sets_is_one_set(tmp_path: Path) -> None:
    assert load_param_sets(_yaml(tmp_path, "sets: 3\n")) == [("sets=3", {"sets": 3})]


def test_yaml_values_resolve_against_the_notebook(tmp_path: Path) -> None:
    # PyYAML reads 1e-3 as a string (YAML 1.1); resolve() types it like the default.
    ((_, values),) = load_param_sets(_yaml(tmp_path, "alpha: 1e-3\n"))
    assert resolve(values, {"alpha": 0.1}, source="nb.ipynb") == {"alpha": 0.001}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("[]\n", "no parameter sets"),
        ("- 3\n", "item 0 must be a mapping"),
        ("42\n", "got int"),
        ("alpha: [1,\n", "invalid YAML"),
        ("- {a: 1}\n- {a: 1}\n", "appears twice"),
        ("1: 2\n", "must be strings"),
    ],
)
def test_yaml_errors_are_usage_errors(tmp_path: Path, text: str, message: str) -> None:
    path = _yaml(tmp_path, text)
    with pytest.raises(UsageError, match=message) as info:
        load_param_sets(path)
    assert info.value.path == str(path)


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        load_param_sets(_yaml(tmp_path, "a: 1\nb: [1,\n"))
    assert info.value.line is not None


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        load_param_sets(tmp_path / "nope.yaml")


def test_params_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, nb2prod.execute.params; "
        "print(sorted(m for m in ('yaml', 'papermill', 'numpy', 'pandas', 'nbformat') "
        "if m in sys.modules))"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_int_parameter_widens_to_float() -> None:
    # `-p test_size 0.5` where the parameters cell says `test_size = 20`
    assert coerce("test_size", "0.5", 20) == 0.5 and isinstance(coerce("test_size", "0.5", 20), float)
    assert coerce("test_size", "25", 20) == 25 and isinstance(coerce("test_size", "25", 20), int)
    assert resolve({"test_size": "0.5"}, {"test_size": 20}, source="nb.ipynb") == {"test_size": 0.5}
