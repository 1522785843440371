"""`nb2prod test --serve`: the notebook's parity, then the production model's answer over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from serve_helpers import NAME, nb2prod, trained_project


@pytest.mark.kernel
def test_test_serve_compares_the_http_answer_with_the_training_outputs(tmp_path: Path) -> None:
    project = trained_project(tmp_path)
    done = nb2prod("test", f"notebooks/{NAME}.ipynb", "-p", "alpha", "1.0", "--serve", "--models", "models",
                   cwd=project, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"serve {NAME}: passed" in done.stdout and "rows over HTTP equal the training run's outputs" in done.stdout
