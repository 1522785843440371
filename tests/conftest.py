"""Shared fixtures: a clean Jupyter home for every test session, and paths to the fixture notebooks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NOTEBOOKS = ROOT / "notebooks"


@pytest.fixture(scope="session", autouse=True)
def clean_jupyter_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep IPython, Jupyter and nb2prod from reading or writing the developer's home (FIELD-NOTES)."""
    home = tmp_path_factory.mktemp("jupyter-home")
    for var, sub in [
        ("IPYTHONDIR", "ipython"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("MPLCONFIGDIR", "matplotlib"),
    ]:
        path = home / sub
        path.mkdir()
        os.environ[var] = str(path)
    cache = home / "nb2prod-cache"  # nb2prod's own cache (signatures, distributions): not ~/.cache
    cache.mkdir()
    os.environ["NB2PROD_CACHE_DIR"] = str(cache)
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ["JUPYTER_PLATFORM_DIRS"] = "1"


@pytest.fixture()
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture()
def notebooks_dir() -> Path:
    return NOTEBOOKS
