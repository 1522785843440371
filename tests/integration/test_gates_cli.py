"""Gates in `nb2prod test`: a failed gate is exit 1, a JUnit testcase of its own, a line in every report."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.nbfactory import write_notebook

pytestmark = pytest.mark.kernel

CELLS = [
    ("import numpy as np", ["imports"]),
    ("noise = 0.1", ["parameters"]),
    ("rng = np.random.default_rng(0)\nx = rng.normal(size=200)\ny = 2 * x + rng.normal(scale=noise, size=200)",
     ["step:data"]),
    ("y_pred = 2 * x", ["step:predict", "parity:y_pred"]),
    ("r2 = float(1 - np.sum((y - y_pred) ** 2) / np.sum((y - y.mean()) ** 2))", ["step:score", "metric:r2"]),
]


def nb2prod(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nb2prod", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_a_failed_gate_fails_the_test_run_in_every_report(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    write_notebook(tmp_path / "notebooks", CELLS, name="line.ipynb")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.nb2prod.gates.line]\nr2 = { rule = ">= 0.995", max_drop = 0.001 }\n', encoding="utf-8"
    )
    # a production model whose card says r2 0.9999 (the champion)
    champion = tmp_path / "models" / "line" / "m20261202T000000-aaaaaa"
    champion.mkdir(parents=True)
    (champion / "card.json").write_text(json.dumps({"format": 1, "metrics": {"r2": 0.9999}}), encoding="utf-8")
    (tmp_path / "models" / "line" / "PRODUCTION").write_text(champion.name + "\n", encoding="utf-8")
    assert nb2prod("build", "notebooks", cwd=tmp_path).returncode == 0

    result = nb2prod("test", "notebooks", "-p", "noise", "0.5", "--junit-xml", "r.xml",
                     "--summary", "r.md", "--report", "r.html", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "gate r2 >= 0.995: 0.9" in out and "failed; production model 0.9999" in out
    assert "FAILED: 1 passed, 0 failed, 2 gates failed" in out
    suites = ET.parse(tmp_path / "r.xml").getroot()
    gate = next(c for c in suites.iter("testcase") if c.get("name").endswith("::gates"))
    assert gate.find("failure").get("type") == "GateFailed"
    assert "gate r2 max_drop 0.001" in gate.find("failure").text
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "gate r2 &gt;= 0.995" in page and "2 gates failed (gate r2" in page
    assert "**gate r2 &gt;= 0.995" in (tmp_path / "r.md").read_text(encoding="utf-8")

    passing = nb2prod("test", "notebooks", "-p", "noise", "0.01", cwd=tmp_path)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "gate r2 >= 0.995: 1, passed; production model 0.9999" in passing.stdout


def test_a_failed_gate_blocks_promote_and_leaves_production_untouched(tmp_path: Path) -> None:
    from tests.conftest import NOTEBOOKS

    (tmp_path / "notebooks").mkdir()
    notebook = tmp_path / "notebooks" / "diabetes_regression.ipynb"
    notebook.write_bytes((NOTEBOOKS / "diabetes_regression.ipynb").read_bytes())
    (tmp_path / "pyproject.toml").write_text(
        '[tool.nb2prod.gates.diabetes_regression]\nr2 = { rule = ">= 0.3", max_drop = 0.01 }\n',
        encoding="utf-8",
    )
    assert nb2prod("build", "notebooks", cwd=tmp_path).returncode == 0
    first = nb2prod("train", str(notebook), "--promote", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "(no production model yet: the first model passes)" in first.stdout
    pointer = tmp_path / "models" / "diabetes_regression" / "PRODUCTION"
    champion = pointer.read_text(encoding="utf-8")

    worse = nb2prod("train", str(notebook), "-p", "alpha", "5000.0", "--promote", cwd=tmp_path)
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "gate r2 max_drop 0.01: 0." in worse.stdout
    assert "failed; production model 0.48" in worse.stdout
    assert "not promoted: the gates failed" in worse.stdout
    assert pointer.read_text(encoding="utf-8") == champion
    cards = sorted((tmp_path / "models" / "diabetes_regression").glob("m*/card.json"))
    gates = json.loads(cards[-1].read_text(encoding="utf-8"))["gates"]
    assert gates["passed"] is False
    assert [r["rule"] for r in gates["results"]] == [">= 0.3", "max_drop 0.01"]
    assert gates["results"][1]["passed"] is False and gates["results"][1]["champion"] > 0.48
