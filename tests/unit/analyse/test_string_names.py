"""Names read inside strings: pandas ``@name`` expressions and formulas (analyse/string_names.py)."""

from __future__ import annotations

import ast

from nb2prod.analyse.names import statement_events
from nb2prod.analyse.planner import analyse
from nb2prod.analyse.string_names import string_reads
from nb2prod.read.notebook import load_notebook
from tests.nbfactory import run_built, write_notebook


def reads_of(code: str) -> list[tuple[str, bool]]:
    call = ast.parse(code).body[0].value  # type: ignore[attr-defined]
    return string_reads(call)


def test_at_names_in_query_and_eval_strings_are_reads():
    assert reads_of("df.query('x > @cutoff and y < @hi.max()')") == [("cutoff", False), ("hi", False)]
    assert reads_of("df.eval(expr='z = x * @k')") == [("k", False)]
    assert reads_of("pd.eval('@a + @b')") == [("a", False), ("b", False)]
    assert reads_of("df.query(text)") == [] and reads_of("eval('@a')") == []


def test_a_formula_reads_the_names_it_calls_but_not_columns_or_patsy_helpers():
    got = reads_of("smf.ols('y ~ sq(x) + np.log(x) + C(g) + I(x ** 2) + standardize(z)', data=df)")
    assert got == [("sq", True), ("np", True)]
    assert reads_of("sm.OLS.from_formula(formula='y ~ f(x)', data=df)") == [("f", True)]
    assert reads_of("patsy.dmatrices('y ~ log(x)', df)") == [("log", True)]


def test_a_statement_emits_the_string_reads_after_the_call_arguments():
    events = statement_events(ast.parse("sub = df.query('x > @cutoff')").body[0])
    assert [(e.kind, e.name) for e in events if e.kind == "read"] == [("read", "df"), ("read", "cutoff")]


def test_a_parameter_read_only_by_a_query_is_passed_to_the_step(tmp_path):
    cells = [
        ("import pandas as pd", []),
        ("threshold = 2", ["parameters"]),
        ("df = pd.DataFrame({'x': [1, 2, 3, 4]})", ["step:data"]),
        ("cutoff = 3\nsub = df.query('x >= @threshold and x < @cutoff')\nn = len(sub)",
         ["step:model", "metric:n"]),
    ]
    plan = analyse(load_notebook(write_notebook(tmp_path, cells), root=tmp_path))
    model = next(s for s in plan.steps if s.name == "model")
    assert "threshold" in model.inputs and "cutoff = 3  # noqa: F841" in model.code
    assert run_built(tmp_path, cells) == {"n": 1}


def test_a_notebook_function_a_formula_calls_is_an_input_and_numpys_names_need_no_cell(tmp_path):
    cells = [
        ("import numpy as np\nimport pandas as pd\nimport statsmodels.formula.api as smf\nfrom numpy import log", []),
        ("df = pd.DataFrame({'x': np.arange(1.0, 11.0)})\ndf['y'] = 3 * df.x ** 2 + 1\n"
         "def sq(v):\n    return v ** 2", ["step:data"]),
        ("res = smf.ols('y ~ sq(x) + log(x) + center(x)', data=df).fit()\n"
         "r2 = round(float(res.rsquared), 6)", ["step:model", "metric:r2"]),
    ]
    plan = analyse(load_notebook(write_notebook(tmp_path, cells), root=tmp_path))
    model = next(s for s in plan.steps if s.name == "model")
    assert set(model.inputs) == {"df", "sq"}
    assert run_built(tmp_path, cells) == {"r2": 1.0}


def test_a_name_only_a_formula_calls_and_no_cell_binds_is_no_error(tmp_path):
    cells = [
        ("import pandas as pd\nimport statsmodels.formula.api as smf", []),
        ("df = pd.DataFrame({'x': [1.0, 2.0, 3.0, 4.0], 'y': [1.0, 2.0, 2.5, 4.5]})\n"
         "res = smf.ols('y ~ unknown_fn(x)', data=df)", ["step:model"]),
    ]
    plan = analyse(load_notebook(write_notebook(tmp_path, cells), root=tmp_path))
    assert plan.steps[0].inputs == ()


def test_an_import_only_a_formula_uses_tells_linters_so(tmp_path):
    """``np`` used only inside ``"y ~ np.log(x)"`` stays, marked for ruff's F401 (which cannot see
    into the string); an import the code uses is not marked."""
    cells = [
        ("import numpy as np\nimport pandas as pd\nimport statsmodels.formula.api as smf", []),
        ("df = pd.DataFrame({'x': [1.0, 2.0, 3.0, 4.0], 'y': [1.0, 2.1, 2.9, 4.2]})\n"
         "res = smf.ols('y ~ np.log(x)', data=df).fit()\nfitted = res.predict(df)",
         ["step:model", "parity:fitted"]),
    ]
    plan = analyse(load_notebook(write_notebook(tmp_path, cells), root=tmp_path))
    assert sorted(plan.header.splitlines()) == [
        "import numpy as np  # noqa: F401 (named only in a string or comment)",
        "import pandas as pd",
        "import statsmodels.formula.api as smf",
    ]
    assert len(run_built(tmp_path, cells)["fitted"]) == 4
