"""Helpers defined above the data they read (analyse/late.py), and writes that configure a module."""

from __future__ import annotations

from pathlib import Path

import pytest

from nb2prod.analyse.planner import analyse
from nb2prod.errors import AnalysisError
from nb2prod.read.notebook import load_notebook
from tests.nbfactory import run_built, write_notebook


def plan_of(tmp_path: Path, cells):
    return analyse(load_notebook(write_notebook(tmp_path, cells), root=tmp_path))



HELPER_FIRST = [
    ("def evaluate(k):\n    scores.append(k * scale)\n    return sum(data) * k", ["step:helpers"]),
    ("data = [1, 2, 3]\nscale = 10", ["step:data"]),
    ("scores = []\nfirst = evaluate(1)\nsecond = evaluate(2)\ntotal = sum(scores)",
     ["step:model", "parity:first", "parity:second", "metric:total"]),
]


def test_a_helper_above_its_data_reads_it_in_the_step_that_calls_it(tmp_path):
    steps = {s.name: s for s in plan_of(tmp_path, HELPER_FIRST).steps}
    assert steps["helpers"].inputs == () and steps["helpers"].outputs == ()
    assert steps["model"].inputs == ("scale", "data")  # not `evaluate`: the step has its own copy
    assert steps["model"].depends_on == ("data",)
    code = steps["model"].code
    assert code.index("def evaluate(k):") < code.index("# cell 2") < code.index("first = evaluate(1)")


def test_the_calling_steps_copy_runs_and_fills_the_list_it_appends_to(tmp_path):
    assert run_built(tmp_path, HELPER_FIRST) == {"first": 6, "second": 12, "total": 30}


def test_a_helper_that_calls_another_late_helper_brings_it_along(tmp_path):
    result = run_built(tmp_path, [
        ("def base():\n    return offset + 1\n\ndef twice():\n    return 2 * base()", ["step:helpers"]),
        ("offset = 4", ["step:data"]),
        ("value = twice()", ["step:use", "parity:value"]),
    ])
    assert result == {"value": 10}


def test_a_late_helper_called_in_its_own_step_needs_no_copy(tmp_path):
    steps = {s.name: s for s in plan_of(tmp_path, [
        ("base = 3", ["step:data"]),
        ("def f():\n    return base + later\nlater = 1\nvalue = f()", ["step:use", "parity:value"]),
    ]).steps}
    assert steps["use"].inputs == ("base",)
    assert steps["use"].code.count("def f():") == 1


def test_a_helper_that_is_never_called_reads_nothing(tmp_path):
    steps = {s.name: s for s in plan_of(tmp_path, [
        ("def unused():\n    return never_defined", ["step:helpers"]),
        ("value = 1", ["step:use", "parity:value"]),
    ]).steps}
    assert steps["use"].inputs == ()


def test_a_helper_called_before_its_data_exists_names_the_call_and_the_pipeline(tmp_path):
    with pytest.raises(AnalysisError) as err:
        plan_of(tmp_path, [
            ("def evaluate():\n    return X_train.sum()", ["step:helpers"]),
            ("score = evaluate()", ["step:model", "parity:score"]),
            ("X_train = 1", ["step:data"]),
        ])
    text = str(err.value)
    assert "step 'model' calls 'evaluate' (defined in cell 0), whose body reads 'X_train'" in text
    assert "the generated pipeline would raise NameError" in text and "cell 1" in text


def test_the_slice_keeps_the_list_a_helper_appends_to(tmp_path):
    steps = {s.name: s for s in plan_of(tmp_path, [
        ("def record(v):\n    log.append(v)", ["step:helpers"]),
        ("log = []\nrecord(1)\nrecord(2)", ["step:work"]),
        ("count = len(log)", ["step:report", "metric:count"]),
    ]).steps}
    assert "log = []" in steps["work"].code and steps["work"].code.count("record(") == 3
    assert steps["report"].inputs == ("log",)


