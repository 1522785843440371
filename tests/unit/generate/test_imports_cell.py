"""Issue 15 item 2: imports are imports; importing a generated module has no side effects."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nb2prod.store.build import build
from tests.nbfactory import write_notebook

SETUP = (
    "import os\nimport random\nimport warnings\nimport numpy as np\nimport pandas as pd\n"
    "import matplotlib.pyplot as plt\nimport seaborn as sns\nimport json\n"
    "np.random.seed(42)\nrandom.seed(42)\nos.makedirs('images', exist_ok=True)\n"
    "warnings.filterwarnings('ignore')\npd.options.display.max_columns = 50\n"
    "pd.set_option('display.width', 120)\nplt.style.use('ggplot')\nsns.set_theme()\n"
    "print('setting up')\nSCALE = 2.0\n\ndef double(v):\n    return v * SCALE\n"
)


def built(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    path = write_notebook(project, [
        (SETUP, ["imports"]),
        ("values = np.random.rand(3)\npick = random.random()\ntotal = float(double(values).sum()) + pick",
         ["step:make", "parity:total"]),
    ])
    report = build([path], project / "gen", root=project)
    assert report.exit_code == 0
    return project


def test_the_header_holds_used_imports_only_and_configuration_moves_into_run(tmp_path):
    project = built(tmp_path)
    version = project / "gen" / "nb" / "v1"
    source = (version / "pipeline.py").read_text()
    header = source.split("PARAMETERS")[0]
    assert "import matplotlib" not in source and "seaborn" not in source and "import json" not in header
    assert "np.random.seed(42)" not in header and "setting up" not in source and "style.use" not in source
    run = source.split("def run(")[1]
    for config in ("np.random.seed(42)", "random.seed(42)", 'os.makedirs("images", exist_ok=True)',
                   'warnings.filterwarnings("ignore")', "pd.options.display.max_columns = 50",
                   'pd.set_option("display.width", 120)'):
        assert config in run, config
    assert source.index("def double(") > source.index("import pandas")  # a definition: functions part
    manifest = json.loads((version / "manifest.json").read_text())
    assert "seaborn" not in manifest["packages"] and "matplotlib" not in manifest["packages"]
    requirements = (version / "requirements.txt").read_text() if (version / "requirements.txt").exists() else ""
    assert "seaborn" not in requirements and "matplotlib" not in requirements


def test_importing_the_module_writes_nothing_prints_nothing_and_leaves_random_state(tmp_path):
    project = built(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    probe = (
        "import random, sys, pickle\nimport numpy as np\n"
        f"sys.path.insert(0, {str(project)!r})\n"
        "before = (random.getstate(), np.random.get_state()[1].tolist())\n"
        "import gen.nb\n"
        "after = (random.getstate(), np.random.get_state()[1].tolist())\n"
        "sys.stderr.write('SAME' if before == after else 'CHANGED')\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=empty, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.endswith("SAME")
    assert list(empty.iterdir()) == []
    # run() does what the imports cell did, in the notebook's order: seeded draws, the folder
    ran = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(project)!r}); import gen.nb as m; "
         "print(repr(m.run()['total']))"],
        cwd=empty, capture_output=True, text=True, timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    import random

    import numpy as np

    np.random.seed(42)
    random.seed(42)
    expected = float((np.random.rand(3) * 2.0).sum()) + random.random()
    assert float(ran.stdout) == expected and (empty / "images").is_dir()
