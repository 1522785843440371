"""Plotting helpers, display API, fresh-object displays, empty steps and comment-only leftovers."""

from __future__ import annotations

from pathlib import Path

import pytest

from nb2prod.analyse.planner import analyse
from nb2prod.errors import AnalysisError
from nb2prod.generate.codegen import generate_source
from nb2prod.read.notebook import load_notebook
from tests.nbfactory import write_notebook


def plan_of(tmp_path: Path, cells):
    return analyse(load_notebook(write_notebook(tmp_path, cells), root=tmp_path))


def test_a_helper_that_only_plots_goes_with_its_calls_and_matplotlib(tmp_path):
    plan = plan_of(tmp_path, [
        ("import matplotlib.pyplot as plt\nimport numpy as np\nfrom sklearn.metrics import confusion_matrix",
         ["imports"]),
        ("def plot_cm(y_true, y_hat, title, ax=None):\n    ax = ax or plt.gca()\n"
         "    cm = confusion_matrix(y_true, y_hat)\n    ax.imshow(cm)\n    for i in range(2):\n"
         "        plt.text(i, i, cm[i, i])\n    print(title)\n    return ax", ["functions"]),
        ("y = np.array([0, 1, 1, 0])\nplot_cm(y, y, 'truth')\nscore = float((y == y).mean())",
         ["step:fit", "parity:score"]),
    ])
    source = generate_source(plan)
    assert "plot_cm" not in source and "plt" not in source and "imshow" not in source
    assert "score = float((y == y).mean())" in source
    assert any(d.reason == "plotting helper no exported code calls" for d in plan.dropped)


def test_a_helper_that_changes_its_argument_is_not_plotting(tmp_path):
    plan = plan_of(tmp_path, [
        ("import matplotlib.pyplot as plt", ["imports"]),
        ("def show_and_fill(values):\n    values.append(0)\n    plt.plot(values)", ["functions"]),
        ("items = [1]\nshow_and_fill(items)\nn = len(items)", ["step:a", "parity:n"]),
    ])
    assert "show_and_fill(items)" in plan.steps[0].code


def test_display_api_and_a_plotting_loop_go_but_a_fit_that_later_code_reads_stays(tmp_path):
    plan = plan_of(tmp_path, [
        ("from sklearn.datasets import load_iris\nfrom sklearn.linear_model import LogisticRegression\n"
         "from sklearn.metrics import ConfusionMatrixDisplay\nfrom sklearn.tree import plot_tree\n"
         "import matplotlib.pyplot as plt", ["imports"]),
        ("X, y = load_iris(return_X_y=True)\nclf = LogisticRegression(max_iter=200)\n"
         "clf.fit(X, y)\nConfusionMatrixDisplay.from_estimator(clf, X, y)\nplot_tree(clf)\n"
         "for C in [0.1, 1.0]:\n    m = clf.set_params(C=C).fit(X, y)\n"
         "    ConfusionMatrixDisplay.from_predictions(y, m.predict(X))\n"
         "score = clf.score(X, y)", ["step:fit", "parity:score"]),
    ])
    code = plan.steps[0].code
    assert "Display" not in code and "plot_tree" not in code
    assert "    clf.set_params(C=C).fit(X, y)" in code  # kept (clf is read after), the name m gone


def test_a_fresh_estimators_display_and_a_json_load_are_display_only(tmp_path):
    plan = plan_of(tmp_path, [
        ("import json\nimport numpy as np\nfrom sklearn.preprocessing import StandardScaler", ["imports"]),
        ("X = np.ones((4, 2))\nStandardScaler().fit_transform(X)[:3]\njson.load(open('m.json'))\n"
         "total = float(X.sum())", ["step:a", "parity:total"]),
    ])
    code = plan.steps[0].code
    assert "StandardScaler" not in code and "json.load" not in code


