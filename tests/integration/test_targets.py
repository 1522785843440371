"""Parity targets of any type through a real kernel and a real pipeline (issue 14, item 4)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

pytestmark = pytest.mark.kernel


def nb2prod(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nb2prod", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def project(tmp_path: Path, *names: str) -> Path:
    for name in names:
        shutil.copy(FIXTURES / "notebooks" / "targets" / name, tmp_path / name)
    built = nb2prod("build", *names, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    return tmp_path


def test_a_fitted_model_a_polars_frame_and_a_sparse_matrix_pass(tmp_path):
    pytest.importorskip("polars")
    root = project(tmp_path, "any_type.ipynb")
    result = nb2prod("test", "any_type.ipynb", "-p", "depth", "2", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED: 1 passed, 0 failed" in result.stdout
    for name in ("model", "table", "onehot"):
        assert name in result.stdout


def test_torch_tensors_are_compared_not_crashed_on(tmp_path):
    pytest.importorskip("torch")
    root = project(tmp_path, "tensor.ipynb")
    result = nb2prod("test", "tensor.ipynb", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "Tensor float32 (4, 3)" in result.stdout


def test_a_value_that_does_not_pickle_is_a_clear_verdict_for_that_target(tmp_path):
    root = project(tmp_path, "unpicklable.ipynb")
    xml = tmp_path / "r.xml"
    result = nb2prod("test", "unpicklable.ipynb", "--junit-xml", str(xml), cwd=root)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "Traceback" not in out
    assert "does not pickle" in out
    cases = {c.get("name"): c for c in ET.parse(xml).getroot().iter("testcase")}
    assert cases["defaults::doubled"].find("failure") is None  # the other target still compared
    failure = cases["defaults::scale"].find("failure")
    assert failure is not None and "cannot be compared" in failure.get("message")
    assert not list((tmp_path / "runs" / "unpicklable").glob("*-rerun.ipynb"))  # nothing to re-run
