"""Hints that fit the cell they talk about (issue 15 item 5): what an unexported cell is, what an
imports cell may hold, and the unseeded calls ``--seed`` already covers."""

from __future__ import annotations

import pytest

from nb2prod.analyse.planner import analyse
from nb2prod.analyse.randomness import RandomnessHint
from nb2prod.errors import AnalysisError
from nb2prod.parity.reproducibility import diagnosis_advice
from nb2prod.parity.results import CaseResult
from nb2prod.read.notebook import load_notebook
from tests.nbfactory import write_notebook


def message(tmp_path, cells) -> str:
    with pytest.raises(AnalysisError) as info:
        analyse(load_notebook(write_notebook(tmp_path, cells), root=tmp_path))
    return info.value.message


def test_a_setup_cell_before_the_first_step_is_named_as_such(tmp_path):
    # numpy's import is lent to the header (issue 14 item 10); the value 'n' is what cannot travel.
    text = message(tmp_path, ["import numpy as np\nn = 3", ("x = np.arange(n)", ["step:load"])])
    assert "reads 'n', but only cell 0, which is not exported (it comes before the first step, at cell 1)" in text
    assert "'skip'" not in text
    text = message(tmp_path, ["n = 3", ("x = n", ["step:load"])])
    assert "Hint: move the definition of 'n' into a step, or tag cell 0 'step:NAME'" in text


def test_a_skipped_cell_is_named_as_skipped(tmp_path):
    text = message(tmp_path, [("x = 1", ["step:a"]), ("offset = 3", ["skip"]), "y = offset"])
    assert "(it is tagged 'skip')" in text and "remove the 'skip' tag from cell 1" in text


def test_an_imports_cell_is_not_told_to_take_arguments(tmp_path):
    text = message(tmp_path, [("out = 'figs'", ["step:a"]), ("import os\nos.makedirs(out)", ["imports"])])
    assert "to the function as an argument" not in text
    assert "an imports cell runs when the module is imported, before any step" in text


def test_unseeded_calls_that_seed_covers_are_not_called_none(tmp_path):
    hint = RandomnessHint("nb.ipynb", 4, 2, "KFold(shuffle=True)", "draws.", "seed it.", seed_fixes=True)
    case = CaseResult("nb.ipynb", "nb", "v1", "defaults", {}, reproducible=False, seed=0, hints=[hint])
    advice = diagnosis_advice(case)
    assert "No unseeded call was found" not in advice
    assert "The unseeded calls found (nb.ipynb, cell 4, line 2: `KFold(shuffle=True)`)" in advice
    assert "No unseeded call was found" in diagnosis_advice(
        CaseResult("nb.ipynb", "nb", "v1", "defaults", {}, reproducible=False, seed=0)
    )
