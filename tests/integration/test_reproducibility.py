"""Reproducibility end to end: "not reproducible" vs "diverged", --seed on both sides, build hints.

Real kernels, real generated pipelines, the real command line, on fixture notebooks under
tests/fixtures/notebooks/unseeded/ (never in notebooks/: the examples must pass).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import numpy as np
import pytest

from tests.conftest import FIXTURES

UNSEEDED = FIXTURES / "notebooks" / "unseeded"


def nb2prod(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nb2prod", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def make_project(root: Path, config: str = "") -> Path:
    shutil.copytree(UNSEEDED, root / "unseeded")
    shutil.copytree(FIXTURES / "notebooks" / "divergent", root / "divergent")
    (root / "pyproject.toml").write_text(f'[tool.nb2prod]\nout = "gen"\n{config}')
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    root = make_project(tmp_path_factory.mktemp("repro"))
    result = nb2prod("build", "unseeded", "divergent", cwd=root)
    assert result.returncode == 0, result.stderr
    return root, result


def expected_draws(seed: int) -> tuple[float, float, int]:
    """What random, numpy.random and hash() give in a fresh interpreter seeded the way --seed says."""
    random.seed(seed)
    np.random.seed(seed)
    py, npv = random.random(), float(np.random.rand())
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    done = subprocess.run([sys.executable, "-c", "print(hash('nb2prod'))"], env=env,
                          capture_output=True, text=True, check=True)
    return py, npv, int(done.stdout)


def test_build_warns_with_cell_line_and_fix(built):
    _, result = built
    err = " ".join(result.stderr.split())  # rich wraps long warnings
    assert (
        "warning: unseeded/forest.ipynb, cell 5, line 1: `RandomForestClassifier(n_estimators="
        "n_estimators)` draws random numbers" in err
    )
    assert "Fix: pass random_state=0" in err
    assert "warning: unseeded/forest.ipynb, cell 4, line 1: `train_test_split(" in err
    assert "unseeded/skipped_draw.ipynb, cell 2, line 2: cell 2 is not exported" in err
    assert ("unseeded/torch_draw.ipynb, cell 1, line 2: `torch.randn(3)` draws from torch's global "
            "random generator" in err)
    divergent = [w for w in err.split("warning: ") if w.startswith("divergent/")]
    assert not any("random" in w for w in divergent), "a seeded notebook gets no randomness hint"


def test_strict_build_is_an_error_and_writes_nothing(built, tmp_path):
    root, _ = built
    fresh = nb2prod("build", "--strict", "unseeded/forest.ipynb", "--out", str(tmp_path / "g"), cwd=root)
    assert fresh.returncode == 2, fresh.stdout + fresh.stderr
    message = " ".join(fresh.stderr.split())
    assert message.startswith("Error: unseeded/forest.ipynb, cell 4, line 1: `train_test_split(")
    assert "--strict" in message and "Also unseeded/forest.ipynb, cell 5, line 1" in message
    assert "Hint: pass random_state=0" in message and "Traceback" not in fresh.stderr
    assert not (tmp_path / "g").exists()
    before = sorted(p.name for p in (root / "gen" / "forest").iterdir())
    current = nb2prod("build", "--strict", "--check", "unseeded/forest.ipynb", cwd=root)
    assert current.returncode == 2, "an unchanged notebook is analysed too under --strict"
    assert sorted(p.name for p in (root / "gen" / "forest").iterdir()) == before


@pytest.mark.kernel
def test_unseeded_forest_is_not_reproducible_and_points_at_the_lines(built, tmp_path):
    root, _ = built
    xml, html, md = tmp_path / "r.xml", tmp_path / "r.html", tmp_path / "r.md"
    result = nb2prod(
        "test", "unseeded/forest.ipynb", "--junit-xml", str(xml), "--report", str(html),
        "--summary", str(md), cwd=root,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "NOT REPRODUCIBLE: 0 passed, 0 failed, 1 not reproducible" in out
    assert "a second run of the notebook with the same parameters disagreed with the first" in out
    assert "proba: values differ shape: run 1 (45, 3), run 2 (45, 3)" in out
    assert "unseeded/forest.ipynb, cell 5, line 1: `RandomForestClassifier(" in out
    assert "Or run with --seed N" in out and "diverged" not in out

    failure = ET.parse(xml).getroot().find(".//testcase[@name='defaults::proba']/failure")
    assert failure is not None and failure.get("type") == "NotReproducible"
    # one verdict per target: whatever accuracy did by chance, the console and JUnit agree on it
    accuracy = ET.parse(xml).getroot().find(".//testcase[@name='defaults::accuracy']/failure")
    word = "passed" if accuracy is None else "NOT REPRODUCIBLE"
    assert re.search(rf"accuracy\s*│\s*metric\s*│\s*{word}", result.stdout), result.stdout
    assert accuracy is None or accuracy.get("type") == "NotReproducible"
    assert failure.get("message", "").startswith("proba: moved between two notebook runs")
    assert "cell 4, line 1" in (failure.text or "") and "random_state=0" in (failure.text or "")
    summary = md.read_text()
    assert summary.startswith("## nb2prod parity: NOT REPRODUCIBLE")
    assert "**NOT REPRODUCIBLE**" in summary and "the notebook disagrees with itself" in summary
    page = html.read_text()
    assert '<span class="badge unrepro">not reproducible</span>' in page
    assert "<b>unseeded/forest.ipynb, cell 5, line 1</b>" in page
    assert list((root / "runs" / "forest").glob("*-rerun.ipynb")), "the second run is evidence too"


@pytest.mark.kernel
def test_the_same_notebook_passes_with_seed(built):
    root, _ = built
    result = nb2prod("test", "unseeded/forest.ipynb", "--seed", "0", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED: 1 passed, 0 failed" in result.stdout


@pytest.mark.kernel
def test_a_really_divergent_notebook_still_says_diverged(built, tmp_path):
    root, _ = built
    xml = tmp_path / "r.xml"
    result = nb2prod("test", "divergent", "--junit-xml", str(xml), cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "rescaled_in_skip.ipynb [defaults]: diverged" in out
    assert "a second notebook run with the same parameters reproduced the first" in out
    assert "FAILED: 0 passed, 1 failed" in out and "not reproducible" not in out
    failure = ET.parse(xml).getroot().find(".//failure")
    assert failure is not None and failure.get("type") == "ParityMismatch"


@pytest.mark.kernel
def test_a_skipped_draw_diverges_even_with_seed_and_the_hint_says_why(built):
    root, _ = built
    result = nb2prod("test", "unseeded/skipped_draw.ipynb", "--seed", "0", cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "skipped_draw.ipynb [defaults]: diverged" in out
    assert "cell 2, line 2: cell 2 is not exported but draws from numpy.random's global stream" in out
    assert "cell 3, line 1: `np.random.normal" not in out  # --seed already covers that one


@pytest.mark.kernel
def test_seed_reaches_kernel_and_pipeline_before_the_first_cell(tmp_path):
    root = make_project(tmp_path / "p", config="seed = 0\n")
    assert nb2prod("build", "unseeded/draws.ipynb", cwd=root).returncode == 0
    xml = tmp_path / "r.xml"
    result = nb2prod("test", "unseeded/draws.ipynb", "--junit-xml", str(xml), cwd=root)  # config seed
    assert result.returncode == 0, result.stdout + result.stderr
    py, npv, hashed = expected_draws(0)
    outs = {
        case.get("name"): (case.findtext("system-out") or "").splitlines()
        for case in ET.parse(xml).getroot().iter("testcase")
    }
    for name, value in [("py_random", f"float {py!r}"), ("np_random", f"float {npv!r}"),
                        ("str_hash", f"int {hashed}")]:
        assert outs[f"defaults::{name}"][:2] == [f"notebook: {value}", f"pipeline: {value}"]

    for args, seed in [((), 0), (("--seed", "5"), 5)]:  # `run` reads the config, --seed wins
        out = tmp_path / f"run{seed}.ipynb"
        done = nb2prod("run", "unseeded/draws.ipynb", "-o", str(out), *args, cwd=root)
        assert done.returncode == 0, done.stderr
        text = "".join(o.get("text", "") for c in nbformat.read(out, 4).cells for o in c.get("outputs", []))
        py, npv, hashed = expected_draws(seed)
        assert f"draws: {py!r} {npv!r} {hashed!r}" in text


def test_verdict_words_follow_the_cases():
    from nb2prod.parity.compare import compare
    from nb2prod.parity.results import CaseResult, ParityReport, TargetResult
    from nb2prod.report.formats import verdict

    def case(reproducible: bool) -> CaseResult:
        mismatch = compare("y", np.array([1.0, 2.0]), np.array([1.0, 3.0]))
        c = CaseResult(notebook="nb.ipynb", name="nb", version="v1", param_id="defaults", params={},
                       targets=[TargetResult("y", "parity", 3, mismatch)], reproducible=reproducible)
        if not reproducible:
            moved = compare("y", 0.5, 0.7)
            assert moved is not None
            c.moved.append(moved.relabel("run 1", "run 2"))
        return c

    unrepro = ParityReport(cases=[case(False)])
    assert (unrepro.exit_code, verdict(unrepro)) == (1, "NOT REPRODUCIBLE")
    assert unrepro.summary_line().startswith("0 passed, 0 failed, 1 not reproducible")
    assert unrepro.cases[0].moved[0].describe().startswith("y: value differs: run 1 0.5, run 2 0.7")
    both = ParityReport(cases=[case(False), case(True)])
    assert [c.status for c in both.cases] == ["not reproducible", "failed"]
    assert verdict(both) == "FAILED"  # a diverged pipeline is the stronger news


@pytest.mark.kernel
def test_seed_seeds_torch_in_the_kernel_and_the_pipeline(built, tmp_path):
    """``w = torch.randn(3).numpy()``: hinted at build, and ``--seed`` reaches torch on both sides."""
    torch = pytest.importorskip("torch")
    root, _ = built
    xml = tmp_path / "r.xml"
    result = nb2prod("test", "unseeded/torch_draw.ipynb", "--seed", "5", "--junit-xml", str(xml),
                     cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    torch.manual_seed(5)
    expected = float(torch.randn(3)[0])
    torch.seed()
    outs = {c.get("name"): (c.findtext("system-out") or "").splitlines()
            for c in ET.parse(xml).getroot().iter("testcase")}
    assert outs["defaults::first"][:2] == [f"notebook: float {expected!r}", f"pipeline: float {expected!r}"]
