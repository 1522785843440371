"""Pipelines forked from the zygote behave like pipelines in a fresh interpreter (real processes)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from nb2prod.errors import ExecutionError
from nb2prod.execute import pipeline_runner as _pipeline_runner
from nb2prod.execute.pipeline_runner import run_pipeline, start_pipeline, zygote_for
from nb2prod.execute.zygote import available, imported_modules

pytestmark = pytest.mark.skipif(not available(), reason="the zygote needs fork (Linux)")

PIPELINE = '''\
import os
import sys

import numpy as np
from helper_next_to_notebook import WHERE


def run(*, size=3, fail=False, sleep=0.0, **unknown):
    import time

    time.sleep(sleep)
    if fail:
        raise ValueError(f"asked to fail with size {size}")
    print("pipeline says hello")
    return {
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "draw": float(np.random.random()),
        "loaded_here": WHERE,
        "y": np.arange(size, dtype=float),
        "env": os.environ.get("NB2PROD_TEST_MARK"),
        "session": os.getsid(0) == os.getpid(),
        "path": sys.path[:2],
    }
'''


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    package = tmp_path / "gen" / "pkg"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "pipeline.py").write_text(PIPELINE)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "helper_next_to_notebook.py").write_text("import os\nWHERE = os.getcwd()\n")
    return package.parent, notebooks


def _run(out: Path, cwd: Path, tmp: Path, **params: object) -> dict:
    capture = tmp / f"capture-{len(list(tmp.iterdir()))}.pkl"
    return run_pipeline(out, "gen.pkg.pipeline", params, cwd=cwd, capture_path=capture, timeout=60)


def test_imported_modules_skip_local_files_and_the_generated_package(project, tmp_path) -> None:
    out, notebooks = project
    found = imported_modules(out / "pkg" / "pipeline.py", [notebooks, out.parent])
    assert found == ["os", "sys", "numpy"]  # not helper_next_to_notebook


def test_forked_cases_are_separate_clean_processes(project, tmp_path, monkeypatch) -> None:
    out, notebooks = project
    monkeypatch.setenv("NB2PROD_TEST_MARK", "seen")
    fresh = _run(out, notebooks, tmp_path, size=4)
    with zygote_for(["numpy"], cwd=notebooks, seed=None):
        zygote = _pipeline_runner._zygote
        assert zygote is not None
        first = _run(out, notebooks, tmp_path, size=4)
        second = _run(out, notebooks, tmp_path, size=4)
    assert _pipeline_runner._zygote is None
    for result in (first, second):
        assert result["y"].tolist() == fresh["y"].tolist() == [0.0, 1.0, 2.0, 3.0]
        assert result["cwd"] == result["loaded_here"] == str(notebooks)
        assert result["path"] == fresh["path"] == [str(out.parent), str(notebooks)]  # like `python -m`
        assert result["env"] == "seen"
        assert result["session"]  # its own session: killpg reaches all it started
        assert result["pid"] not in (os.getpid(), zygote._process.pid)
    assert first["pid"] != second["pid"]
    assert first["draw"] != second["draw"]  # numpy's global generator is reseeded per child


def test_forked_pipeline_errors_and_timeouts_are_reported_like_fresh_ones(project, tmp_path) -> None:
    out, notebooks = project
    with zygote_for(["numpy"], cwd=notebooks, seed=None):
        with pytest.raises(ExecutionError) as raised:
            _run(out, notebooks, tmp_path, fail=True, size=7)
        assert "ValueError: asked to fail with size 7" in raised.value.reason
        raise_line = PIPELINE.splitlines().index('        raise ValueError(f"asked to fail with size {size}")')
        assert raised.value.line == raise_line + 1
        capture = tmp_path / "slow.pkl"
        proc = start_pipeline(out, "gen.pkg.pipeline", {"sleep": 30}, cwd=notebooks, capture_path=capture, timeout=1)
        with pytest.raises(ExecutionError, match="exceeded the --timeout of 1 seconds"):
            proc.wait()
        assert proc.process.returncode is not None and proc.process.returncode < 0
        assert _run(out, notebooks, tmp_path, size=2)["y"].tolist() == [0.0, 1.0]  # still serving


def test_seeded_runs_use_the_seed_and_another_hash_seed_falls_back(project, tmp_path) -> None:
    out, notebooks = project
    seeded = [
        run_pipeline(out, "gen.pkg.pipeline", {}, cwd=notebooks, capture_path=tmp_path / "a.pkl", seed=5)
    ]
    with zygote_for(["numpy"], cwd=notebooks, seed=5):
        seeded.append(
            run_pipeline(out, "gen.pkg.pipeline", {}, cwd=notebooks, capture_path=tmp_path / "b.pkl", seed=5)
        )
        # the zygote's hash seed is 5: a request with another seed gets a fresh interpreter
        other = start_pipeline(out, "gen.pkg.pipeline", {}, cwd=notebooks, capture_path=tmp_path / "c.pkl", seed=6)
        assert other.process.__class__.__name__ == "Popen"
        other.wait()
    assert seeded[0]["draw"] == seeded[1]["draw"]


def test_switched_off_by_environment(project, tmp_path, monkeypatch) -> None:
    out, notebooks = project
    monkeypatch.setenv("NB2PROD_ZYGOTE", "0")
    with zygote_for(["numpy"], cwd=notebooks, seed=None):
        assert _pipeline_runner._zygote is None
        assert _run(out, notebooks, tmp_path)["y"].tolist() == [0.0, 1.0, 2.0]


def test_a_dead_zygote_kills_its_children_and_falls_back(project, tmp_path) -> None:
    out, notebooks = project
    with zygote_for(["numpy"], cwd=notebooks, seed=None):
        zygote = _pipeline_runner._zygote
        proc = start_pipeline(out, "gen.pkg.pipeline", {"sleep": 30}, cwd=notebooks, capture_path=tmp_path / "d.pkl")
        zygote._process.kill()
        with pytest.raises(ExecutionError, match="killed by signal"):
            proc.wait()
        assert _run(out, notebooks, tmp_path, size=1)["y"].tolist() == [0.0]  # a fresh interpreter
    assert sys.platform.startswith("linux")


def test_a_pipeline_that_ends_before_its_spawner_wakes_is_still_its_own(
    project, tmp_path, monkeypatch
) -> None:
    """The reader drops a request once its child has ended; a quick pipeline can end before the
    thread that asked for it wakes (a busy machine, ``-j 2``). It used to raise KeyError there and
    leave the runner's private folder behind in TMPDIR (seen once in CI, after a Ctrl-C test)."""
    import tempfile
    import threading
    import time

    from nb2prod.execute import zygote as zygote_module

    out, notebooks = project
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))

    class WakesLate(threading.Event):
        """The spawner's wake-up, delayed until the reader has seen its child's exit."""

        def wait(self, timeout: float | None = None) -> bool:
            woke = super().wait(timeout)
            zygote = _pipeline_runner._zygote
            deadline = time.monotonic() + 30
            while zygote is not None and zygote._waiting and time.monotonic() < deadline:
                time.sleep(0.01)
            return woke

    with zygote_for(["numpy"], cwd=notebooks, seed=None):
        zygote = _pipeline_runner._zygote
        with monkeypatch.context() as late:  # only for this spawn; TMPDIR stays private
            late.setattr(zygote_module.threading, "Event", WakesLate)
            proc = start_pipeline(out, "gen.pkg.pipeline", {"size": 2}, cwd=notebooks,
                                  capture_path=tmp_path / "quick.pkl")
        assert zygote._waiting == {}  # the child had ended before start_pipeline returned
        assert proc.process.__class__.__name__ == "ZygoteChild"  # forked, not a fallback
        assert proc.wait()["y"].tolist() == [0.0, 1.0]
    assert list(private_tmp.iterdir()) == []