@pytest.mark.parametrize("config", [
    "warnings.warn = ignore_warn",
    "pd.options.mode.chained_assignment = None",  # display options go: see test_operational
    "os.environ['NB2PROD_FLOW'] = '1'",
])
def test_assigning_a_modules_attribute_configures_it_and_binds_no_name(tmp_path, config):
    """The stacked-regressions kernel's ``warnings.warn = ignore_warn``: not a binding of ``warnings``."""
    cells = [
        ("import os\nimport warnings\nimport pandas as pd\ndef ignore_warn(*args, **kwargs):\n    pass\n"
         f"{config}\nvalue = len(pd.DataFrame({{'a': [1, 2]}}))", ["step:setup", "parity:value"]),
        ("other = value + len(os.sep)", ["step:use", "parity:other"]),
    ]
    steps = {s.name: s for s in plan_of(tmp_path, cells).steps}
    assert steps["setup"].outputs == ("value",) and config in steps["setup"].code
    assert steps["use"].inputs == ("value",)
    assert run_built(tmp_path, cells) == {"value": 2, "other": 3}


REBOUND = [
    ("import numpy as np\nw = 0.0\ndef f(x):\n    return x * w", ["step:model"]),
    ("for _ in range(3):\n    w = w + 1.0", ["step:train"]),
    ("pred = f(np.arange(3.0))\nlast = float(pred[-1])", ["step:eval", "parity:pred", "metric:last"]),
]


def test_a_function_whose_free_name_a_later_step_rebinds_reads_it_where_it_is_called(tmp_path):
    steps = {s.name: s for s in plan_of(tmp_path, REBOUND).steps}
    assert "f" not in steps["model"].outputs and steps["train"].outputs == ("w",)
    assert steps["eval"].inputs == ("w",) and "def f(x):" in steps["eval"].code
    assert "which step 'train' rebinds" in steps["eval"].code


def test_the_rebound_functions_copy_gives_the_notebooks_numbers(tmp_path):
    result = run_built(tmp_path, REBOUND)
    assert list(result["pred"]) == [0.0, 3.0, 6.0] and result["last"] == 6.0  # not w = 0.0


def test_a_function_called_in_the_loop_that_rebinds_its_names_sees_each_new_value(tmp_path):
    cells = [
        ("w = 1.0\nb = 0.0\ndef predict(x):\n    return x * w + b", ["step:model"]),
        ("seen = []\nfor _ in range(3):\n    seen.append(predict(2.0))\n    w = w + 1.0\n    b = b - 0.5",
         ["step:train", "parity:seen"]),
        ("final = predict(2.0)", ["step:eval", "metric:final"]),
    ]
    assert run_built(tmp_path, cells) == {"seen": [2.0, 3.5, 5.0], "final": 6.5}


def test_a_function_redefined_before_the_rebinding_keeps_its_closure(tmp_path):
    cells = [
        ("w = 1.0\ndef f():\n    return w\ndef f():\n    return 2.0\nfirst = f()", ["step:model"]),
        ("w = 5.0\nsecond = f()", ["step:use", "metric:second"]),
    ]
    steps = {s.name: s for s in plan_of(tmp_path, cells).steps}
    assert "f" in steps["model"].outputs and "def f" not in steps["use"].code


def test_a_function_that_declares_global_reads_the_helpers_it_calls_where_it_is_called(tmp_path):
    """linreg by gradient descent: ``step()`` says ``global w`` and calls ``gradients``, which a
    later cell redefines; the slice must keep the new def that the later ``step()`` calls run."""
    cells = [
        ("def g():\n    return 1\ndef bump():\n    global total\n    total = total + g()\ntotal = 0\nbump()",
         ["step:work"]),
        ("def g():\n    return 10\nbump()", ["step:work", "metric:total"]),
    ]
    assert run_built(tmp_path, cells) == {"total": 11}
