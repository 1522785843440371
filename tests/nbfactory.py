"""Write small real notebooks for tests: ``write_notebook(tmp_path, [("code", ["step:a"]), ...])``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import nbformat

CellSpec = str | tuple[str, Sequence[str]]


def write_notebook(folder: Path, cells: Sequence[CellSpec], name: str = "nb.ipynb") -> Path:
    """A valid nbformat 4 notebook with a python3 kernelspec; each cell is code or (code, tags)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for spec in cells:
        source, tags = (spec, ()) if isinstance(spec, str) else spec
        cell = nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)
    path = folder / name
    nbformat.write(nb, path)
    return path


def run_built(tmp_path: Path, cells: Sequence[CellSpec]) -> dict:
    """Build the notebook into ``gen`` and return what ``run()`` returns, in a fresh interpreter."""
    import pickle
    import subprocess
    import sys

    from nb2prod.store.build import build

    path = write_notebook(tmp_path, cells)
    assert build([path], tmp_path / "gen", root=tmp_path).exit_code == 0
    code = (f"import pickle, sys; sys.path.insert(0, {str(tmp_path)!r}); import gen.nb as m; "
            "sys.stdout.buffer.write(pickle.dumps(m.run()))")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    return pickle.loads(result.stdout)
