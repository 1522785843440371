"""What the backward slice keeps for what it does to the world: file-system calls on paths and
logging stay; display settings, unused local generators and calls that only compute a value go."""

from __future__ import annotations

import ast
from pathlib import Path

from nb2prod.analyse.operational import is_display_setting, is_logging_call
from nb2prod.analyse.planner import analyse
from nb2prod.read.notebook import load_notebook
from tests.nbfactory import run_built, write_notebook


def plan_of(tmp_path: Path, cells):
    return analyse(load_notebook(write_notebook(tmp_path, cells), root=tmp_path))


def code_of(plan) -> str:
    return "\n".join(s.code for s in plan.steps)


def reasons(plan) -> dict[str, str]:
    return {d.code: d.reason for d in plan.dropped}


def test_file_system_calls_on_paths_stay_with_what_they_read(tmp_path):
    cells = [
        ("from pathlib import Path\nimport os\nimport shutil\nimport numpy as np", ["imports"]),
        ('Path("out").mkdir(exist_ok=True)\nroot = Path("r1c")\nroot.mkdir(exist_ok=True)\n'
         '(root / "stamp").touch()\nPath("out/old.txt").unlink(missing_ok=True)\n'
         'Path("out/a.bin").write_bytes(b"x")\nPath("out/a.bin").rename("out/b.bin")\n'
         'shutil.copy("out/b.bin", "out/c.bin")\nos.remove("out/c.bin")\n'
         'df_like = {"a": 1}\ntext = "a-b"\ntext.replace("-", "+")\n'
         'y_pred = np.arange(3.0)\nnp.save("out/pred.npy", y_pred)', ["step:train", "parity:y_pred"]),
    ]
    plan = plan_of(tmp_path, cells)
    code = code_of(plan)
    for kept in ('Path("out").mkdir(exist_ok=True)', 'root = Path("r1c")', "root.mkdir(exist_ok=True)",
                 '(root / "stamp").touch()', "unlink(missing_ok=True)", "write_bytes(", 'rename("out/b.bin")',
                 "shutil.copy(", "os.remove("):
        assert kept in code, kept
    assert "text.replace" not in code and "df_like" not in code  # str.replace takes two arguments
    # a clean checkout: the folder the pipeline writes into is made by the pipeline itself
    assert run_built(tmp_path, cells)["y_pred"].tolist() == [0.0, 1.0, 2.0]
    assert (tmp_path / "r1c" / "stamp").exists() and (tmp_path / "out" / "b.bin").read_bytes() == b"x"


def test_logging_calls_stay_and_the_logger_with_them(tmp_path):
    plan = plan_of(tmp_path, [
        ("import logging\nimport numpy as np\nlog = logging.getLogger('r2')\nlg = logging.getLogger()",
         ["imports"]),
        ('X = np.arange(4.0)\nfor k in range(2):\n    y_pred = X * k\n    log.info("fold %d done", k)\n'
         'logging.info("all folds")\nlg.warning("odd name %s", 1)\nlg.info(f"sum {X.sum()}")\n'
         'logger = logging.getLogger(__name__)\nlogger.debug("done")\nX.mean()',
         ["step:train", "parity:y_pred"]),
    ])
    code = code_of(plan)
    for kept in ('log.info("fold %d done", k)', 'logging.info("all folds")', 'lg.warning("odd name %s", 1)',
                 'lg.info(f"sum {X.sum()}")', "logger = logging.getLogger(__name__)", 'logger.debug("done")'):
        assert kept in code, kept
    assert "X.mean()" not in code
    assert not any("log" in d.code for d in plan.dropped), plan.dropped


def test_logging_is_told_from_display_and_math(tmp_path):
    def call(text: str) -> ast.Call:
        return ast.parse(text).body[0].value  # type: ignore[attr-defined,return-value]

    assert is_logging_call(call('logger.info("x")')) and is_logging_call(call('self.log.error("x")'))
    assert is_logging_call(call('logging.getLogger(__name__).warning("x")'))
    assert is_logging_call(call('lg.info("n=%d", n)')) and is_logging_call(call("lg.info(msg)", ), {"lg"})
    assert not is_logging_call(call("df.info()")) and not is_logging_call(call("np.log(x)"))
    assert not is_logging_call(call("df.info(verbose=True)"))


