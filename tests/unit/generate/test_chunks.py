"""Step functions laid out run by run (``nb2prod.generate._chunks``) must be exactly what black
writes for the whole function: checked here with a cut at every place the rule allows."""

from __future__ import annotations

import functools
from pathlib import Path

import black
import pytest

from nb2prod.generate import _chunks, _format, _piece_store
from nb2prod.generate.codegen import _MAIN
from nb2prod.store.build import Prepared, prepare
from tests.conftest import NOTEBOOKS
from tests.nbfactory import write_notebook

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "notebooks"

# Cells in the shapes that make black's layout of a statement lean on its neighbours, or seem to.
AWKWARD_STEPS = [
    "a = 1\nb = 2\n\n\n\nc = a+b\nd = [c,\n     a]\ne = {'k':d}",  # blank lines, reflowed brackets
    "x = 1; y = 2\nz = x  # trailing\n# a comment on its own\nw = z\n    # an indented comment\nv = w",
    "s = 'text'\n'a bare string, read as a docstring if it came first'\nt = s\nu = t",
    "values = [1, 2, 3]\nfor v in values:\n    total = v\n    # inside the loop\nafter = values\nagain = after",
    "def helper(q):\n    return q*2\nr = helper(3)\nclass Box:\n    pass\nbox = Box()\nlast = r",
    "import math\nroot = math.sqrt(4)\nfrom math import pi\narea = pi * root\nagain = area",
    "argument_number_one = argument_number_two = 1\n"
    "long_name_for_a_value = some_function_with_a_long_name(argument_number_one, argument_number_two, 3)\n"
    "more = long_name_for_a_value\nand_more = more",
    "total = (1 +\n         2)\nother = total \\\n    + 1\nmultiline = '''line one\nline two'''\nend = multiline",
    "a = 1\nassert a == 1, 'a is one'\ndel a\nb = 2\ndone = b",
    "x = [\n    1,\n    2,\n]\ny = f(x, )\nz = y",
]


def some_function_with_a_long_name(*args):  # (what the step above calls, so the cell runs)
    return args


@pytest.fixture
def every_cut(tmp_path, monkeypatch):
    """Cut at every place the rule allows, with nothing remembered from before."""
    monkeypatch.setenv("NB2PROD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(_format, "function_runs", functools.partial(_chunks.function_runs, every=1))
    _piece_store._stored_pieces.cache_clear()
    _piece_store.take_fresh_pieces()
    yield
    _piece_store._stored_pieces.cache_clear()
    _piece_store.take_fresh_pieces()


def _items(paths: list[Path]) -> list[Prepared]:
    found = []
    for path in paths:
        try:
            found += [i for i in prepare([path], path.parent / "never-written", root=path.parent) if isinstance(i, Prepared)]
        except Exception:  # the broken/ fixtures, on purpose
            continue
    return found


def test_every_cut_in_the_fixture_and_example_notebooks_is_what_black_writes(every_cut) -> None:
    files = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".ipynb", ".py") and "__pycache__" not in p.parts)
    items = _items(files + sorted(NOTEBOOKS.iterdir()))
    assert len(items) >= 40
    cut = 0
    for item in items:
        assert _format.format_module(item.source, item.plan.name, _MAIN) == black.format_str(item.source, mode=black.Mode()), item.plan.name
        head = item.source[: item.source.rfind(_format._RUN_START) + 1]
        cut += sum(_chunks.function_runs(p, every=1) is not None for p in _format._pieces(head))
    assert cut >= 40  # the runs are really cut


def test_every_cut_in_awkward_steps_is_what_black_writes(tmp_path: Path, every_cut) -> None:
    cells = [("import math\nfrom tests.unit.generate.test_chunks import some_function_with_a_long_name as some_function_with_a_long_name\nf = print", ["imports"]), ("n = 1", ["parameters"])]
    for k, code in enumerate(AWKWARD_STEPS):
        cells.append((code, [f"step:s{k}"]))
    write_notebook(tmp_path, cells, name="awkward.ipynb")
    (item,) = _items([tmp_path / "awkward.ipynb"])
    head = item.source[: item.source.rfind(_format._RUN_START) + 1]
    runs = [r for p in _format._pieces(head) if (r := _chunks.function_runs(p, every=1)) is not None]
    assert len(runs) >= 6 and sum(len(r.runs) for r in runs) >= 20 and any(r.head for r in runs)
    assert _format.format_module(item.source, item.plan.name, _MAIN) == black.format_str(item.source, mode=black.Mode())


def test_editing_one_statement_formats_only_its_run_again(tmp_path: Path, every_cut) -> None:
    step = "\n".join(f"value_{i} = {i} * n" for i in range(12))
    step += "\nresult = sum([" + ", ".join(f"value_{i}" for i in range(12)) + "])"
    cells = [("n = 2", ["parameters"]), (step, ["step:compute", "parity:result"])]
    write_notebook(tmp_path, cells, name="long_step.ipynb")
    (item,) = _items([tmp_path / "long_step.ipynb"])
    assert _format.format_module(item.source, item.plan.name, _MAIN) == black.format_str(item.source, mode=black.Mode())
    first = _piece_store.take_fresh_pieces()
    edited = item.source.replace("value_7 = 7 * n", "value_7 = 70 * n")
    assert edited != item.source
    assert _format.format_module(edited, item.plan.name, _MAIN) == black.format_str(edited, mode=black.Mode())
    again = [k for k in _piece_store.take_fresh_pieces() if not k.startswith("syntax:")]
    assert len(first) > 5 and len(again) == 2  # the edited statement's run, and the step it is in
