"""Issue 14, data-flow half, end to end: the notebook (papermill, a real kernel) and its generated
pipeline agree on every fidelity fixture whose point is what the code computes.

The fixtures that write files into their own folder (file_handoff, step_writes_module,
written_module) are left to the unit tests: both sides of a parity case still share one folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
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


def test_every_fixture_passes_parity(project):
    result = nb2prod("test", ".", "--out", "gen", "-j", "2", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("global_in_step", "global_in_functions", "shadowed_import", "import_in_skipped", "injected"):
        assert name in result.stdout


def test_injected_parameters_and_a_given_one_reach_both_sides(project):
    result = nb2prod("test", "injected.ipynb", "--out", "gen", "-p", "scale", "5", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout.lower()
