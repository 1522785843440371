"""nb2prod's cheaper black (``nb2prod._format``) must write exactly what plain ``black.format_str`` writes."""

from __future__ import annotations

from pathlib import Path

import black
import pytest

from nb2prod._format import format_many, format_module
from nb2prod.build import Prepared, prepare
from nb2prod.codegen import _MAIN, format_codes
from tests.conftest import NOTEBOOKS
from tests.nbfactory import write_notebook


def _black(source: str) -> str:
    return black.format_str(source, mode=black.Mode())


def _prepared(folder: Path) -> list[Prepared]:
    items = prepare([folder], folder / "never-written")
    assert all(isinstance(i, Prepared) for i in items)
    return items  # type: ignore[return-value]


def test_examples_format_exactly_like_black() -> None:
    items = prepare([NOTEBOOKS], NOTEBOOKS.parent / "does-not-exist")
    assert len(items) >= 3
    for item in items:
        assert isinstance(item, Prepared)
        assert format_module(item.source, item.plan.name, _MAIN) == _black(item.source)


PARAMETER_CELLS = [
    "a = 1",  # short signature: stays on one line
    "alpha = 1.0\nbeta = 'x'\ngamma = [1, 2]",  # mutable default, quoted string default
    "n_estimators = 100\nmax_depth = 4\nlearning_rate = 0.1\nsubsample = 0.8",  # 3-line signature
    # one argument per line, defaults holding commas, quotes and brackets
    "a_long_parameter_name = 'it\\'s, \"quoted\"'\nanother_long_name = {'k': (1, 2), 'v': [3, 4]}\n"
    "third_parameter_with_a_long_name = 123456789\nfourth = None\nfifth = True",
    # a default too long for its own line
    "values = [" + ", ".join(str(i) for i in range(40)) + "]\nscale = 2.5",
]


@pytest.mark.parametrize("params", PARAMETER_CELLS)
@pytest.mark.parametrize("name", ["m", "model_with_a_rather_long_module_name_for_wrapping"])
def test_generated_modules_format_exactly_like_black(tmp_path: Path, params: str, name: str) -> None:
    cells = [
        ("import numpy as np\nimport os, sys", ["imports"]),
        (params, ["parameters"]),
        ("data = np.arange(10)\nresult = {'a': 1, \"b\": data.sum()}", ["step:load"]),
        ("out = float(result['b'])  # trailing comment", ["step:score", "parity:out", "metric:result"]),
    ]
    write_notebook(tmp_path, cells, name=f"{name}.ipynb")
    (item,) = _prepared(tmp_path)
    assert format_module(item.source, item.plan.name, _MAIN) == _black(item.source)


def test_fmt_off_and_unusual_sources_fall_back_to_whole_module_black(tmp_path: Path) -> None:
    cells = [
        ("import numpy as np\n# fmt: off\nGRID = [1,2,\n   3]", ["functions"]),
        ("x = np.ones(3)", ["step:a", "parity:x"]),
    ]
    write_notebook(tmp_path, cells, name="fmt.ipynb")
    (item,) = _prepared(tmp_path)
    assert format_module(item.source, item.plan.name, _MAIN) == _black(item.source)
    assert format_module("x = ( 1 )\n", "x", _MAIN) == "x = 1\n"  # no template at the end


def test_many_modules_in_worker_processes_match_one_by_one(tmp_path: Path) -> None:
    for k in range(8):
        cells = [(f"k = {k}", ["parameters"]), (f"y{k} = [k] * {k + 1}", ["step:s", f"parity:y{k}"])]
        write_notebook(tmp_path, cells, name=f"nb_{'x' * k}{k}.ipynb")
    items = _prepared(tmp_path)
    jobs = [(i.source, i.plan.name) for i in items]
    expected = [_black(source) for source, _ in jobs]
    assert list(format_many(jobs, _MAIN)) == expected
    assert list(format_codes([(i.source, i.plan) for i in items])) == expected


def test_black_errors_come_back_per_module() -> None:
    results = list(format_many([("x = (\n", "bad"), ("y = 1\n", "good")], _MAIN))
    assert isinstance(results[0], black.InvalidInput)
    assert results[1] == "y = 1\n"
