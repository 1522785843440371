"""Reading .ipynb files: the schema check's quick path and the full one give the same verdicts."""

from __future__ import annotations

import json
import warnings

import nbformat
import pytest

from nb2prod.errors import NotebookError
from nb2prod.read.notebook import _valid_at_once, load_notebook


def _notebook(**cell_fields: object) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("y = x + 1")]
    for cell in nb.cells:
        cell.update(cell_fields)
    return json.loads(nbformat.writes(nb))


def _write(tmp_path, raw: dict):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def test_a_plain_notebook_takes_the_quick_path(tmp_path):
    node = nbformat.from_dict(_notebook())
    assert _valid_at_once(node)
    assert [c.source for c in load_notebook(_write(tmp_path, _notebook())).cells] == ["x = 1", "y = x + 1"]


@pytest.mark.parametrize("fault", ["duplicate ids", "missing ids"])
def test_ids_that_need_repair_go_the_full_way_and_still_read(tmp_path, fault):
    raw = _notebook()
    if fault == "duplicate ids":
        for cell in raw["cells"]:
            cell["id"] = "same"
    else:
        for cell in raw["cells"]:
            del cell["id"]
    assert not _valid_at_once(nbformat.from_dict(raw))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbformat warns while it repairs the ids
        cells = load_notebook(_write(tmp_path, raw)).cells
    assert [c.source for c in cells] == ["x = 1", "y = x + 1"]


def test_a_schema_error_keeps_nbformats_message_and_the_cell(tmp_path):
    raw = _notebook()
    raw["cells"][1]["execution_count"] = "three"
    assert not _valid_at_once(nbformat.from_dict(raw))
    with pytest.raises(NotebookError) as err:
        load_notebook(_write(tmp_path, raw))
    text = str(err.value)
    assert "fails nbformat's schema" in text and "cell 1" in text and "'three'" in text


def test_a_folder_walk_skips_the_runs_folder_nb2prod_keeps_evidence_in(tmp_path):
    """``nb2prod test .`` run twice must not test the first run's executed notebooks."""
    from nb2prod.read.notebook import RUNS_MARKER, find_notebooks, mark_runs_folder

    (tmp_path / "nb.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()), encoding="utf-8")
    evidence = tmp_path / "runs" / "nb" / "parity-0123abcd.ipynb"
    evidence.parent.mkdir(parents=True)
    evidence.write_text(nbformat.writes(nbformat.v4.new_notebook()), encoding="utf-8")
    assert len(find_notebooks([tmp_path])) == 2  # an unmarked folder is the user's
    mark_runs_folder(tmp_path / "runs")
    assert (tmp_path / "runs" / RUNS_MARKER).is_file()
    assert find_notebooks([tmp_path]) == [tmp_path / "nb.ipynb"]
    assert find_notebooks([evidence]) == [evidence]  # named explicitly, it is read
