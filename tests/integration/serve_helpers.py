"""What the serving tests share: a trained example in a scratch project, and reading the prediction log."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NAME = "diabetes_regression"


def env() -> dict[str, str]:
    """The environment a served child runs in: this checkout's nb2prod first."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def nb2prod(*args: str, cwd: Path, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "nb2prod", *args], cwd=cwd, env=kwargs.pop("env", env()),
                          capture_output=True, text=True, timeout=kwargs.pop("timeout", 600), **kwargs)
    if check and done.returncode != 0:
        raise AssertionError(f"nb2prod {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def trained_project(folder: Path) -> Path:
    """A copy of the project's example with its production model trained by ``nb2prod train --promote``."""
    for part in ("notebooks", "generated", "pyproject.toml"):
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, folder / part, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy(source, folder / part)
    nb2prod("train", f"notebooks/{NAME}.ipynb", "--promote", "--models", "models", cwd=folder)
    return folder


def production(project: Path) -> tuple[dict[str, Any], Path]:
    models = project / "models" / NAME
    model_id = (models / "PRODUCTION").read_text().strip()
    return json.loads((models / model_id / "card.json").read_text()), models / model_id


def reference(project: Path) -> tuple[dict[str, Any], Any]:
    """The posted body (the training payload sample as records) and the training outputs."""
    from nb2prod.serve.parity import reference_body

    card, folder = production(project)
    return reference_body(card, folder)


def log_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of the log (rotated parts first); a line that does not parse fails the test."""
    from nb2prod.serve.log import rotated_files

    lines = []
    for file in rotated_files(path):
        for number, text in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError as err:
                raise AssertionError(f"{file}:{number} is not a whole JSON line: {text[:200]!r}") from err
    return lines
