"""Inference for notebooks with no step tags: steps from headings, skipped plots, targets, and
explicit tags winning; bare expressions bound to the parity/metric names tagged on their cells."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from nb2prod.analyse.infer import infer, needs_inference
from nb2prod.analyse.planner import analyse
from nb2prod.errors import AnalysisError
from nb2prod.generate.codegen import generate_source
from nb2prod.read.notebook import load_notebook
from nb2prod.store.versions import build_manifest
from tests.conftest import FIXTURES
from tests.nbfactory import write_notebook

UNTAGGED = FIXTURES / "notebooks" / "untagged"


def notebook(tmp_path, cells, name="nb.ipynb"):
    """Cells are code strings, ``(code, tags)`` or ``("md", text)`` for Markdown."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for spec in cells:
        if isinstance(spec, tuple) and spec[0] == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(spec[1]))
        else:
            source, tags = (spec, ()) if isinstance(spec, str) else spec
            nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)} if tags else {}))
    path = tmp_path / name
    nbformat.write(nb, path)
    return load_notebook(path, root=tmp_path)


def test_steps_come_from_the_sections_and_a_title_is_not_one(tmp_path):
    nb = notebook(tmp_path, [
        ("md", "# Churn model\nIntro."),
        "import numpy as np",
        "n = 10",
        ("md", "## 1. Load the Data"),
        "x = np.arange(n)",
        ("md", "## Train the model\n### a detail"),
        "w = x.mean()",
        "b = w + 1",
    ])
    plan = analyse(nb)
    assert [s.name for s in plan.steps] == ["load_data", "train_model"]
    # cells above the first section open the first step; an imports-only cell is the header
    assert plan.steps[0].cells == (2, 4) and "import numpy as np" in plan.header
    assert plan.steps[1].cells == (6, 7)
    assert plan.inferred[0] == "steps load_data, train_model (from headings)"


def test_one_step_named_after_the_notebook_when_there_are_no_headings(tmp_path):
    plan = analyse(notebook(tmp_path, ["x = 1", "y = x + 1"], name="01-Churn.ipynb"))
    assert [(s.name, s.cells) for s in plan.steps] == [("nb_01_churn", (0, 1))]


def test_repeated_headings_get_distinct_step_names(tmp_path):
    plan = analyse(notebook(tmp_path, [("md", "## Fit"), "a = 1", ("md", "## Fit"), "b = a"]))
    assert [s.name for s in plan.steps] == ["fit", "fit_2"]


def test_plot_display_and_shell_cells_are_skipped_unless_a_kept_cell_needs_them(tmp_path):
    nb = notebook(tmp_path, [
        "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})",
        "df.head()",
        "df.plot(kind='bar')\ndisplay(df)",
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.set_title('a')",
        "!pip install -q seaborn",
        "for c in df:\n    plt.hist(df[c])",
        "df.style.highlight_max()",
        "total = df['a'].sum()",
        "fig.savefig('a.png')\nsaved = True",  # keeps the plot cell that made `fig`
    ])
    found = infer(nb)
    skipped = [i for i, tags in found.tags.items() if "skip" in tags]
    assert skipped == [1, 2, 4, 5, 6]
    assert found.reasons[4] == "shell commands only"
    assert 3 not in skipped  # `fig` is read by cell 8


def test_targets_from_predict_calls_and_metrics_from_score_functions(tmp_path):
    nb = notebook(tmp_path, [
        "from sklearn.linear_model import Ridge\nfrom sklearn.metrics import r2_score, mean_squared_error\n"
        "import numpy as np",
        "X = np.arange(20.0).reshape(10, 2)\ny = X.sum(axis=1)\nmodel = Ridge().fit(X, y)",
        "y_pred = model.predict(X)\nproba_like = model.predict(X)[:3]\n"
        "blend = np.expm1(model.predict(X)) * 0.5 + 1\nrefit = Ridge().fit(model.predict(X)[:, None], y)",
        "y_pred = y_pred.round(3)",  # the last cell that assigns it is where parity takes it
        "rmse = np.sqrt(mean_squared_error(y, y_pred))\nfit_score = model.score(X, y)",
        "def helper(m):\n    inner = m.predict(X)\n    return inner",  # a def's locals are not targets
        "r2_score(y, y_pred)",
    ])
    plan = analyse(nb)
    assert [(t.name, t.cell) for t in plan.parity_targets] == [("proba_like", 2), ("blend", 2), ("y_pred", 3)]
    assert [(t.name, t.cell) for t in plan.metric_targets] == [("rmse", 4), ("fit_score", 4), ("r2", 6)]
    assert plan.expression_targets == ("r2",)
    assert "r2 = r2_score(y, y_pred)" in plan.steps[0].code


