"""Issue 14, data-flow half, end to end: the notebook (papermill, a real kernel) and its generated
pipeline agree on every fidelity fixture whose point is what the code computes.

The fixtures that write files into their own folder (file_handoff, step_writes_module,
written_module) are left to the unit tests: both sides of a parity case still share one folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

pytestmark = pytest.mark.kernel

FIDELITY = FIXTURES / "notebooks" / "fidelity"
SAME_RESULT = (
    "global_in_step.ipynb", "global_in_functions.ipynb", "shadowed_import", "for_target.ipynb",
    "non_mutating.ipynb", "import_in_skipped.ipynb", "injected.ipynb",
)


def nb2prod(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nb2prod", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fidelity")
    for name in SAME_RESULT:
        source = FIDELITY / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    result = nb2prod("build", ".", "--out", "gen", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def junit(path: Path) -> dict[str, str]:
    """testcase ``module::set::target`` -> its system-out, from a JUnit report with no failures."""
    root = ET.parse(path).getroot()
    assert root.get("failures") == "0" and root.get("errors") == "0"
    return {
        f"{case.get('classname', '').removeprefix('nb2prod.')}::{case.get('name')}": case.findtext("system-out", "")
        for case in root.iter("testcase")
    }


def test_every_fixture_passes_parity(project, tmp_path):
    report = tmp_path / "parity.xml"
    result = nb2prod("test", ".", "--out", "gen", "-j", "2", "--junit-xml", str(report), cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    cases = junit(report)
    modules = {key.split("::")[0] for key in cases}
    assert modules == {
        "global_in_step", "global_in_functions", "shadowed_import", "for_target", "non_mutating",
        "import_in_skipped", "injected",
    }
    assert "pipeline: int 2" in cases["shadowed_import::defaults::r"]  # the notebook's 2, not 1


def test_injected_parameters_and_a_given_one_reach_both_sides(project, tmp_path):
    report = tmp_path / "parity.xml"
    result = nb2prod(
        "test", "injected.ipynb", "--out", "gen", "-p", "scale", "5", "--junit-xml", str(report),
        cwd=project,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (out,) = junit(report).values()
    assert "notebook: str 'raw.csv:5:out.ipynb'" in out and "pipeline: str 'raw.csv:5:out.ipynb'" in out
