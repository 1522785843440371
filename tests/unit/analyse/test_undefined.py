"""Names no exported cell binds: star imports, ``%run``, and the IPython features a pipeline lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from nb2prod.analyse.planner import analyse
from nb2prod.errors import AnalysisError
from nb2prod.read.notebook import load_notebook
from tests.nbfactory import run_built, write_notebook


def plan_of(tmp_path: Path, cells):
    return analyse(load_notebook(write_notebook(tmp_path, cells), root=tmp_path))


def error_of(tmp_path: Path, cells) -> str:
    with pytest.raises(AnalysisError) as err:
        plan_of(tmp_path, cells)
    return str(err.value)



STAR = [
    ("from math import *\nfrom statistics import *\nvalues = [1.0, 4.0, 9.0]", ["step:data"]),
    ("roots = [sqrt(v) for v in values]\ncentre = median(roots)", ["step:model", "parity:centre"]),
]


def test_star_imports_go_to_the_header_and_their_names_are_not_reported(tmp_path):
    plan = plan_of(tmp_path, STAR)
    assert plan.header.splitlines()[:2] == ["from math import *", "from statistics import *"]
    assert "import *" not in "".join(s.code for s in plan.steps)
    assert not any("import *" in d.code for d in plan.dropped)
    assert run_built(tmp_path, STAR) == {"centre": 2.0}


def test_a_star_import_only_a_cell_before_the_first_step_makes_is_lent_to_the_header(tmp_path):
    plan = plan_of(tmp_path, [
        "from math import *",
        ("value = sqrt(16.0)", ["step:model", "parity:value"]),
    ])
    assert "from math import *" in plan.header
    assert any("from math import *" in w and "'sqrt'" in w for w in plan.warnings)


HELPERS = "import numpy as np\n\n\ndef add_ratio(values, k):\n    return [v / k for v in values]\n\n\nSCALE = 2.5\n"


def test_run_of_a_script_beside_the_notebook_becomes_an_import_of_its_names(tmp_path):
    (tmp_path / "helpers_fe.py").write_text(HELPERS)
    cells = [
        ("%run helpers_fe.py", ["step:data"]),
        ("ratios = add_ratio([1.0, 2.0], 2) \nscaled = [r * SCALE for r in ratios]", ["parity:scaled"]),
    ]
    plan = plan_of(tmp_path, cells)
    assert "from helpers_fe import add_ratio, SCALE" in plan.header  # (np is not used: pruned)
    assert any("`%run helpers_fe.py` becomes" in w for w in plan.warnings)
    assert run_built(tmp_path, cells) == {"scaled": [1.25, 2.5]}


def test_a_run_in_a_cell_before_the_first_step_is_lent_to_the_header_when_a_step_needs_it(tmp_path):
    (tmp_path / "helpers_fe.py").write_text(HELPERS)
    plan = plan_of(tmp_path, [
        "%run helpers_fe.py",
        ("scaled = SCALE * 2", ["step:model", "parity:scaled"]),
    ])
    assert "from helpers_fe import SCALE" in plan.header
    assert any("cell 0: `%run helpers_fe.py` (that is, 'from helpers_fe import np, add_ratio, SCALE')"
               in w for w in plan.warnings)


@pytest.mark.parametrize(("script", "magic", "reason"), [
    (None, "%run helpers_fe.py", "helpers_fe.py is not in the notebook's folder"),
    (HELPERS + 'if __name__ == "__main__":\n    print(1)\n', "%run helpers_fe.py", "`if __name__"),
    (HELPERS, "%run helpers_fe.py --fast", "it passes options or arguments"),
])
def test_a_run_nb2prod_cannot_see_through_is_named_with_the_import_to_write(tmp_path, script, magic, reason):
    if script is not None:
        (tmp_path / "helpers_fe.py").write_text(script)
    text = error_of(tmp_path, [(f"{magic}\nx = add_ratio([1.0], 1)", ["step:data", "parity:x"])])
    assert f"step 'data' reads 'add_ratio', which cell 0's `{magic}` may define" in text
    assert reason in text and "from helpers_fe import add_ratio" in text
    assert "no cell above defines" not in text


@pytest.mark.parametrize(("cells", "expected"), [
    ([("%store -r X\ny = 3 * X", ["step:a", "parity:y"])],
     ["reads 'X', which cell 0's `%store -r X` restores from IPython's database", "joblib"]),
    ([("x = 2", ["step:a"]), "x * 2", ("y = _2 + 1", ["parity:y"])],
     ["reads '_2', which is IPython's output history (Out[2]", "assign the value to a name"]),
    ([("x = 2", ["step:a"]), "x", ("y = Out[2] + _", ["parity:y"])],
     ["reads 'Out', which is IPython's output history"]),
    ([("%pylab inline\ny = linspace(0, 1, 3)", ["step:a", "parity:y"])],
     ["`%pylab inline` may define", "from numpy import linspace"]),
])
def test_ipython_features_are_named_with_their_fix(tmp_path, cells, expected):
    text = error_of(tmp_path, cells)
    for part in expected:
        assert part in text
    assert "the generated pipeline has no IPython" in text and "no cell above defines" not in text


def test_a_name_no_cell_defines_says_the_pipeline_would_fail_and_suggests_a_close_one(tmp_path):
    text = error_of(tmp_path, [
        ("features = [1, 2]", ["step:a"]),
        ("total = sum(feature)", ["step:b", "parity:total"]),
    ])
    assert "step 'b' reads 'feature', which no cell above defines; the generated pipeline would " \
           "raise NameError there" in text
    assert "did you mean 'features'?" in text
