"""Versions through the real command: unchanged, stale, rollback, verify, diff, lineage, pre-commit hook."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from click.testing import CliRunner, Result

from nb2prod.cli import cli
from tests.conftest import ROOT
from tests.nbfactory import write_notebook

CELLS = [
    ("import numpy as np", ["imports"]),
    ("n = 5\nscale = 2.0", ["parameters"]),
    ("values = np.arange(n, dtype=float)", ["step:make"]),
    ("doubled = values * scale", ["step:double", "parity:doubled"]),
]


def nb2prod(*args: str | Path) -> Result:
    """The real CLI in-process (fast); exit codes and stdout/stderr as the shell sees them."""
    return CliRunner().invoke(cli, [str(a) for a in args])


def shell(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nb2prod", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture()
def project(tmp_path: Path) -> tuple[Path, Path]:
    """A notebooks/ folder with calc.ipynb, and the gen/ folder it builds into."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder, CELLS, name="calc.ipynb")
    return folder / "calc.ipynb", tmp_path / "gen"


def edit(notebook: Path, index: int, source: str) -> None:
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[index].source = source
    nbformat.write(nb, notebook)


def row(output: str, name: str) -> list[str]:
    """The cells of the build table's row for module ``name``."""
    line = next(line for line in output.splitlines() if f" {name} " in line)
    return [cell.strip() for cell in line.replace("┃", "│").split("│")]


def test_building_twice_makes_one_version_and_says_unchanged_v1(project):
    notebook, out = project
    first = nb2prod("build", notebook, "--out", out)
    assert first.exit_code == 0, first.output
    assert row(first.stdout, "calc")[-2:] == ["v1", "new"]
    second = nb2prod("build", notebook, "--out", out)
    assert second.exit_code == 0
    assert row(second.stdout, "calc")[-2:] == ["v1", "unchanged"]
    assert sorted(p.name for p in (out / "calc").iterdir() if p.name.startswith("v")) == ["v1"]


def test_editing_an_exported_cell_is_stale_until_rebuilt_as_v2(project):
    notebook, out = project
    nb2prod("build", notebook, "--out", out)
    assert nb2prod("build", "--check", notebook, "--out", out).exit_code == 0
    edit(notebook, 3, "doubled = values * scale + 1")
    check = nb2prod("build", "--check", notebook, "--out", out)
    assert check.exit_code == 1
    assert "stale: exported code changed since v1" in check.stdout
    assert "1 of 1 generated modules are stale" in check.stdout
    assert not (out / "calc" / "v2").exists()  # --check writes nothing
    rebuilt = nb2prod("build", notebook, "--out", out)
    assert row(rebuilt.stdout, "calc")[-2:] == ["v2", "updated"]
    assert (out / "calc" / "CURRENT").read_text() == "v2\n"
    assert nb2prod("build", "--check", notebook, "--out", out).exit_code == 0


def test_parameter_changes_and_never_built_are_named_by_check(project):
    notebook, out = project
    never = nb2prod("build", "--check", notebook, "--out", out)
    assert never.exit_code == 1 and "stale: never built" in never.stdout
    nb2prod("build", notebook, "--out", out)
    edit(notebook, 1, "n = 6\nscale = 2.0")
    check = nb2prod("build", "--check", notebook, "--out", out)
    assert check.exit_code == 1 and "stale: parameters changed since v1" in check.stdout


def test_reexecuting_the_notebook_is_not_a_change(project):
    notebook, out = project
    nb2prod("build", notebook, "--out", out)
    before = notebook.read_bytes()
    nb = nbformat.read(notebook, as_version=4)
    for count, cell in enumerate(nb.cells, 1):
        cell.execution_count = count
        cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": repr(count)},
                                               execution_count=count)]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.metadata["kernelspec"]["display_name"] = "Python 3 (ipykernel)"
    nbformat.write(nb, notebook)
    assert notebook.read_bytes() != before  # so the build cannot take the same-bytes shortcut
    assert nb2prod("build", "--check", notebook, "--out", out).exit_code == 0
    result = nb2prod("build", notebook, "--out", out)
    assert row(result.stdout, "calc")[-2:] == ["v1", "unchanged"]
    assert not (out / "calc" / "v2").exists()


