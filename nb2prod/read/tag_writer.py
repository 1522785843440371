"""Writing tags into a notebook (``nb2prod tag --write``): cell metadata only, never code or outputs.

``.ipynb`` files go through nbformat (``metadata.tags``, what JupyterLab's tag editor shows);
``.py`` files through jupytext (``# %% tags=[...]`` headers; a plain script gains one header).
The file is replaced atomically, so an interrupted write leaves the old notebook whole.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from nb2prod.read.notebook import read_notebook_node


def merged_tags(old: Sequence[str], new: Sequence[str]) -> list[str]:
    """The cell's own tags first, then the new ones it lacks."""
    return [*old, *[t for t in new if t not in old]]


def write_tags(path: Path, tags: Mapping[int, Sequence[str]]) -> int:
    """Add ``tags`` (cell index -> tags) to the notebook at ``path``; returns how many cells changed."""
    node = read_notebook_node(path)  # validates, and numbers cells as every nb2prod reader does
    changed = 0
    for index, new in tags.items():
        cell = node.cells[index]
        old = list(cell.metadata.get("tags", []))
        merged = merged_tags(old, new)
        if merged != old:
            cell.metadata["tags"] = merged
            changed += 1
    if not changed:
        return 0
    if path.suffix == ".ipynb":
        import nbformat

        text = nbformat.writes(node)
    else:
        import jupytext

        node.metadata.pop("nb2prod", None)  # the plain-script marker is nb2prod's, not the file's
        options = node.metadata.setdefault("jupytext", {})
        wanted = options.get("cell_metadata_filter")
        if not wanted:
            options["cell_metadata_filter"] = "tags,-all"
            options.setdefault("notebook_metadata_filter", "-all")
        elif "tags" not in wanted.split(",") and wanted != "all":
            options["cell_metadata_filter"] = f"tags,{wanted}"
        text = jupytext.writes(node, fmt="py:percent")
    _replace(path, text if text.endswith("\n") else text + "\n")
    return changed


def _replace(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
