"""The example notebooks keep reproducing their own checked outputs (nbval, lax mode)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.kernel


def test_examples_reproduce_their_checked_outputs_under_nbval():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "notebooks/", "-p", "no:cacheprovider",
         "--color=no", "-q", "-o", "addopts=", "-W", "ignore::DeprecationWarning"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
