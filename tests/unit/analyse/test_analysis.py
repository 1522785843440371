"""Data-flow analysis: each hard case of the issue, on real notebooks written to disk."""

from __future__ import annotations

import pytest

from nb2prod.analyse.planner import analyse, module_name
from nb2prod.errors import AnalysisError, TagError
from nb2prod.read.notebook import load_notebook
from tests.nbfactory import write_notebook


def plan_of(tmp_path, cells):
    return analyse(load_notebook(write_notebook(tmp_path, cells), root=tmp_path))


def steps_of(tmp_path, cells):
    return {s.name: s for s in plan_of(tmp_path, cells).steps}


def test_tuple_unpacking_defines_every_name(tmp_path):
    steps = steps_of(tmp_path, [
        ("a, (b, *c) = 1, (2, 3, 4)", ["step:make"]),
        ("total = a + b + sum(c)", ["step:use", "parity:total"]),
    ])
    assert steps["make"].outputs == ("a", "b", "c")
    assert steps["use"].inputs == ("a", "b", "c")


def test_augmented_assignment_reads_and_writes(tmp_path):
    steps = steps_of(tmp_path, [
        ("count = 1", ["step:start"]),
        ("count += 1", ["step:bump"]),
        ("result = count", ["step:end", "parity:result"]),
    ])
    assert steps["bump"].inputs == ("count",) and steps["bump"].outputs == ("count",)
    assert steps["end"].inputs == ("count",)
    assert steps["end"].depends_on == ("bump",)


def test_method_call_mutation_makes_the_object_an_output(tmp_path):
    steps = steps_of(tmp_path, [
        ("class M:\n    def fit(self, x):\n        self.k = x\nmodel = M()", ["step:make"]),
        ("model.fit(3)", ["step:train"]),
        ("k = model.k", ["step:predict", "parity:k"]),
    ])
    assert steps["train"].inputs == ("model",)
    assert steps["train"].outputs == ("model",)
    assert steps["predict"].depends_on == ("train",)


def test_mutation_output_only_when_a_later_step_reads_it(tmp_path):
    steps = steps_of(tmp_path, [
        ("items = [3, 1, 2]", ["step:make"]),
        ("items.sort()\nfirst = items[0]", ["step:sort", "parity:first"]),
    ])
    assert steps["sort"].outputs == ("first",)


def test_item_assignment_changes_the_container(tmp_path):
    steps = steps_of(tmp_path, [
        ("d = {}", ["step:make"]),
        ('d["x"] = 1', ["step:fill"]),
        ("out = d", ["step:use", "parity:out"]),
    ])
    assert steps["fill"].outputs == ("d",)
    assert steps["use"].depends_on == ("fill",)


def test_for_with_and_walrus_targets_are_definitions(tmp_path):
    steps = steps_of(tmp_path, [
        ("import io\nfor i, v in enumerate([5, 6]):\n    pass\nwith io.StringIO('s') as fh:\n    text = fh.read()\n"
         "if (n := len(text)) > 0:\n    pass", ["step:make"]),
        ("result = (i, v, text, n, fh.closed)", ["step:use", "parity:result"]),
    ])
    assert set(steps["use"].inputs) == {"i", "v", "text", "n", "fh"}
    assert set(steps["make"].outputs) == {"i", "v", "text", "n", "fh"}


def test_comprehension_variables_stay_inside_the_comprehension(tmp_path):
    steps = steps_of(tmp_path, [
        ("xs = [1, 2, 3]\nfactor = 2", ["step:make"]),
        ("ys = [x * factor for x in xs if x]\nbig = {k: v for k, v in zip(xs, ys)}\n"
         "total = sum(y for y in ys)\nlast = [(z := w) for w in xs]", ["step:use", "parity:ys"]),
        ("result = (big, total, z)", ["step:more", "parity:result"]),
    ])
    assert set(steps["use"].inputs) == {"xs", "factor"}
    assert "x" not in steps["use"].outputs and "w" not in steps["use"].outputs
    assert set(steps["use"].outputs) == {"ys", "big", "total", "z"}  # walrus binds outside


def test_del_removes_a_definition(tmp_path):
    with pytest.raises(AnalysisError, match=r"reads 'tmp', which no cell above defines"):
        plan_of(tmp_path, [
            ("tmp = 1\ndel tmp", ["step:make"]),
            ("y = tmp", ["step:use", "parity:y"]),
        ])


def test_functions_cell_names_are_module_level_not_inputs(tmp_path):
    plan = plan_of(tmp_path, [
        ("import math", ["imports"]),
        ("SCALE = 3\ndef scaled(v):\n    return math.sqrt(v) * SCALE", ["functions"]),
        ("y = scaled(16)", ["step:use", "parity:y"]),
    ])
    assert plan.steps[0].inputs == ()
    assert "def scaled" in plan.functions and plan.header == "import math"


