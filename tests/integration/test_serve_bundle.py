"""`nb2prod bundle`: a fresh venv made from the folder's requirements alone serves the notebook's predictions."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from serve_helpers import NAME, nb2prod, production, reference, trained_project

from nb2prod.serve.parity import ServerProcess


@pytest.mark.slow
def test_a_bundle_serves_from_a_fresh_venv(tmp_path: Path) -> None:
    project = trained_project(tmp_path / "project")
    card, _ = production(project)
    done = nb2prod("bundle", NAME, "--out", str(tmp_path / "bundle"), "--models", "models", cwd=project)
    assert f"model {card['model_id']} (code {card['code']['version']})" in done.stdout
    again = nb2prod("bundle", NAME, "--out", str(tmp_path / "bundle"), "--models", "models", cwd=project, check=False)
    assert again.returncode == 2 and "not empty" in again.stderr
    # Moved away from the project, so nothing can resolve against it.
    bundle = tmp_path / "elsewhere" / "deploy"
    shutil.move(tmp_path / "bundle", bundle)
    shutil.rmtree(project / "generated")
    names = sorted(p.name for p in bundle.iterdir())
    assert names == [".dockerignore", "Dockerfile", "__main__.py", "generated", "models", "nb2prod",
                     "pyproject.toml", "requirements.txt", "serve.py"]
    assert sorted(p.name for p in (bundle / "generated" / NAME).iterdir()) == [
        "CURRENT", "__init__.py", "__main__.py", card["code"]["version"]]
    requirements = (bundle / "requirements.txt").read_text().splitlines()[1:]
    assert all("==" in line for line in requirements) and any(r.startswith("fastapi==") for r in requirements)
    assert "CMD [\"python\", \"serve.py\"" in (bundle / "Dockerfile").read_text()

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    install = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r",
                              str(bundle / "requirements.txt")], capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    body, expected = reference(project)
    with ServerProcess(NAME, command=[python, str(bundle / "serve.py"), "--port", "0"], env=clean,
                       cwd=tmp_path) as server:
        answer = httpx.post(f"{server.url}/predict", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        np.testing.assert_allclose(answer.json()["outputs"]["y_pred"], expected["y_pred"], rtol=1e-7, atol=0)
        assert server.stop() == 0
    assert (bundle / "models" / NAME / "logs" / "predictions.jsonl").is_file()
