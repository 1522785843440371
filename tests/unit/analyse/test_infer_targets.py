"""Inferred parity and metric targets: never one the build rejects (a printed metric), short
names for shown metrics, and out-of-fold or accumulated predictions as the containers that hold them."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nb2prod.analyse.planner import analyse
from nb2prod.generate.codegen import generate_source
from tests.unit.analyse.test_infer import notebook

SETUP = (
    "import numpy as np\nfrom sklearn.linear_model import LinearRegression\n"
    "from sklearn.metrics import mean_absolute_error, roc_auc_score, accuracy_score\n"
    "X = np.arange(40.0).reshape(20, 2)\ny = X @ np.array([1.0, 2.0]) + 1\n"
    "m = LinearRegression().fit(X, y)\npred = m.predict(X)\nlabels = (y > y.mean()).astype(int)"
)


def run(plan) -> dict:
    namespace: dict = {}
    exec(compile(generate_source(plan), "pipeline.py", "exec"), namespace)
    return namespace["run"]()


def targets(plan, kind: str) -> list[tuple[str, int]]:
    return [(t.name, t.cell) for t in (plan.parity_targets if kind == "parity" else plan.metric_targets)]


@pytest.mark.parametrize("shown", [
    "print('AUC:', roc_auc_score(labels, pred))",
    "print(roc_auc_score(labels, pred))",
    "print('AUC %.6f' % roc_auc_score(labels, pred))",
    "print(f'AUC {roc_auc_score(labels, pred):.4f}')",
    "f'AUC {roc_auc_score(labels, pred):.4f}'",
    "'AUC {}'.format(roc_auc_score(labels, pred))",
    "message = f'AUC {roc_auc_score(labels, pred):.4f}'",  # text, not the metric's value
])
def test_a_metric_only_printed_or_formatted_is_no_target_and_the_notebook_builds(tmp_path, shown):
    plan = analyse(notebook(tmp_path, [SETUP, shown]))
    assert targets(plan, "metric") == [] and targets(plan, "parity") == [("pred", 0)]
    assert "pred" in run(plan)


def test_a_metric_bound_by_a_walrus_inside_print_is_a_metric(tmp_path):
    plan = analyse(notebook(tmp_path, [
        SETUP, "print(f\"MAE {(mae := mean_absolute_error(y, pred)):.3f}\")", "scaled = mae * 10",
    ]))
    assert targets(plan, "metric") == [("mae", 1)]
    assert run(plan)["mae"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(("shown", "name"), [
    ("mean_absolute_error(y, pred)", "mae"),
    ("mean_squared_error(y, pred)", "mse"),
    ("root_mean_squared_error(y, pred)", "rmse"),
    ("mean_absolute_percentage_error(y, pred)", "mape"),
    ("mean_squared_log_error(y, pred)", "msle"),
    ("accuracy_score(labels, labels)", "accuracy"),
    ("r2_score(y, pred)", "r2"),
    ("m.score(X, y)", "score"),
    ("np.sqrt(mean_squared_error(y, pred))", "mse"),
    ("round(accuracy_score(labels, labels), 3)", "accuracy"),
    ("cross_val_score(m, X, y, cv=3).mean()", "cv_score"),
    ("1 - np.log(mean_squared_error(y, pred) + 1)", "mse"),
])
def test_a_shown_metric_gets_its_conventional_short_name(tmp_path, shown, name):
    functions = re.findall(r"\b\w+_(?:score|error)\b", shown)
    module = "sklearn.model_selection" if functions == ["cross_val_score"] else "sklearn.metrics"
    imports = f"from {module} import {functions[0]}" if functions else "import math"
    plan = analyse(notebook(tmp_path, [SETUP, imports, shown]))
    assert targets(plan, "metric") == [(name, 2)]
    assert plan.expression_targets == (name,)


def test_a_short_name_already_taken_gets_a_suffix_and_a_tuple_of_metrics_is_none(tmp_path):
    plan = analyse(notebook(tmp_path, [
        SETUP, "mae_note = 'low'\naccuracy = 0.5", "accuracy_score(labels, labels), accuracy_score(labels, 1 - labels)",
        "accuracy_score(labels, labels)",
    ]))
    assert targets(plan, "metric") == [("accuracy_2", 3)]
    assert run(plan)["accuracy_2"] == 1.0


def test_out_of_fold_and_averaged_test_predictions_are_the_targets_not_the_last_fold(tmp_path):
    plan = analyse(notebook(tmp_path, [
        SETUP + "\nfrom sklearn.model_selection import KFold",
        "oof = np.zeros(len(y))\ntest_pred = 0\n"
        "for tr, va in KFold(4).split(X):\n"
        "    fold = LinearRegression().fit(X[tr], y[tr])\n"
        "    p = fold.predict(X[va])\n"
        "    oof[va] = p\n"
        "    test_pred += fold.predict(X[:5]) / 4",
        "print('MAE', mean_absolute_error(y, oof))",
    ]))
    # `p`, the last fold's predictions, is no target once the containers are found
    assert targets(plan, "parity") == [("pred", 0), ("oof", 1), ("test_pred", 1)]
    values = run(plan)
    np.testing.assert_allclose(values["oof"], values["pred"], atol=1e-8)  # a linear target: exact fits
    np.testing.assert_allclose(values["test_pred"], values["pred"][:5], atol=1e-8)


def test_a_dict_of_predictions_and_a_blend_of_them_are_targets_taken_after_their_last_change(tmp_path):
    plan = analyse(notebook(tmp_path, [
        SETUP + "\nfrom sklearn.linear_model import Ridge",
        "preds = {}\nfold_preds = []\nfor name, model in {'ols': LinearRegression(), 'ridge': Ridge()}.items():\n"
        "    preds[name] = np.expm1(model.fit(X, y).predict(X) / 100)\n"
        "    fold_preds.append(model.predict(X))",
        "weights = {'ols': 0.7, 'ridge': 0.3}\n"
        "ensemble = sum(w * preds[k] for k, w in weights.items())\n"
        "halves = 0.5 * preds['ols'] + 0.5 * preds['ridge']\n"
        "averaged = np.mean(fold_preds, axis=0)",
        "preds['blend'] = ensemble",  # changes `preds` again: parity takes it here
    ]))
    assert targets(plan, "parity") == [
        ("pred", 0), ("fold_preds", 1), ("ensemble", 2), ("halves", 2), ("averaged", 2), ("preds", 3),
    ]
    values = run(plan)
    assert sorted(values["preds"]) == ["blend", "ols", "ridge"]
    np.testing.assert_allclose(values["ensemble"], 0.7 * values["preds"]["ols"] + 0.3 * values["preds"]["ridge"])


def test_a_frame_given_a_prediction_column_is_no_container_target(tmp_path):
    plan = analyse(notebook(tmp_path, [
        SETUP + "\nimport pandas as pd", "df = pd.DataFrame(X, columns=['a', 'b'])\ndf['pred'] = m.predict(X)",
        "scores = {}\nscores['ols'] = mean_absolute_error(y, pred)",  # metrics, not predictions
    ]))
    assert targets(plan, "parity") == [("pred", 0)]


def test_a_loop_variable_is_still_the_target_when_nothing_else_is(tmp_path):
    plan = analyse(notebook(tmp_path, [
        "import numpy as np\nfrom sklearn.linear_model import LinearRegression\nX = np.arange(40.0).reshape(20, 2)",
        "for k in (1, 2):\n    p = LinearRegression().fit(X[:, :k], X[:, 0]).predict(X[:, :k])",
    ]))
    assert targets(plan, "parity") == [("p", 1)]



def test_loss_functions_are_metrics_but_a_training_loop_loss_and_torch_losses_are_not(tmp_path):
    plan = analyse(notebook(tmp_path, [
        SETUP + "\nfrom sklearn.metrics import log_loss, hinge_loss, zero_one_loss, brier_score_loss\n"
        "proba = np.clip((pred - pred.min()) / (pred.max() - pred.min()), 0.01, 0.99)",
        "ll = log_loss(labels, proba)\nzo = zero_one_loss(labels, (proba > 0.5).astype(int))\n"
        "for _ in range(2):\n    loss = brier_score_loss(labels, proba)",
        "import types\nF = types.SimpleNamespace(nll_loss=lambda a, b: 0.0)\nnll = F.nll_loss(proba, labels)",  # torch
        "hinge_loss(2 * labels - 1, proba - 0.5)",
    ]))
    assert targets(plan, "metric") == [("ll", 1), ("zo", 1), ("hingeloss", 3)]
    values = run(plan)
    proba = np.clip((values["pred"] - values["pred"].min()) / np.ptp(values["pred"]), 0.01, 0.99)
    labels = (values["pred"] > values["pred"].mean()).astype(int)
    expected = -np.mean(labels * np.log(proba) + (1 - labels) * np.log(1 - proba))
    assert values["ll"] == pytest.approx(expected)
    assert values["zo"] == pytest.approx(np.mean((proba > 0.5) != labels))


X3 = np.arange(40.0).reshape(20, 2)[:3]


@pytest.mark.parametrize(("definition", "call", "expected"), [
    # a wrapper that serves the model
    ("def predict(frame):\n    return m.predict(frame[:, :2])", "served = predict(X[:3])", X3 @ [1.0, 2.0] + 1),
    # a model written from scratch, named predict
    ("w = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)[0]\n"
     "def predict(A):\n    return np.c_[A, np.ones(len(A))] @ w", "y_pred_test = predict(X[:3])", X3 @ [1.0, 2.0] + 1),
    # any name that returns a prediction, here through another such function
    ("def score_rows(A):\n    return m.predict(A)\n\ndef labelled(A):\n    return score_rows(A) > 20",
     "flags = labelled(X[:3])", X3 @ [1.0, 2.0] + 1 > 20),
])
def test_what_a_notebook_function_that_predicts_returns_is_a_target(tmp_path, definition, call, expected):
    name = call.split(" = ")[0]
    plan = analyse(notebook(tmp_path, [
        SETUP, definition + "\n\ndef mse(a, b):\n    return ((a - b) ** 2).mean()",
        f"{call}\nhistory = []\nhistory.append(mse(y, m.predict(X)))",  # a metric of a prediction: none
    ]))
    assert targets(plan, "parity") == [("pred", 0), (name, 2)]
    np.testing.assert_allclose(run(plan)[name], expected)


def test_statsmodels_fits_forecasts_and_prediction_columns_are_targets(tmp_path):
    setup = ("import numpy as np\nimport pandas as pd\nimport statsmodels.formula.api as smf\n"
             "df = pd.DataFrame({'x': np.arange(12.0), 'g': list('ab') * 6})\ndf['y'] = 2 * df.x + (df.g == 'b')\n"
             "df['mean_g'] = df.groupby('g')['y'].transform('mean')\n"  # pandas' transform: no prediction
             "res = smf.ols('y ~ x + C(g)', data=df).fit()")
    plan = analyse(notebook(tmp_path, [
        setup, "new = pd.DataFrame({'x': [20.0, 21.0], 'g': ['a', 'b']})\nnew['pred'] = res.predict(new)\nnew",
    ]))
    assert targets(plan, "parity") == [("new", 1)]  # the frame a prediction is stored in, when nothing else is
    np.testing.assert_allclose(run(plan)["new"]["pred"], [40.0, 43.0], atol=1e-8)
    plan = analyse(notebook(tmp_path, [
        setup, "fitted = res.fittedvalues\nbands = res.get_prediction(df.tail(2)).summary_frame(alpha=0.05)\n"
        "coef = np.polyfit(df.x, df.y, 1)\nyhat = np.polyval(coef, df.x)\nnew = df.tail(2).copy()\n"
        "new['pred'] = res.predict(new)",
    ]))
    assert targets(plan, "parity") == [("fitted", 1), ("bands", 1), ("yhat", 1)]
    values = run(plan)
    np.testing.assert_allclose(values["fitted"], 2 * np.arange(12.0) + np.tile([0, 1], 6), atol=1e-8)
    assert list(values["bands"].columns[:2]) == ["mean", "mean_se"]


def test_a_prediction_only_drawn_on_a_grid_is_no_target_beside_a_real_one(tmp_path):
    grid = ("import matplotlib.pyplot as plt\nxx, yy = np.meshgrid(np.arange(3.0), np.arange(3.0))\n"
            "zz = m.predict(np.c_[xx.ravel(), yy.ravel()])\nzz = zz.reshape(xx.shape)\n"
            "plt.contourf(xx, yy, zz)\nplt.show()")
    assert targets(analyse(notebook(tmp_path, [SETUP, grid])), "parity") == [("pred", 0)]
    alone = SETUP.replace("\npred = m.predict(X)", "")
    assert targets(analyse(notebook(tmp_path, [alone, grid])), "parity") == [("zz", 1)]