def test_explicit_tags_win(tmp_path):
    nb = notebook(tmp_path, [
        "import numpy as np",
        "x = np.arange(3.0)\nscale = 2",
        ("plot_me = x * 2", ["skip"]),
        ("y_hat = x * scale", ["parity:y_hat"]),
        "class Model:\n    def predict(self, v):\n        return v\n\ny_pred = Model().predict(x)",
    ])
    found = infer(nb)
    assert "step:" not in " ".join(found.tags.get(2, ()))  # its own 'skip' role is kept
    plan = analyse(nb)
    assert [t.name for t in plan.parity_targets] == ["y_hat"]  # declared: none inferred


def test_a_notebook_with_any_step_tag_is_never_inferred(tmp_path):
    nb = notebook(tmp_path, ["w = 1", ("x = 1\ny = x", ["step:only"]), "z = str(y).format()"])
    assert not needs_inference(nb)
    plan = analyse(nb)
    assert [s.name for s in plan.steps] == ["only"] and plan.unexported_cells == (0,)
    assert plan.inferred == () and plan.parity_targets == ()


def test_inferred_tags_written_into_the_notebook_build_the_same_code(tmp_path):
    import shutil

    from nb2prod.read.tag_writer import write_tags

    copy = tmp_path / "diabetes_headings.ipynb"
    shutil.copy(UNTAGGED / "diabetes_headings.ipynb", copy)
    inferred = analyse(load_notebook(copy, root=tmp_path))
    write_tags(copy, infer(load_notebook(copy, root=tmp_path), "diabetes_headings").tags)
    tagged = analyse(load_notebook(copy, root=tmp_path))
    assert not needs_inference(tagged.notebook) and tagged.inferred == ()
    assert generate_source(tagged) == generate_source(inferred)
    assert [t.name for t in tagged.targets] == ["y_pred", "mae", "r2"]


def test_a_bare_expression_target_is_recorded_in_the_manifest(tmp_path):
    nb = notebook(tmp_path, [("a = 3", ["step:s"]), ("a * 2", ["metric:double"])])
    plan = analyse(nb)
    manifest = build_manifest(plan, "0" * 64, {})
    assert manifest["metrics"] == [{"name": "double", "cell": 1, "step": "s", "expression": True}]
    namespace: dict = {}
    exec(compile(generate_source(plan), "pipeline.py", "exec"), namespace)
    assert namespace["run"]() == {"double": 6}


def test_a_tagged_name_the_cell_defines_is_not_rebound(tmp_path):
    nb = notebook(tmp_path, [("a = 3", ["step:s"]), ("b = a * 2\nb + 1", ["metric:b"])])
    plan = analyse(nb)
    assert plan.expression_targets == () and "b = b + 1" not in plan.steps[0].code


def test_a_target_that_is_neither_defined_nor_shown_is_still_an_error(tmp_path):
    with pytest.raises(AnalysisError, match="metric target 'acc' is never defined"):
        analyse(notebook(tmp_path, [("a = 3", ["step:s"]), ("print(a)", ["metric:acc"])]))


@pytest.mark.parametrize("name", ["diabetes_headings.ipynb", "wine_gallery.py", "no_tags.ipynb",
                                  "plain_script.py"])
def test_every_untagged_fixture_builds(name):
    plan = analyse(load_notebook(UNTAGGED / name, root=UNTAGGED))
    assert plan.steps and plan.inferred
    compile(generate_source(plan), "pipeline.py", "exec")


def test_the_sphinx_gallery_file_reads_headings_from_comments_and_a_late_directive(tmp_path):
    plan = analyse(load_notebook(UNTAGGED / "wine_gallery.py", root=UNTAGGED))
    assert [s.name for s in plan.steps] == ["load_data", "fit_scaled_model"]
    assert 3 in plan.skipped_cells  # '#| skip' after prose comments is read
    assert [t.name for t in plan.parity_targets] == ["X_test_scaled", "proba"]
    assert [t.name for t in plan.metric_targets] == ["accuracy"]


def test_a_papermill_parameters_cell_is_kept_and_the_rest_is_one_step(tmp_path):
    path = write_notebook(tmp_path, [("n = 3", ["parameters"]), "m = n * 2", "k = m + 1"])
    plan = analyse(load_notebook(path, root=tmp_path))
    assert [p.name for p in plan.parameters] == ["n"]
    assert len(plan.steps) == 1 and plan.steps[0].cells == (1, 2)


def test_a_section_with_nothing_to_run_makes_no_step(tmp_path):
    nb = notebook(tmp_path, [("md", "## Fit"), "a = 1", ("md", "## Conclusion\nDone."), "# notes\n", ""])
    assert [s.name for s in analyse(nb).steps] == ["fit"]


def test_kale_pipeline_metrics_cell_keeps_its_role(tmp_path):
    nb = notebook(tmp_path, [("md", "## Fit"), "a = 1", ("md", "## Report"), ("print(a)", ["pipeline-metrics"])])
    plan = analyse(nb)
    assert [s.name for s in plan.steps] == ["fit"] and [t.name for t in plan.metric_targets] == ["a"]


