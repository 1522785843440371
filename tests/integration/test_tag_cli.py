"""Notebooks with no nb2prod tags, end to end: `nb2prod tag [--write]`, `build` saying what it
inferred, parity on the inferred targets (a real kernel), and the generated main()'s package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from tests.conftest import FIXTURES, ROOT

UNTAGGED = FIXTURES / "notebooks" / "untagged"


def nb2prod(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{cwd}"}
    return subprocess.run(
        [sys.executable, "-m", "nb2prod", *args], cwd=cwd, capture_output=True, text=True,
        timeout=600, env=env,
    )


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    shutil.copytree(UNTAGGED, tmp_path / "untagged")
    return tmp_path


def test_tag_prints_the_inferred_tags_and_writes_nothing(project):
    path = project / "untagged" / "diabetes_headings.ipynb"
    before = path.read_bytes()
    result = nb2prod("tag", "untagged/diabetes_headings.ipynb", cwd=project)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()[:2].strip().isdigit()}
    assert "step:load_data" in rows["4"] and "heading '1. Load the data' (cell 3)" in rows["4"]
    assert "skip" in rows["6"] and "plots or shows values only" in rows["6"]
    assert "parity:y_pred" in rows["9"] and "metric:r2" in rows["12"]
    assert "parameters" in rows["2"] and "explicit" in rows["2"]
    assert "Run again with --write" in result.stdout
    assert path.read_bytes() == before


def test_tag_write_changes_tags_only_and_then_the_notebook_is_explicit(project):
    path = project / "untagged" / "diabetes_headings.ipynb"
    old = nbformat.read(path, as_version=4)
    result = nb2prod("tag", "untagged/diabetes_headings.ipynb", "--write", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "Wrote tags into 9 cells of untagged/diabetes_headings.ipynb." in result.stdout
    new = nbformat.read(path, as_version=4)
    assert [c.source for c in new.cells] == [c.source for c in old.cells]
    assert [c.get("outputs") for c in new.cells] == [c.get("outputs") for c in old.cells]
    assert new.cells[5].outputs[0]["data"]["text/plain"] == "(442, 10)"  # a kept output
    assert new.cells[2].metadata["tags"] == ["parameters"]  # its own tag, unchanged
    assert new.cells[4].metadata["tags"] == ["step:load_data"]
    assert new.cells[11].metadata["tags"] == ["step:evaluate", "metric:mae"]
    again = nb2prod("tag", "untagged/diabetes_headings.ipynb", "--write", cwd=project)
    assert "has step tags (evaluate, load_data, train_model), so nb2prod infers nothing" in again.stdout
    assert nbformat.read(path, as_version=4) == new


def test_tag_write_on_percent_and_plain_scripts_adds_headers_only(project):
    gallery = project / "untagged" / "wine_gallery.py"
    old = jupytext.read(gallery)
    assert nb2prod("tag", "untagged/wine_gallery.py", "--write", cwd=project).returncode == 0
    text = gallery.read_text()
    assert '# %% tags=["step:load_data"]\nfrom sklearn.datasets import load_wine' in text
    assert '# %% tags=["step:fit_scaled_model", "parity:X_test_scaled", "parity:proba"]\n# Fit' in text
    assert "# %%\n# A look at the classes" in text and "#| skip\n" in text  # its own directive wins
    assert [c.source for c in jupytext.read(gallery).cells] == [c.source for c in old.cells]

    script = project / "untagged" / "plain_script.py"
    code = script.read_text()
    assert nb2prod("tag", "untagged/plain_script.py", "--write", cwd=project).returncode == 0
    assert script.read_text() == '# %% tags=["step:plain_script", "parity:x"]\n' + code  # its final value


def test_tag_of_a_missing_file_is_bad_input(project):
    result = nb2prod("tag", "nope.ipynb", cwd=project)
    assert result.returncode == 2 and result.stderr.startswith("Error: nope.ipynb: no such file.")


def test_test_without_out_says_where_it_looked(project):
    assert nb2prod("build", "untagged/no_tags.ipynb", "--out", "elsewhere", cwd=project).returncode == 0
    result = nb2prod("test", "untagged/no_tags.ipynb", cwd=project)
    assert result.returncode == 1
    flat = " ".join(result.stdout.split())
    assert f"never built: no no_tags/CURRENT in {project / 'generated'}" in flat
    assert "pass the same --out to `nb2prod test`" in flat


def test_the_untagged_real_corpus_builds_untouched(tmp_path):
    real = FIXTURES / "notebooks" / "real" / "untagged"
    shutil.copytree(real, tmp_path / "real")
    scripts = [f"real/{p.name}" for p in real.glob("*.py") if "# %%" not in p.read_text()]
    built = nb2prod("build", "real/", *scripts, "--out", "gen", cwd=tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr
    notebooks = sorted(p.name for p in real.iterdir() if p.suffix in (".ipynb", ".py"))
    assert len(notebooks) >= 5
    for name in notebooks:
        assert f"real/{name}: inferred step" in built.stdout, name


@pytest.mark.kernel
def test_untagged_notebooks_build_and_pass_parity_untouched(project):
    paths = ("untagged/", "untagged/plain_script.py")  # a folder walk skips plain scripts
    built = nb2prod("build", *paths, "--out", "gen", cwd=project)
    assert built.returncode == 0, built.stderr
    assert (
        "untagged/diabetes_headings.ipynb: inferred steps load_data, train_model, evaluate "
        "(from headings); parity y_pred; metrics mae, r2; skipped cells 5, 6, 13"
    ) in built.stdout
    assert "untagged/plain_script.py: inferred step plain_script (a plain script); parity x." in built.stdout
    tested = nb2prod("test", *paths, "--out", "gen", cwd=project)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "PASSED: 4 passed (1 with nothing compared), 0 failed" in tested.stdout
    for target in ("y_pred", "mae", "r2", "X_test_scaled", "proba", "accuracy"):
        assert any(target in line and "passed" in line for line in tested.stdout.splitlines()), target

    # the generated main() names the package it was built into, and widens an int parameter
    run = subprocess.run(
        [sys.executable, "-m", "gen.diabetes_headings", "-p", "test_size", "0.5"], cwd=project,
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{project}"},
    )
    assert run.returncode == 0, run.stderr
    assert "y_pred = array(" in run.stdout and "r2 = 0.427998877" in run.stdout
    usage = subprocess.run(
        [sys.executable, "-m", "gen.no_tags", "-p", "x", "1"], cwd=project, capture_output=True,
        text=True, timeout=300, env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{project}"},
    )
    assert "usage: python -m gen.no_tags" in usage.stderr
    assert "known: none (this notebook has no parameters cell)" in usage.stderr
