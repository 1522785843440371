"""Each side of a parity case writes into a working folder of its own (issue 14, item 3).

The fixture writes ``scratch.txt`` (which already exists next to it), sleeps, and checks that it reads
back its own pid; then it appends to ``logs/history.txt``. In one shared folder the notebook and its
pipeline, running at the same time, overwrite each other's file; here every side and every ``-j``
case must see only its own writes, the notebook folder's files must stay as they were, and what each
side wrote is kept as evidence.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

pytestmark = pytest.mark.kernel


def nb2prod(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nb2prod", *args], cwd=cwd, capture_output=True, text=True,
        timeout=600, env=env,
    )


def snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_sides_and_cases_write_into_folders_of_their_own(tmp_path):
    shutil.copytree(FIXTURES / "notebooks" / "collide", tmp_path / "nb")
    (tmp_path / "sets.yaml").write_text("- {pause: 2.0}\n- {pause: 2.5}\n")
    built = nb2prod("build", "nb", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    before = snapshot(tmp_path / "nb")

    md = tmp_path / "r.md"
    result = nb2prod("test", "nb", "-f", "sets.yaml", "-j", "2", "--summary", str(md), cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED: 2 passed, 0 failed" in result.stdout
    assert snapshot(tmp_path / "nb") == before  # nothing in the notebook's folder was written
    runs = tmp_path / "runs" / "writes_files"
    kept = sorted(p for p in runs.iterdir() if p.name.endswith("-files"))
    assert len(kept) == 2  # one per case
    for folder in kept:
        files = snapshot(folder)
        assert set(files) == {f"{side}/{name}" for side in ("notebook", "pipeline")
                              for name in ("scratch.txt", "logs/history.txt")}
        assert files["notebook/scratch.txt"] != files["pipeline/scratch.txt"]  # two pids
        assert files["notebook/logs/history.txt"] == "start\nfrom the notebook folder\n"
        assert files["pipeline/logs/history.txt"] == "start\nfrom the notebook folder\n"
    assert not [p for p in runs.iterdir() if p.name.startswith("nb2prod-")]  # no working folder left
    executed = json.loads(next(runs.glob("parity-*.ipynb")).read_text())
    assert not any("nb2prod" in c["metadata"] for c in executed["cells"])  # the hidden cell is gone


def test_without_isolation_the_sides_collide(tmp_path):
    """The off switch restores the shared folder, and with it the failure this feature removes."""
    shutil.copytree(FIXTURES / "notebooks" / "collide", tmp_path / "nb")
    assert nb2prod("build", "nb", cwd=tmp_path).returncode == 0
    env = {**__import__("os").environ, "NB2PROD_ISOLATE": "0"}
    result = nb2prod("test", "nb", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (tmp_path / "nb" / "scratch.txt").read_text() != "left by an earlier run\n"
