"""nb2prod's on-disk cache (like black's): answers that are slow to compute and change only when
packages are installed. Losing or failing to write it only costs time."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """``$NB2PROD_CACHE_DIR``, else ``$XDG_CACHE_HOME/nb2prod``, else ``~/.cache/nb2prod``."""
    base = os.environ.get("NB2PROD_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "nb2prod",
    )
    return Path(base)


def read_json(name: str) -> Any:
    """The cached document, or None when it is missing or unreadable."""
    try:
        return json.loads((cache_dir() / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json(name: str, data: Any) -> None:
    """Replace the cached document atomically (a concurrent reader sees the old or the new one)."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, folder / name)
    except OSError:
        pass