def test_an_empty_step_is_neither_generated_nor_called_and_says_so(tmp_path):
    plan = plan_of(tmp_path, [
        ("import numpy as np", ["imports"]),
        ("X = np.arange(6.0)\ny_pred = X * 2", ["step:train", "parity:y_pred"]),
        ("# how does X look?\nnp.median(X)", ["step:exploration"]),
        ("X.max()", []),
    ])
    assert [s.name for s in plan.steps] == ["train"]
    assert "exploration" not in generate_source(plan)
    assert "step 'exploration': nothing in cells 2-3 is needed, so it is not generated" in {
        d.describe() for d in plan.dropped}


def test_a_notebook_whose_every_step_is_empty_is_an_error(tmp_path):
    with pytest.raises(AnalysisError, match="every step") as err:
        plan_of(tmp_path, [
            ("import numpy as np", ["imports"]),
            ("np.arange(3).max()", ["step:a"]),
            ("print(np.zeros(2))", ["step:b"]),
        ])
    assert err.value.exit_code == 2


def test_docstrings_list_only_cells_that_left_code_and_comment_only_cells_go(tmp_path):
    plan = plan_of(tmp_path, [
        ("# This Python 3 environment comes with many helpful analytics libraries installed\n"
         "# It is defined by the kaggle/python Docker image\nimport numpy as np\nimport os\n"
         "for dirname, _, filenames in os.walk('/kaggle/input'):\n    for filename in filenames:\n"
         "        print(os.path.join(dirname, filename))", ["step:load"]),
        ("X = np.arange(4.0)", []),
        ("X.mean()", []),
        ("y_pred = X + 1", ["parity:y_pred"]),
    ])
    step = plan.steps[0]
    assert step.cells == (0, 1, 2, 3) and step.exported_cells == (1, 3)
    assert "notebook cells 1, 3." in generate_source(plan)
    assert "kaggle" not in step.code and "# cell 0" not in step.code


def test_with_no_target_only_what_a_written_file_needs_stays(tmp_path):
    plan = plan_of(tmp_path, [
        ("import pandas as pd", ["imports"]),
        ("df = pd.DataFrame({'a': [1, 2]})\nmissing = pd.DataFrame({'n': df.isna().sum()})\nmissing\n"
         "df.to_csv('out.csv')", ["step:a"]),
    ])
    code = plan.steps[0].code
    assert "missing" not in code and "df.to_csv('out.csv')" in code


def test_a_plot_in_a_loop_goes_but_the_target_it_read_keeps_its_name(tmp_path):
    plan = plan_of(tmp_path, [
        ("import numpy as np\nimport matplotlib.pyplot as plt\nfrom sklearn.linear_model import LinearRegression",
         ["imports"]),
        ("X = np.arange(10.0).reshape(-1, 1)\nfor k in range(2):\n"
         "    y_pred = LinearRegression().fit(X, k * X[:, 0]).predict(X)\n    plt.plot(y_pred)",
         ["step:train", "parity:y_pred"]),
    ])
    code = plan.steps[0].code
    assert "    y_pred = LinearRegression()" in code and "plt" not in code
    compile(generate_source(plan), "pipeline.py", "exec")


def test_a_result_only_a_nested_plot_read_loses_its_name_and_explain_says_so(tmp_path):
    plan = plan_of(tmp_path, [
        ("import numpy as np\nimport matplotlib.pyplot as plt\nfrom sklearn.linear_model import Ridge", ["imports"]),
        ("X = np.ones((4, 1))\nmodel = Ridge()\nfor a in [0.1, 1.0]:\n    m = model.set_params(alpha=a).fit(X, X[:, 0])\n"
         "    plt.plot(m.coef_)\ncoef = model.coef_", ["step:fit", "parity:coef"]),
    ])
    assert "    model.set_params(alpha=a).fit(X, X[:, 0])" in plan.steps[0].code
    assert any(d.reason.startswith("value not used: the name goes, `model.set_params(alpha=a)")
               for d in plan.dropped), plan.dropped
