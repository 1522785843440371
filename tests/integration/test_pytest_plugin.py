"""`pytest --nb2prod` collects notebook x parameter set items; the mismatch is the failure message."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

pytestmark = pytest.mark.kernel


def test_plugin_collects_cases_and_reports_the_mismatch(tmp_path: Path) -> None:
    for name in ("good/minimal.ipynb", "divergent/rescaled_in_skip.ipynb"):
        shutil.copy(FIXTURES / "notebooks" / name, tmp_path / Path(name).name)
    (tmp_path / "untagged.ipynb").write_text(
        (FIXTURES / "notebooks/good/minimal.ipynb").read_text().replace('"step:', '"nostep:')
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.nb2prod]\nout = "gen"\nparameter_sets = { minimal = [{ n = 3 }] }\n'
    )
    build = subprocess.run(
        [sys.executable, "-m", "nb2prod", "build", "minimal.ipynb", "rescaled_in_skip.ipynb"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nb2prod", "-p", "no:cacheprovider", "-v", "--color=no",
         "-W", "ignore::DeprecationWarning", "minimal.ipynb", "rescaled_in_skip.ipynb", "untagged.ipynb"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    out = result.stdout
    assert result.returncode == 1, out
    assert "minimal.ipynb::defaults PASSED" in out
    assert "minimal.ipynb::n=3 PASSED" in out
    assert "rescaled_in_skip.ipynb::defaults FAILED" in out
    assert "y_pred: values differ" in out and "differing elements: 111 of 111" in out
    assert "diverged: a second notebook run with the same parameters reproduced the first" in out
    assert "collected 3 items" in out  # the notebook without step tags is not collected
    assert "1 failed, 2 passed" in out
