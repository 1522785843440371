"""`nb2prod build` end to end through the real command: layout, table, exit codes, nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT
from tests.nbfactory import write_notebook


def nb2prod(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nb2prod", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_build_writes_the_design_layout_for_every_example(tmp_path):
    out = tmp_path / "gen"
    result = nb2prod("build", "notebooks/", "--out", str(out))
    assert result.returncode == 0, result.stderr
    for name in ("diabetes_regression", "iris_kale", "wine_percent"):
        package = out / name
        assert (package / "CURRENT").read_text() == "v1\n"
        assert {p.name for p in (package / "v1").iterdir()} >= {"__init__.py", "pipeline.py", "manifest.json"}
        manifest = json.loads((package / "v1" / "manifest.json").read_text())
        assert manifest["name"] == name and manifest["version"] == "v1"
        assert manifest["source"].startswith("notebooks/")
        assert set(manifest) >= {
            "created", "source_sha256", "code_sha256", "nb2prod_version", "python_version",
            "packages", "parameters", "steps", "parity_targets", "metrics",
        }
        assert "scikit-learn" in manifest["packages"]
    assert (out / "__init__.py").exists()
    assert "diabetes_regression" in result.stdout and "new" in result.stdout


def test_second_build_is_unchanged(tmp_path):
    out = tmp_path / "gen"
    nb2prod("build", "notebooks/", "--out", str(out))
    before = snapshot(out)
    result = nb2prod("build", "notebooks/", "--out", str(out))
    assert result.returncode == 0
    assert result.stdout.count("unchanged") == 3
    assert snapshot(out) == before


def test_generated_code_is_black_clean(tmp_path):
    out = tmp_path / "gen"
    nb2prod("build", "notebooks/", "--out", str(out))
    check = subprocess.run(
        [sys.executable, "-m", "black", "--check", "--quiet", str(out)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr


def test_committed_generated_folder_is_current():
    result = nb2prod("build", "--check", "notebooks/")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All 3 generated modules are current." in result.stdout


def test_python_dash_m_runs_the_current_version_with_parameters(tmp_path):
    out = tmp_path / "gen"
    nb2prod("build", str(FIXTURES / "notebooks/good/minimal.ipynb"), "--out", str(out))
    run = subprocess.run(
        [sys.executable, "-m", "gen.minimal", "-p", "n", "3", "-p", "scale", "0.5"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "doubled = array([0. , 0.5, 1. ])"
    bad = subprocess.run([sys.executable, "-m", "gen.minimal", "-p", "nope", "1"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown parameter 'nope'; known: n, scale" in bad.stderr


BAD_CASES = [
    ([("a = 1", ["parameters"]), ("b = 2", ["parameters"]), ("x = a", ["step:s"])], "cell 1", "2 cells are tagged 'parameters'"),
    ([("a = f()", ["parameters"]), ("x = a", ["step:s"])], "cell 0, line 1", "is not a literal"),
    ([("x = 1", ["step:my step"])], "cell 0", "is not a Python identifier"),
    ([("x = 1", ["step:s", "after:ghost"])], "cell 0", "'after:ghost' names a step that does not exist"),
    ([("x = 1\n!pip install foo", ["step:s"])], "cell 0, line 2", "shell escape"),
]


@pytest.mark.parametrize(("cells", "where", "reason"), BAD_CASES)
def test_bad_input_exits_2_with_a_located_message_and_writes_nothing(tmp_path, cells, where, reason):
    good = FIXTURES / "notebooks/good/minimal.ipynb"
    bad = write_notebook(tmp_path, cells, name="bad.ipynb")
    out = tmp_path / "gen"
    out.mkdir()
    (out / "keep.txt").write_text("untouched")
    before = snapshot(out)
    result = nb2prod("build", str(good), str(bad), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"bad.ipynb, {where}" in result.stderr and reason in result.stderr
    assert snapshot(out) == before  # the good notebook was not written either


def test_missing_path_and_empty_folder_are_usage_errors(tmp_path):
    assert nb2prod("build", str(tmp_path / "nope.ipynb"), cwd=tmp_path).returncode == 2
    (tmp_path / "empty").mkdir()
    result = nb2prod("build", str(tmp_path / "empty"), "--out", str(tmp_path / "g"), cwd=tmp_path)
    assert result.returncode == 2 and "no notebooks found" in result.stderr
    assert not (tmp_path / "g").exists()


def test_checkpoints_are_skipped(tmp_path):
    folder = tmp_path / "nbs"
    (folder / ".ipynb_checkpoints").mkdir(parents=True)
    write_notebook(folder, [("x = 1", ["step:s", "parity:x"])], name="a.ipynb")
    write_notebook(folder / ".ipynb_checkpoints", [("x = (", ["step:s"])], name="a-checkpoint.ipynb")
    result = nb2prod("build", str(folder), "--out", str(tmp_path / "g"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "g").iterdir() if p.name[0] != ".") == ["__init__.py", "a"]


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom nb2prod.cli import cli\n"
        "CliRunner().invoke(cli, ['--help'])\n"
        "heavy = {'papermill', 'nbconvert', 'jupyter_client', 'black', 'pandas', 'sklearn', 'numpy'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert result.stdout.strip() == "[]", result.stderr


def test_build_check_on_a_current_tree_does_not_import_black_or_kernels(tmp_path):
    out = tmp_path / "gen"
    nb2prod("build", "notebooks/", "--out", str(out))
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom nb2prod.cli import cli\n"
        f"r = CliRunner().invoke(cli, ['build', '--check', 'notebooks/', '--out', {str(out)!r}])\n"
        "heavy = {'papermill', 'nbconvert', 'jupyter_client', 'black', 'pandas', 'sklearn'}\n"
        "print(r.exit_code, sorted(heavy & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip() == "0 []", result.stderr


def test_the_command_ends_without_teardown_with_its_output_and_exit_code_whole(tmp_path):
    """`nb2prod build` skips the interpreter's teardown (``cli._shared.skip_teardown``): every line
    of a long listing is still written, to a pipe, and the exit code is the build's."""
    folder = tmp_path / "many"
    folder.mkdir()
    for k in range(25):
        write_notebook(folder, [(f"n = {k}", ["parameters"]), ("y = n * 2", ["step:double", "parity:y"])], name=f"nb_{k:02d}.ipynb")
    built = nb2prod("build", str(folder), "--out", str(tmp_path / "gen"))
    assert built.returncode == 0, built.stderr
    lines = built.stdout.strip().splitlines()
    assert len(lines) == 27 and lines[0].startswith("module") and lines[-1] == "25 notebooks: 25 new."
    assert len(list((tmp_path / "gen").glob("nb_*/v1/pipeline.py"))) == 25
    stale = nb2prod("build", "--check", str(folder), "--out", str(tmp_path / "elsewhere"))
    assert stale.returncode == 1 and stale.stdout.count("stale: never built") == 25