def test_display_settings_go_and_leave_the_no_target_fallback_alone(tmp_path):
    plan = plan_of(tmp_path, [
        ("import numpy as np\nimport pandas as pd", ["imports"]),
        ("pd.options.display.float_format = '{:.4f}'.format\npd.set_option('display.max_columns', 50)\n"
         "np.set_printoptions(precision=3)\npd.options.mode.copy_on_write = True\n"
         "users = pd.DataFrame({'a': [1, 2]})\nrate = users.a.mean()", ["step:simulate"]),
    ])
    code = code_of(plan)
    assert "display" not in code and "set_printoptions" not in code
    # no target: every value the step leaves is kept, and the non-display option stays
    assert "users = pd.DataFrame" in code and "rate = users.a.mean()" in code
    assert "pd.options.mode.copy_on_write = True" in code
    why = reasons(plan)
    assert why["`pd.options.display.float_format = '{:.4f}'.format`"] == "display setting"
    assert why["`np.set_printoptions(precision=3)`"] == "display setting"
    assert not is_display_setting(ast.parse("pd.set_option('mode.copy_on_write', True)").body[0])


def test_an_unused_local_generator_is_a_dead_store_and_a_global_draw_stays_bare(tmp_path):
    plan = plan_of(tmp_path, [
        ("import numpy as np", ["imports"]),
        ("rng = np.random.default_rng(0)\nnoise = rng.normal(size=5)\nrs = np.random.RandomState(1)\n"
         "np.random.seed(0)\ntheta = np.random.randn(3) * 0.01\nfor i in range(3):\n    theta = theta * 2\n"
         "x = np.random.rand(2)", ["step:train", "parity:x"]),
    ])
    code = code_of(plan)
    assert "rng" not in code and "RandomState" not in code and "noise" not in code
    assert "\nnp.random.randn(3)\n" in f"\n{code}\n" and "theta" not in code
    why = reasons(plan)
    assert why["`theta = np.random.randn(3) * 0.01`"] == (
        "value not used: the name goes, `np.random.randn(3)` stays for what it does")
    assert why["`rng = np.random.default_rng(0)`"].startswith("dead store: rng")


def test_a_bare_call_that_only_computes_goes(tmp_path):
    plan = plan_of(tmp_path, [
        ("from dataclasses import dataclass, asdict\nimport numpy as np", ["imports"]),
        ("def dists(A):\n    return np.array([[np.sqrt(((a - b) ** 2).sum()) for b in A] for a in A])\n\n"
         "def grow(items):\n    items += [1]\n    return items\n\n"
         "def mape(actual, forecast):\n    return float(np.mean(np.abs((actual - forecast) / actual)) * 100)\n\n"
         "@dataclass\nclass Cfg:\n    n: int = 3\n\ncfg = Cfg()\nasdict(cfg)\nX = np.ones((cfg.n, 2))\n"
         "dists(X)\nbag = []\ngrow(bag)\ntest = X[:, 0]\n"
         "scores = {name: mape(test, fc) for name, fc in [('a', test * 2)]}\ny_pred = X.sum(1) + len(bag)",
         ["step:train", "parity:y_pred"]),
    ])
    code = code_of(plan)
    assert "asdict(cfg)" not in code and "dists(X)" not in code and "scores" not in code
    assert "grow(bag)" in code  # `items += [1]` changes the caller's list
    why = reasons(plan)
    assert why["`dists(X)`"] == "result not used" and why["`asdict(cfg)`"] == "result not used"


def test_a_block_that_only_prints_says_so_and_a_score_with_rand_is_no_draw(tmp_path):
    plan = plan_of(tmp_path, [
        ("import numpy as np\nfrom sklearn.metrics import adjusted_rand_score\nDEBUG = False", ["imports"]),
        ("np.random.seed(0)\ny_pred = np.random.rand(3)\nif DEBUG:\n    print(y_pred[:3])\n"
         "for v in y_pred:\n    print(v)\n    y_pred\nprint('ARI', adjusted_rand_score([0, 1], [1, 0]))",
         ["step:train", "parity:y_pred"]),
    ])
    why = reasons(plan)
    assert why["`if DEBUG: ...`"] == "only prints"
    assert why["`for v in y_pred: ...`"] == "only prints or shows values"
    assert why["`print('ARI', adjusted_rand_score([0, 1], [1, 0]))`"] == "only prints"


def test_the_run_log_fixture_keeps_its_folder_and_log_and_drops_its_display_settings():
    fixture = Path(__file__).parents[2] / "fixtures" / "notebooks" / "real" / "untagged" / "slice2_diabetes_runlog.ipynb"
    plan = analyse(load_notebook(fixture, root=fixture.parent))
    code = code_of(plan)
    for kept in ("out.mkdir(exist_ok=True)", '(out / "DONE").touch()', 'log.info("fold %d rmse %.2f"',
                 'log = logging.getLogger("diabetes")', "joblib.dump("):
        assert kept in code, kept
    for gone in ("display", "set_printoptions", "default_rng", "asdict(cfg)", "DEBUG", "rmse(y, y.mean())"):
        assert gone not in code, gone
    assert {d.reason for d in plan.dropped if "display" in d.code} == {"display setting"}
