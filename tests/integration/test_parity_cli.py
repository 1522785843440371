"""`nb2prod test` and `nb2prod run` end to end: real kernels, real papermill, real pipelines."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

pytestmark = pytest.mark.kernel


def nb2prod(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nb2prod", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the fixture notebooks with their generated code, so runs/ lands in a temp folder."""
    root = tmp_path_factory.mktemp("project")
    for kind in ("divergent", "broken", "good"):
        shutil.copytree(FIXTURES / "notebooks" / kind, root / kind)
    (root / "pyproject.toml").write_text('[tool.nb2prod]\nout = "gen"\n')
    result = nb2prod("build", "divergent", "broken", "good", cwd=root)
    assert result.returncode == 0, result.stderr
    return root


def test_examples_pass_parity_with_defaults_and_a_second_parameter_set(tmp_path):
    result = nb2prod(
        "test", "notebooks/", "-j", "2", "--junit-xml", str(tmp_path / "r.xml"),
        "--report", str(tmp_path / "r.html"), "--summary", str(tmp_path / "r.md"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED: 9 passed, 0 failed" in result.stdout  # 6 parity cases, 3 model round trips
    suites = ET.parse(tmp_path / "r.xml").getroot()
    assert suites.tag == "testsuites"
    assert {s.get("name") for s in suites} == {
        "notebooks/diabetes_regression.ipynb", "notebooks/iris_kale.ipynb", "notebooks/wine_percent.py",
    }
    cases = suites.findall("./testsuite/testcase")
    assert any(c.get("name") == "alpha=0.3,test_size=0.3::y_pred" for c in cases)
    assert any(c.get("name") == "round trip::proba" for c in cases)  # wine's reloaded model
    assert not suites.findall(".//failure") and not suites.findall(".//error")
    assert "<svg" in (tmp_path / "r.html").read_text()
    assert "diabetes_regression" in (tmp_path / "r.md").read_text()


def test_divergent_notebook_fails_with_a_mismatch_report(project, tmp_path):
    xml = tmp_path / "r.xml"
    result = nb2prod("test", "divergent", "--junit-xml", str(xml), cwd=project)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "y_pred: values differ" in out
    assert "shape: notebook (111,), pipeline (111,)" in out
    assert "differing elements: 111 of 111" in out
    assert "largest absolute difference" in out and "first difference at [0]" in out
    failure = ET.parse(xml).getroot().find(".//testcase/failure")
    assert failure is not None and "y_pred: values differ" in (failure.text or "")
    evidence = project / "runs" / "rescaled_in_skip"
    assert list(evidence.glob("parity-*.ipynb")), "the executed notebook is kept as evidence"


def test_tolerance_can_make_the_divergent_notebook_pass(project):
    result = nb2prod("test", "divergent", "--atol", "100", cwd=project)
    assert result.returncode == 0, result.stdout


def test_notebook_that_raises_exits_3_naming_the_cell(project):
    result = nb2prod("test", "broken/raises.ipynb", cwd=project)
    assert result.returncode == 3
    assert "broken/raises.ipynb, cell 3: ZeroDivisionError: division by zero" in result.stdout
    assert "Traceback" not in result.stderr


def test_pipeline_that_raises_is_mapped_back_to_its_notebook_cell(project):
    result = nb2prod("test", "broken/pipeline_raises.ipynb", cwd=project)
    assert result.returncode == 3, result.stdout
    text = " ".join(result.stdout.split())
    assert "broken/pipeline_raises.ipynb, cell 4" in text
    assert "pipeline raised ZeroDivisionError" in text
    assert "generated from notebook cell 4" in text


def test_stale_generated_code_fails_without_running(project, tmp_path):
    import nbformat

    nb_path = project / "good" / "minimal.ipynb"
    original = nb_path.read_bytes()
    try:
        nb = nbformat.read(nb_path, 4)
        nb.cells[3].source += " + 1"
        nbformat.write(nb, nb_path)
        result = nb2prod("test", "good/minimal.ipynb", cwd=project)
        assert result.returncode == 1
        assert "stale: exported code changed since v1" in " ".join(result.stdout.split())
    finally:
        nb_path.write_bytes(original)


def test_run_executes_with_typed_parameters_and_keeps_the_output(project, tmp_path):
    out = tmp_path / "out.ipynb"
    result = nb2prod("run", "good/minimal.ipynb", "-p", "n", "3", "-o", str(out), cwd=project)
    assert result.returncode == 0, result.stderr
    import nbformat

    executed = nbformat.read(out, 4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "n = 3" in injected[0].source
    default = nb2prod("run", "good/minimal.ipynb", cwd=project)
    assert default.returncode == 0
    assert list((project / "runs" / "minimal").glob("*Z-*.ipynb"))


def test_run_rejects_unknown_parameters_listing_the_known_ones(project):
    result = nb2prod("run", "good/minimal.ipynb", "-p", "alpha", "1", cwd=project)
    assert result.returncode == 2
    assert "alpha" in result.stderr and "n, scale" in result.stderr
    assert "Traceback" not in result.stderr


def test_parameter_file_gives_one_case_per_set(project, tmp_path):
    params = tmp_path / "sets.yaml"
    params.write_text("sets:\n  small: {n: 2}\n  big: {n: 7, scale: 0.5}\n")
    result = nb2prod("test", "good/minimal.ipynb", "-f", str(params), cwd=project)
    assert result.returncode == 0, result.stdout
    assert "2 passed, 0 failed" in result.stdout