def test_rollback_makes_import_run_the_old_code(project):
    notebook, out = project
    nb2prod("build", notebook, "--out", out)
    edit(notebook, 3, "doubled = values * scale * 10")
    nb2prod("build", notebook, "--out", out)
    code = "import gen.calc as m; print(m.__version__, m.run(n=2)['doubled'].tolist())"

    def imported() -> str:  # a fresh interpreter, so nothing is cached from before the rollback
        done = subprocess.run([sys.executable, "-c", code], cwd=out.parent, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert imported() == "v2 [0.0, 20.0]"
    result = nb2prod("rollback", "calc", "v1", "--out", out)
    assert result.exit_code == 0 and "current version is now v1 (was v2)" in result.stdout
    assert imported() == "v1 [0.0, 2.0]"
    assert sorted(p.name for p in (out / "calc").glob("v*")) == ["v1", "v2"]
    versions = nb2prod("versions", "calc", "--out", out)
    assert [line.split()[0] for line in versions.stdout.splitlines() if line.strip().endswith("*")] == ["v1"]


def test_rollback_to_an_unknown_version_exits_2_without_a_traceback(project):
    notebook, out = project
    nb2prod("build", notebook, "--out", out)
    result = shell("rollback", "calc", "v9", "--out", out)
    assert result.returncode == 2
    assert "no version 'v9' of 'calc' (versions: v1)" in result.stderr
    assert "Traceback" not in result.stderr
    unknown = shell("rollback", "nope", "v1", "--out", out)
    assert unknown.returncode == 2 and "no generated module 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    assert (out / "calc" / "CURRENT").read_text() == "v1\n"


def test_verify_passes_a_clean_tree_and_names_a_hand_edited_file(project):
    notebook, out = project
    nb2prod("build", notebook, "--out", out)
    edit(notebook, 3, "doubled = values * scale + 1")
    nb2prod("build", notebook, "--out", out)
    clean = nb2prod("verify", out)
    assert clean.exit_code == 0 and clean.stdout.strip() == "2 versions of 1 module verified."
    pipeline = out / "calc" / "v1" / "pipeline.py"
    pipeline.write_text(pipeline.read_text().replace("values * scale", "values * scale * 3"))
    result = shell("verify", out)
    assert result.returncode == 1
    assert f"{pipeline}: edited by hand" in result.stdout
    assert "v2" not in result.stdout.split("\n")[0]  # only the edited file is named


def test_diff_shows_the_changed_line_and_the_parameter_change(project):
    notebook, out = project
    nb2prod("build", notebook, "--out", out)
    edit(notebook, 1, "n = 7\nscale = 2.0")
    edit(notebook, 3, "doubled = values * scale + 1")
    nb2prod("build", notebook, "--out", out)
    result = nb2prod("diff", "calc", "v1", "v2", "--out", out)
    assert result.exit_code == 0, result.output
    assert "parameter n: default 5 -> 7" in result.stdout
    assert "--- calc/v1/pipeline.py" in result.stdout and "+++ calc/v2/pipeline.py" in result.stdout
    assert "-    doubled = values * scale\n" in result.stdout
    assert "+    doubled = values * scale + 1\n" in result.stdout
    assert "\x1b[" not in result.stdout  # piped: plain text
    bad = nb2prod("diff", "calc", "v1", "v5", "--out", out)
    assert bad.exit_code == 2 and "no version 'v5'" in bad.stderr


def test_manifest_records_data_files_read_relative_to_the_notebook(tmp_path):
    folder = tmp_path / "notebooks"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "train.csv").write_text("x\n1\n2\n")
    notebook = write_notebook(folder, [
        ("import pandas as pd\nfrom sklearn.linear_model import LinearRegression", ["imports"]),
        # `keep`: nothing needs `old`, and the slice would drop its read (issue 15)
        ("df = pd.read_csv('data/train.csv')\nold = pd.read_csv('data/gone.csv')", ["step:load", "keep"]),
        ("total = int(df['x'].sum()) + len(LinearRegression().get_params())", ["step:sum", "parity:total"]),
    ], name="lineage.ipynb")
    result = shell("build", notebook, "--out", tmp_path / "gen", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "reads 'data/gone.csv', which does not exist" in " ".join(result.stderr.split())
    version = tmp_path / "gen" / "lineage" / "v1"
    manifest = json.loads((version / "manifest.json").read_text())
    train, gone = manifest["data_files"]
    assert (train["path"], train["resolved"], train["size"]) == (
        "data/train.csv", "notebooks/data/train.csv", 6)
    assert len(train["sha256"]) == 64
    assert (gone["path"], gone["missing"]) == ("data/gone.csv", True)
    assert set(manifest["packages"]) == {"pandas", "scikit-learn"}
    requirements = (version / "requirements.txt").read_text().splitlines()
    assert f"scikit-learn=={manifest['packages']['scikit-learn']}" in requirements
    assert f"pandas=={manifest['packages']['pandas']}" in requirements


def test_pre_commit_hook_runs_build_check_on_notebooks():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "nb2prod-check")
    assert hook["entry"] == "nb2prod build --check" and hook["language"] == "python"
    assert hook["pass_filenames"] is False and hook["args"] == ["notebooks/"]
    import re

    pattern = re.compile(hook["files"])
    assert pattern.search("notebooks/churn.ipynb") and pattern.search("notebooks/wine.py")
    assert not pattern.search("README.md")