def test_function_reading_a_step_variable_is_an_error(tmp_path):
    with pytest.raises(AnalysisError, match=r"functions cell reads 'threshold'.*Hint: pass 'threshold'"):
        plan_of(tmp_path, [
            ("threshold = 0.5", ["parameters"]),
            ("def flag(v):\n    return v > threshold", ["functions"]),
            ("y = flag(1)", ["step:use", "parity:y"]),
        ])


def test_function_defined_in_a_step_closes_over_its_inputs(tmp_path):
    steps = steps_of(tmp_path, [
        ("offset = 2", ["parameters"]),
        ("def shift(v):\n    return v + offset\ny = shift(1)", ["step:use", "parity:y"]),
    ])
    assert steps["use"].inputs == ("offset",)


def test_imports_inside_steps_are_hoisted_to_the_header(tmp_path):
    plan = plan_of(tmp_path, [
        ("import math\nx = math.pi", ["step:make"]),
        ("from math import floor\ny = floor(x) + math.e", ["step:use", "parity:y"]),
    ])
    assert plan.header.splitlines() == ["import math", "from math import floor"]
    assert plan.steps[1].inputs == ("x",)
    assert "import" not in plan.steps[1].code
    assert plan.imported_modules == ("math",)


TRY_IMPORT = "try:\n    from tqdm.auto import tqdm\nexcept ImportError:\n    def tqdm(x, **kw):\n        return x"


def test_an_optional_import_with_its_fallback_goes_to_the_header_not_between_steps(tmp_path):
    plan = plan_of(tmp_path, [
        (TRY_IMPORT + "\nbase = 1", ["step:setup"]),
        ("total = sum(tqdm(range(3))) + base", ["step:use", "parity:total"]),
    ])
    assert plan.header == TRY_IMPORT
    assert plan.steps[1].inputs == ("base",) and "tqdm" not in plan.steps[0].code


def test_a_fallback_that_reads_a_notebook_variable_stays_in_its_step(tmp_path):
    code = ("scale = 2\ntry:\n    from tqdm.auto import tqdm\nexcept ImportError:\n"
            "    def tqdm(x, **kw):\n        return [v * scale for v in x]")
    plan = plan_of(tmp_path, [
        (code, ["step:setup"]),
        ("total = sum(tqdm(range(3)))", ["step:use", "parity:total"]),
    ])
    assert plan.header == "" and "except ImportError" in plan.steps[0].code


def test_name_defined_only_in_a_skipped_cell_names_both_cells(tmp_path):
    with pytest.raises(AnalysisError) as err:
        plan_of(tmp_path, [
            ("x = 1", ["step:make"]),
            ("scale = 10", ["skip"]),
            ("y = x * scale", ["step:use", "parity:y"]),
        ])
    text = str(err.value)
    assert "cell 2" in text and "'scale'" in text and "step 'use'" in text and "only cell 1" in text


def test_skipped_change_to_an_exported_variable_is_a_warning(tmp_path):
    plan = plan_of(tmp_path, [
        ("x = 1", ["step:make"]),
        ("x = x * 10", ["skip"]),
        ("y = x", ["step:use", "parity:y"]),
    ])
    assert any("cell 1" in w and "'x'" in w for w in plan.warnings)


def test_data_flow_cycle_is_an_error(tmp_path):
    with pytest.raises(AnalysisError, match=r"form a cycle"):
        plan_of(tmp_path, [
            ("a = 1", ["step:first"]),
            ("b = a + 1", ["step:second"]),
            ("c = b + 1", ["step:first"]),
            ("d = c", ["step:third", "parity:d"]),
        ])


def test_after_cycle_is_an_error_and_unknown_after_is_named(tmp_path):
    with pytest.raises(AnalysisError, match="form a cycle"):
        plan_of(tmp_path, [
            ("a = 1", ["step:one", "after:two"]),
            ("b = 2", ["step:two", "after:one", "parity:b"]),
        ])
    with pytest.raises(TagError, match=r"'after:nope' names a step that does not exist \(steps: one\)"):
        plan_of(tmp_path, [("a = 1", ["step:one", "after:nope", "parity:a"])])


def test_after_reorders_independent_steps(tmp_path):
    plan = plan_of(tmp_path, [
        ("a = 1", ["step:one", "after:two", "parity:a"]),
        ("b = 2", ["step:two", "parity:b"]),
    ])
    assert [s.name for s in plan.steps] == ["two", "one"]


def test_reader_runs_before_a_later_in_place_change(tmp_path):
    steps = steps_of(tmp_path, [
        ("xs = [1]", ["step:make"]),
        ("snapshot = list(xs)", ["step:copy"]),
        ("xs.append(2)", ["step:grow"]),
        ("out = (snapshot, xs)", ["step:use", "parity:out"]),
    ])
    assert "copy" in steps["grow"].depends_on


