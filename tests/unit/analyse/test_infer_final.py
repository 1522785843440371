"""Final values as targets of a notebook that predicts and scores nothing (an analysis), and what
is never one: models, groupbys, generators, test result objects, parameters, values read later."""

from __future__ import annotations

import pandas as pd
import pytest

from nb2prod.analyse.infer import infer
from nb2prod.analyse.planner import analyse
from tests.unit.analyse.test_infer import notebook
from tests.unit.analyse.test_infer_targets import run

LOAD = (
    "import numpy as np\nimport pandas as pd\nfrom scipy import stats\nimport statsmodels.formula.api as smf\n"
    "rng = np.random.default_rng(0)\n"
    "df = pd.DataFrame({'store': list('abc') * 8, 'x': np.arange(24.0)})\n"
    "df['visits'] = 3 * df.x + (df.store == 'b') * 5 + rng.normal(0, 1, 24)"
)


def parity(nb) -> list[tuple[str, int, str]]:
    plan = analyse(nb)
    return [(t.name, t.cell) for t in plan.parity_targets]


def test_the_last_sections_unread_data_values_are_the_targets_and_compare(tmp_path):
    nb = notebook(tmp_path, [
        ("md", "## Load"), LOAD,
        ("md", "## Compare stores"),
        "r, p_value = stats.pearsonr(df.x, df.visits)\nsummary = df.pivot_table(index='store', values='visits')",
        ("md", "## Model"),
        "fit = smf.ols('visits ~ x + C(store)', data=df).fit()\n"  # a model: never
        "by_store = df.groupby('store')\n"  # a groupby: parity cannot compare it
        "test = stats.ttest_ind(df.visits[:12], df.visits[12:])\n"  # a result object
        "alpha = 0.05\n"  # a parameter, not a result
        "handle = open(__file__) if False else None\n"
        "params = fit.params\nlevel = df.visits.rolling(3).mean()\n"
        "per_store = by_store.visits.mean() * 2\nlift = (level.iloc[-1] - level.iloc[2]) / 2\n"
        "p = test.pvalue\nlevel",
    ])
    found = infer(nb)
    assert found.reasons[5].count("final value") == 3
    plan = analyse(nb)
    # at most three, the last ones; `level` is read by `lift`, `params` is one of four
    assert [(t.name, t.cell) for t in plan.parity_targets] == [("per_store", 5), ("lift", 5), ("p", 5)]
    values = run(plan)
    assert isinstance(values["per_store"], pd.Series) and list(values["per_store"].index) == ["a", "b", "c"]
    assert values["lift"] == pytest.approx(3 * 21 / 2, rel=0.1) and 0 <= values["p"] <= 1


def test_a_section_with_no_final_value_hands_over_to_the_one_before(tmp_path):
    nb = notebook(tmp_path, [
        ("md", "## Load"), LOAD,
        ("md", "## Compare"), "summary = df.pivot_table(index='store', values='visits')\nsummary",
        ("md", "## Report"), "print(summary.round(2))\nprint(f'{len(summary)} stores')",
    ])
    assert parity(nb) == [("summary", 3)]
    assert run(analyse(nb))["summary"].shape == (3, 1)


def test_no_final_values_beside_a_prediction_or_a_metric(tmp_path):
    nb = notebook(tmp_path, [
        LOAD + "\nfrom sklearn.linear_model import LinearRegression",
        "model = LinearRegression().fit(df[['x']], df.visits)\nscore = model.score(df[['x']], df.visits)\n"
        "summary = df.describe()",
    ])
    plan = analyse(nb)
    assert plan.parity_targets == () and [t.name for t in plan.metric_targets] == ["score"]


def test_a_value_rebound_in_a_loop_later_or_a_model_is_no_final_value(tmp_path):
    nb = notebook(tmp_path, [
        LOAD + "\nfrom sklearn.linear_model import LinearRegression",
        "total = df.visits.sum()\nmodel = LinearRegression()\nfitted = model.fit(df[['x']], df.visits)\n"
        "for total in range(2):\n    pass",
    ])
    assert parity(nb) == []