def test_a_cell_of_self_contained_definitions_goes_to_module_level_and_its_class_pickles(tmp_path):
    import ast
    import pickle
    import sys
    import types

    nb = notebook(tmp_path, [
        ("md", "## Model"),
        "import numpy as np\nfrom sklearn.base import BaseEstimator, TransformerMixin\nX = np.arange(6.0).reshape(3, 2)",
        '"""Helpers."""\nimport math\n\ndef root(v):\n    return math.sqrt(v)\n\n'
        "class Square(TransformerMixin, BaseEstimator):\n    def fit(self, X, y=None):\n        return self\n"
        "    def transform(self, X):\n        return np.asarray(X) ** 2 + root(0)",
        "def uses_step(v):\n    return v * X.sum()",  # reads the step's X: stays in the step
        "def calls_it(v):\n    return uses_step(v) + 1",  # reads a definition that stays: stays too
        "model = Square().fit(X)\nout = model.transform(X) + calls_it(1)\nblob = pickle.dumps(model)\nimport pickle",
    ])
    found = infer(nb)
    assert "functions" in found.tags[2] and "functions" not in found.tags.get(3, ())
    assert "functions" not in found.tags.get(4, ())
    plan = analyse(nb)
    assert "module-level definitions in cell 2" in plan.inferred
    source = generate_source(plan)
    top = {n.name for n in ast.parse(source).body if isinstance(n, ast.ClassDef | ast.FunctionDef)}
    assert {"Square", "root"} <= top and not {"uses_step", "calls_it"} & top
    module = types.ModuleType("targets_generated")
    sys.modules[module.__name__] = module
    try:
        exec(compile(source, "pipeline.py", "exec"), module.__dict__)
        instance = module.Square().fit([[1.0]])
        assert pickle.loads(pickle.dumps(instance)).transform([[3.0]]).tolist() == [[9.0]]
    finally:
        del sys.modules[module.__name__]


def test_definitions_a_step_rebinds_or_that_read_a_step_value_when_defined_stay_in_place(tmp_path):
    nb = notebook(tmp_path, [
        "import numpy as np\nscale = 2.0",
        "def scaled(v, k=scale):\n    return v * k",  # the default is read when defined
        "def helper(v):\n    return np.log1p(v)",
        "helper = 3\nout = scaled(helper)",  # a step rebinds the name
    ])
    found = infer(nb)
    assert not any("functions" in found.tags.get(i, ()) for i in (1, 2))
    compile(generate_source(analyse(nb)), "pipeline.py", "exec")


def test_a_shell_cell_that_otherwise_only_prints_is_skipped_and_its_import_is_lent(tmp_path):
    cells = [
        ("md", "# Lab"),
        "!pip show scikit-learn\nimport sklearn\nprint(sklearn.__version__)",
        ("md", "## Train"),
        "import numpy as np\nv = np.arange(3.0) * len(sklearn.__version__)",
    ]
    plan = analyse(notebook(tmp_path, cells))
    assert plan.skipped_cells == (1,) and "import sklearn" in generate_source(plan)
    found = infer(notebook(tmp_path, cells))
    assert found.tags[1] == ("skip",) and found.reasons[1] == "shell commands and output only"
    # a shell line beside real code is still the build's error to report
    nb = notebook(tmp_path, [*cells, "!ls\nw = v * 2"])
    assert "skip" not in infer(nb).tags.get(4, ())
    with pytest.raises(AnalysisError, match="shell escape '!ls' inside exported step"):
        analyse(nb)


def test_a_function_defined_twice_stays_in_each_step_that_uses_its_version(tmp_path):
    nb = notebook(tmp_path, [
        "import numpy as np\nfrom sklearn.linear_model import LinearRegression\nX = np.arange(6.0).reshape(-1, 1)",
        "def features(X):\n    return X",
        ("md", "## Version 1"),
        "m1 = LinearRegression().fit(features(X), X.ravel() * 2)\npred1 = m1.predict(features(X))",
        "def features(X):\n    return X ** 2",  # a second, improved version
        ("md", "## Version 2"),
        "m2 = LinearRegression().fit(features(X), X.ravel() * 2)\npred2 = m2.predict(features(X))",
        "def helper(v):\n    return features(v) + 1",  # reads the twice-bound name: stays too
        "def unique(v):\n    return v * 3",
    ])
    found = infer(nb)
    assert [i for i, tags in found.tags.items() if "functions" in tags] == [8]
    namespace: dict = {}
    exec(compile(generate_source(analyse(nb)), "pipeline.py", "exec"), namespace)
    values = namespace["run"]()
    x = np.arange(6.0)
    np.testing.assert_allclose(values["pred1"], 2 * x, atol=1e-9)  # the first features, not the second
    squared = LinearRegression().fit(x[:, None] ** 2, 2 * x).predict(x[:, None] ** 2)
    np.testing.assert_allclose(values["pred2"], squared, atol=1e-9)