def test_untagged_cells_continue_the_step_above_and_before_first_are_unexported(tmp_path):
    plan = plan_of(tmp_path, [
        "print('setup')",
        ("x = 1", ["step:make"]),
        "x = x + 1",
        ("plot(x)", ["skip"]),
        "y = x * 2",
        ("", ["parity:y"]),
    ])
    assert plan.steps[0].cells == (1, 2, 4, 5)
    assert plan.unexported_cells == (0,)
    assert plan.skipped_cells == (3,)


def test_display_only_expressions_and_magics_are_dropped(tmp_path):
    plan = plan_of(tmp_path, [
        ("%matplotlib inline\nimport math\nx = [3, 1]\nx\nx[0]\nlen(x)\ndisplay(x)", ["step:make"]),
        ("y = sorted(x)\ny", ["step:use", "parity:y"]),
    ])
    code = plan.steps[0].code
    assert "matplotlib" not in code and "display" not in code and "x[0]" not in code
    # a built-in call whose result is thrown away goes too (issue 15), and so does the unused import
    assert "len(x)" not in code and "math" not in code and "x = [3, 1]" in code
    assert "print(" not in code


def test_shell_escape_in_a_step_is_an_error_with_line(tmp_path):
    with pytest.raises(AnalysisError) as err:
        plan_of(tmp_path, [("x = 1\n!pip install foo", ["step:make", "parity:x"])])
    assert "nb.ipynb, cell 0, line 2" in str(err.value) and "!pip install foo" in str(err.value)


def test_shell_escape_in_a_skipped_cell_is_fine(tmp_path):
    plan = plan_of(tmp_path, [("!pip install foo", ["skip"]), ("x = 1", ["step:make", "parity:x"])])
    assert plan.steps[0].name == "make"


def test_parameters_cell_must_hold_literals(tmp_path):
    with pytest.raises(AnalysisError, match=r"cell 0, line 2: parameter 'b' = compute\(\) is not a literal"):
        plan_of(tmp_path, [("a = 1\nb = compute()", ["parameters"]), ("x = a", ["step:s", "parity:x"])])


def test_two_parameters_cells_are_an_error(tmp_path):
    with pytest.raises(TagError, match=r"2 cells are tagged 'parameters' \(cells 0, 1\)"):
        plan_of(tmp_path, [("a = 1", ["parameters"]), ("b = 1", ["parameters"]), ("x = a", ["step:s"])])


def test_parameters_have_defaults_and_types(tmp_path):
    plan = plan_of(tmp_path, [
        ("alpha = 0.5\nn: int = 3\nname = 'x'\nflag = True\ncols = ['a']\nnone = None", ["parameters"]),
        ("x = (alpha, n, name, flag, cols, none)", ["step:s", "parity:x"]),
    ])
    assert [(p.name, p.default, p.type_name) for p in plan.parameters] == [
        ("alpha", 0.5, "float"), ("n", 3, "int"), ("name", "x", "str"),
        ("flag", True, "bool"), ("cols", ["a"], "list"), ("none", None, "NoneType"),
    ]


def test_kale_pipeline_metrics_cell_makes_printed_names_metrics(tmp_path):
    plan = plan_of(tmp_path, [
        ("accuracy = 0.9\nloss = 0.1", ["block:train"]),
        ("print(accuracy)\nloss", ["pipeline-metrics"]),
    ])
    assert [(t.name, t.kind, t.step) for t in plan.targets] == [
        ("accuracy", "metric", "train"), ("loss", "metric", "train"),
    ]


def test_parity_target_never_defined_is_an_error(tmp_path):
    with pytest.raises(AnalysisError, match=r"parity target 'y_pred' is never defined"):
        plan_of(tmp_path, [("x = 1", ["step:s", "parity:y_pred"])])


def test_step_function_renamed_when_it_clashes_with_a_variable(tmp_path):
    plan = plan_of(tmp_path, [("train = [1, 2]", ["step:train"]), ("y = train", ["step:use", "parity:y"])])
    assert plan.steps[0].function == "train_step"


def test_notebook_without_steps_and_nothing_to_export_is_an_error(tmp_path):
    # a notebook with no step tags is inferred (tests/unit/analyse/test_infer.py); one whose cells
    # only plot has nothing a step could hold
    with pytest.raises(TagError, match="no 'step:NAME' tag, and none of its 1 code cells"):
        plan_of(tmp_path, ["import matplotlib.pyplot as plt\nplt.plot([1, 2])"])


def test_module_name_is_an_identifier(tmp_path):
    from pathlib import Path

    assert module_name(Path("01-Churn model.ipynb")) == "nb_01_churn_model"
    assert module_name(Path("class.ipynb")) == "class_"
