"""Static randomness hints: which exported calls draw unseeded, read from real signatures and docs."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from nb2prod.analyse.planner import analyse
from nb2prod.analyse.randomness import RandomnessHint, randomness_hints
from nb2prod.read.notebook import load_notebook
from tests.conftest import FIXTURES, NOTEBOOKS, ROOT
from tests.nbfactory import write_notebook

IMPORTS = (
    "import random\nimport numpy as np\nimport pandas as pd\n"
    "from sklearn.ensemble import RandomForestClassifier\n"
    "from sklearn.linear_model import Ridge\nfrom sklearn.svm import SVC\n"
    "from sklearn.model_selection import KFold, StratifiedGroupKFold, train_test_split\n"
    "from sklearn.datasets import make_blobs",
    ["imports"],
)


def hints_for(tmp_path: Path, *cells: object) -> list[RandomnessHint]:
    path = write_notebook(tmp_path, [IMPORTS, *cells])  # type: ignore[list-item]
    return randomness_hints(analyse(load_notebook(path, root=tmp_path)))


def where(hints: list[RandomnessHint]) -> list[tuple[int, int, str]]:
    return [(h.cell, h.line, h.call) for h in hints]


def test_unseeded_forest_names_cell_line_and_the_fix(tmp_path):
    hints = hints_for(
        tmp_path,
        ("X, y = make_blobs(n_samples=40, random_state=1)", ["step:load"]),
        ("n = 3\nmodel = RandomForestClassifier(n_estimators=n)\nmodel.fit(X, y)", ["step:train"]),
    )
    assert where(hints) == [(2, 2, "RandomForestClassifier(n_estimators=n)")]
    (hint,) = hints
    assert hint.location == "nb.ipynb, cell 2, line 2"
    assert "takes random_state (default None) and the call passes none" in hint.what
    assert hint.fix.startswith("pass random_state=0")
    assert hint.seed_fixes
    assert pickle.loads(pickle.dumps(hint)) == hint  # crosses process boundaries with the case


def test_the_fix_names_the_notebooks_seed_parameter(tmp_path):
    hints = hints_for(
        tmp_path,
        ("seed = 7", ["parameters"]),
        ("X, y = make_blobs(n_samples=40)", ["step:load"]),
    )
    assert [h.fix.split(",")[0] for h in hints] == ["pass random_state=seed"]


@pytest.mark.parametrize(
    "code",
    [
        "RandomForestClassifier(random_state=0)",
        "RandomForestClassifier(**options)",  # options = {"random_state": 0}: it carries it
        "RandomForestClassifier(**unknown)",  # a dict nb2prod cannot read may carry it
        "train_test_split(items, shuffle=False)",  # its seed only shuffles
        'SVC(kernel="linear")',  # probability is documented default=False behind 'deprecated'
        "KFold(5, shuffle=False)",
        "StratifiedGroupKFold(5, True, 0)",  # random_state given positionally
        "Ridge(alpha=1.0)",  # its docs: "Used when solver == 'sag' or 'saga'"
        "KFold(5)",  # "When shuffle is True", and shuffle defaults to False
        "SVC(C=1.0, probability=False)",  # "Ignored when probability is False"
        "np.random.default_rng(3).normal(size=2)",
        "df.sample(frac=0.5, random_state=1)",
        "np.random.seed(1)\nnp.random.rand(2)",
        "random.seed(1)\nrandom.shuffle(items)",
        "rng = random.Random(1)\nrng.sample(items, 1)",  # not a DataFrame's .sample
    ],
)
def test_seeded_or_unused_randomness_gives_no_hint(tmp_path, code):
    setup = ("options = {'random_state': 0}\nitems = [1, 2]\nunknown = dict(zip(items, items))\n"
             "df = pd.DataFrame({'a': [1, 2]})")
    assert hints_for(tmp_path, (f"{setup}\n{code}", ["step:a"])) == []


@pytest.mark.parametrize(
    ("code", "call", "seed_fixes"),
    [
        ("Ridge(solver='sag')", "Ridge(solver='sag')", True),
        ("KFold(5, shuffle=True)", "KFold(5, shuffle=True)", True),
        ("StratifiedGroupKFold(5, True)", "StratifiedGroupKFold(5, True)", True),
        ("SVC(probability=True)", "SVC(probability=True)", True),
        ("train_test_split([1, 2, 3, 4], random_state=None)", "train_test_split([1, 2, 3, 4], random_state=None)", True),
        ("np.random.shuffle(items)", "np.random.shuffle(items)", True),
        ("random.choice(items)", "random.choice(items)", True),
        ("df.sample(frac=0.5)", "df.sample(frac=0.5)", True),
        ("rng = np.random.default_rng()", "np.random.default_rng()", False),
        ("rng = random.Random()", "random.Random()", False),
    ],
)
def test_unseeded_draws_are_hinted(tmp_path, code, call, seed_fixes):
    setup = "items = [1, 2]\ndf = pd.DataFrame({'a': [1, 2]})"
    hints = hints_for(tmp_path, (f"{setup}\n{code}", ["step:a"]))
    assert [(h.line, h.call, h.seed_fixes) for h in hints] == [(3, call, seed_fixes)]


def test_names_resolve_through_aliases_and_from_imports(tmp_path):
    path = write_notebook(
        tmp_path,
        [
            ("import numpy.random as npr\nfrom random import shuffle as mix\n"
             "import sklearn.ensemble as ens", ["imports"]),
            ("items = [1, 2]\nmix(items)\nx = npr.rand(3)\nm = ens.ExtraTreesClassifier()", ["step:a"]),
        ],
    )
    hints = randomness_hints(analyse(load_notebook(path, root=tmp_path)))
    assert where(hints) == [
        (1, 2, "mix(items)"), (1, 3, "npr.rand(3)"), (1, 4, "ens.ExtraTreesClassifier()"),
    ]


def test_a_skipped_cell_drawing_first_is_what_seed_cannot_fix(tmp_path):
    hints = hints_for(
        tmp_path,
        ("x = np.arange(4)", ["step:a"]),
        ("np.random.shuffle(x)\nprint(x)", ["skip"]),
        ("model = RandomForestClassifier()", ["step:b"]),
    )
    order = [h for h in hints if not h.seed_fixes]
    assert where(order) == [(2, 1, "np.random.shuffle(x)")]
    assert "cell 2 is not exported but draws from numpy.random's global stream" in order[0].what
    assert "before exported cell 3 does" in order[0].what and "even with --seed" in order[0].what
    assert where([h for h in hints if h.seed_fixes]) == [(3, 1, "RandomForestClassifier()")]


def test_an_exported_seed_between_resets_the_stream(tmp_path):
    hints = hints_for(
        tmp_path,
        ("x = np.arange(4)", ["step:a"]),
        ("np.random.shuffle(x)", ["skip"]),
        ("np.random.seed(0)\nmodel = RandomForestClassifier()", ["step:b"]),
    )
    assert hints == []


def test_a_seed_only_the_notebook_runs_is_named(tmp_path):
    hints = hints_for(
        tmp_path,
        ("np.random.seed(0)", ["skip"]),
        ("noise = np.random.normal(size=3)", ["step:a"]),
    )
    assert where(hints) == [(2, 1, "np.random.normal(size=3)")]
    assert "relies on the `np.random.seed(0)` of cell 1, which is not exported" in hints[0].what
    assert not hints[0].seed_fixes


def test_calls_inside_functions_cells_are_checked(tmp_path):
    hints = hints_for(
        tmp_path,
        ("def make(n):\n    return RandomForestClassifier(n_estimators=n)", ["functions"]),
        ("model = make(5)", ["step:a"]),
    )
    assert where(hints) == [(1, 2, "RandomForestClassifier(n_estimators=n)")]


def test_the_example_notebooks_are_seeded():
    for path in sorted(NOTEBOOKS.iterdir()):
        if path.suffix in (".ipynb", ".py"):
            assert randomness_hints(analyse(load_notebook(path, root=ROOT))) == [], path


def test_the_unseeded_fixture_points_at_its_split_and_forest():
    path = FIXTURES / "notebooks" / "unseeded" / "forest.ipynb"
    hints = randomness_hints(analyse(load_notebook(path, root=ROOT)))
    assert [(h.cell, h.line, h.call.split("(")[0]) for h in hints] == [
        (4, 1, "train_test_split"), (5, 1, "RandomForestClassifier"),
    ]


def test_no_module_is_imported_without_a_call_to_one_of_its_names(tmp_path):
    path = write_notebook(
        tmp_path,
        [
            ("import sklearn.ensemble as ens\nimport matplotlib.pyplot as plt", ["imports"]),
            ("x = [3, 1, 2]\ny = sorted(x)", ["step:a"]),
            ("plt.plot(y)", ["skip"]),  # a skipped plot never makes the build import matplotlib
        ],
    )
    code = (
        "import sys\nfrom pathlib import Path\nfrom nb2prod.analyse.planner import analyse\n"
        "from nb2prod.read.notebook import load_notebook\nfrom nb2prod.analyse.randomness import randomness_hints\n"
        f"print(randomness_hints(analyse(load_notebook(Path({str(path)!r})))))\n"
        "print(sorted({'sklearn', 'matplotlib', 'numpy'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert done.stdout.split() == ["[]", "[]"], done.stderr


def test_a_second_build_answers_from_the_disk_cache_without_importing(tmp_path):
    path = write_notebook(
        tmp_path,
        [
            ("from sklearn.ensemble import RandomForestClassifier", ["imports"]),
            ("model = RandomForestClassifier(n_estimators=3)", ["step:a"]),
        ],
    )
    code = (
        "import sys\nfrom pathlib import Path\nfrom nb2prod.analyse.planner import analyse\n"
        "from nb2prod.read.notebook import load_notebook\nfrom nb2prod.analyse.randomness import randomness_hints\n"
        f"hints = randomness_hints(analyse(load_notebook(Path({str(path)!r}))))\n"
        "print([(h.cell, h.line) for h in hints], 'sklearn' in sys.modules)"
    )
    env = {**os.environ, "NB2PROD_CACHE_DIR": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
            for _ in range(2)]
    assert [r.stdout.strip() for r in runs] == ["[(1, 1)] True", "[(1, 1)] False"], runs[1].stderr
    from nb2prod.analyse.seedable import _CACHE_FORMAT

    assert (tmp_path / "cache" / f"random-state-v{_CACHE_FORMAT}.json").is_file()


# -- issue 14, item 5: randomness outside numpy and random, estimators built indirectly ----------
def test_the_factories_fixture_hints_only_its_two_indirect_estimators():
    """``Cls(**params)`` and ``getattr(module, name)()`` get hints; ``train_test_split(...,
    shuffle=False)`` and ``SVC(kernel="linear")`` (false alarms before) do not."""
    path = FIXTURES / "notebooks" / "unseeded" / "factories.ipynb"
    hints = randomness_hints(analyse(load_notebook(path, root=ROOT)))
    assert [(h.cell, h.line, h.call) for h in hints] == [
        (4, 2, "ExtraTreesClassifier(**params)"),
        (5, 2, "Model(n_estimators=10)"),
    ]
    assert all("random_state" in h.fix and h.seed_fixes for h in hints)


@pytest.mark.parametrize(
    "code, call",
    [
        ("Model = RandomForestClassifier\nm = Model()", "Model()"),  # an alias
        ("m = getattr(sklearn.ensemble, 'RandomForestClassifier')()",
         "getattr(sklearn.ensemble, 'RandomForestClassifier')()"),
        ("p = dict(n_estimators=5)\nm = RandomForestClassifier(**p)", "RandomForestClassifier(**p)"),
        ("m = RandomForestClassifier(**{'random_state': None})",
         "RandomForestClassifier(**{'random_state': None})"),
        ("m = SVC(probability=True)", "SVC(probability=True)"),
    ],
)
def test_indirect_estimators_without_random_state_are_hinted(tmp_path, code, call):
    hints = hints_for(tmp_path, (f"import sklearn.ensemble\n{code}", ["step:a"]))
    assert [h.call for h in hints] == [call]


def test_a_dict_changed_in_place_is_not_trusted(tmp_path):
    code = "p = {'n_estimators': 5}\np['random_state'] = 0\nm = RandomForestClassifier(**p)"
    assert hints_for(tmp_path, (code, ["step:a"])) == []


def test_torch_draws_are_hinted_and_seeding_clears_them(tmp_path):
    hints = hints_for(
        tmp_path,
        ("import torch\nfrom torch import nn", ["imports"]),
        ("w = torch.randn(3).numpy()\nlayer = nn.Linear(3, 2)\nt = torch.empty(2).uniform_()\n"
         "g = torch.randn(3, generator=torch.Generator().manual_seed(1))\nact = nn.ReLU()\n"
         "loader = torch.utils.data.DataLoader(t, shuffle=True)", ["step:net"]),
    )
    assert [(h.line, h.call) for h in hints] == [
        (1, "torch.randn(3)"), (2, "nn.Linear(3, 2)"), (3, "torch.empty(2).uniform_()"),
        (6, "torch.utils.data.DataLoader(t, shuffle=True)"),
    ]
    assert "torch.manual_seed(0)" in hints[0].fix and hints[0].seed_fixes
    seeded = hints_for(
        tmp_path,
        ("import torch", ["imports"]),
        ("torch.manual_seed(0)\nw = torch.randn(3)", ["step:net"]),
    )
    assert seeded == []


def test_a_skipped_torch_draw_before_an_exported_one_is_named(tmp_path):
    hints = hints_for(
        tmp_path,
        ("import torch\ntorch.manual_seed(0)", ["imports"]),
        ("preview = torch.rand(2)", ["skip"]),
        ("w = torch.randn(3)", ["step:net"]),
    )
    assert [h.cell for h in hints] == [2]
    assert "draws from torch's global stream" in hints[0].what and not hints[0].seed_fixes


def test_tensorflow_and_keras_draws_are_hinted_without_importing_them(tmp_path):
    hints = hints_for(
        tmp_path,
        ("import tensorflow as tf\nfrom tensorflow import keras", ["imports"]),
        ("x = tf.random.normal((2,))\ny = tf.random.uniform((2,), seed=1)\n"
         "dense = keras.layers.Dense(4)\nflat = keras.layers.Flatten()\n"
         "init = keras.layers.Dense(4, kernel_initializer=keras.initializers.GlorotUniform(seed=0))",
         ["step:net"]),
    )
    assert [(h.line, h.call) for h in hints] == [(1, "tf.random.normal((2,))"),
                                                 (3, "keras.layers.Dense(4)")]
    assert "keras.utils.set_random_seed(0)" in hints[0].fix
    assert "tensorflow" not in sys.modules
    assert hints_for(tmp_path, ("import tensorflow as tf", ["imports"]),
                     ("tf.random.set_seed(0)\nx = tf.random.normal((2,))", ["step:a"])) == []


@pytest.mark.parametrize(
    ("code", "hinted"),
    [
        ("silhouette_score(X, labels)", False),  # "Used when ``sample_size is not None``"
        ("silhouette_score(X, labels, sample_size=None)", False),
        ("silhouette_score(X, labels, sample_size=50)", True),
        ("silhouette_score(X, labels, sample_size=50, random_state=0)", False),
    ],
)
def test_a_seed_documented_as_used_only_when_a_parameter_is_set(tmp_path, code, hinted):
    setup = ("from sklearn.metrics import silhouette_score\n"
             "X, labels = make_blobs(n_samples=60, random_state=0)")
    hints = hints_for(tmp_path, (f"{setup}\n{code}", ["step:a"]))
    assert [h.line for h in hints] == ([3] if hinted else [])


def test_lightgbm_without_random_state_uses_its_fixed_default_seeds(tmp_path):
    """LightGBM documents None as "default seeds in C++ code are used" (in ``__init__``'s
    docstring, not the class's): runs repeat, so there is nothing to hint."""
    pytest.importorskip("lightgbm")
    code = ("import lightgbm as lgb\nX, y = make_blobs(n_samples=60, random_state=0)\n"
            "clf = lgb.LGBMClassifier(n_estimators=5, subsample=0.8, colsample_bytree=0.8)\n"
            "reg = lgb.LGBMRegressor(n_estimators=5)\n"
            "forest = RandomForestClassifier(n_estimators=5)")
    hints = hints_for(tmp_path, (code, ["step:a"]))
    assert [(h.line, h.call) for h in hints] == [(5, "RandomForestClassifier(n_estimators=5)")]
