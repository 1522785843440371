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
        cells.append((code, [f"step:s{k}", "keep"]))  # no target: keep every step whole
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


@pytest.fixture
def default_cuts(tmp_path, monkeypatch):
    """The build's own cuts (one in three), with nothing remembered from before."""
    monkeypatch.setenv("NB2PROD_CACHE_DIR", str(tmp_path / "cache"))
    _piece_store._stored_pieces.cache_clear()
    _piece_store.take_fresh_pieces()
    yield
    _piece_store._stored_pieces.cache_clear()
    _piece_store.take_fresh_pieces()


def _laid_out_alone(part: str) -> str:
    mark = _format._VERSIONS_MARK
    return black.format_str(_chunks.WRAPPER + part + "\n\n\n" + mark, mode=black.Mode())[len(_chunks.WRAPPER) : -len("\n\n\n" + mark)]


def test_a_runs_layout_splits_into_what_black_writes_for_each_part_alone(tmp_path: Path, default_cuts) -> None:
    cells = [("import math\nf = print", ["imports"]), ("n = 1", ["parameters"])]
    cells += [(code, [f"step:s{k}"]) for k, code in enumerate(AWKWARD_STEPS)]
    write_notebook(tmp_path, cells, name="awkward.ipynb")
    items = _items([tmp_path / "awkward.ipynb"]) + _items(sorted((FIXTURES / "real").glob("*.ipynb")))
    split = 0
    for item in items:
        head = item.source[: item.source.rfind(_format._RUN_START) + 1]
        for piece in _format._pieces(head):
            cut = _chunks.function_runs(piece)
            for i, ((_, run), parts) in enumerate(zip(cut.runs if cut else [], cut.parts if cut else [], strict=True)):
                if len(parts) < 2 or (i == 0 and cut.head is None):
                    continue
                layout = _laid_out_alone(run)
                texts = _chunks.split_layout(_chunks.WRAPPER + layout, parts)
                assert texts is not None, run
                assert texts == [_laid_out_alone(part) for _, part, _ in parts], run
                split += 1
    assert split >= 10


def test_a_run_with_one_statement_changed_sends_black_that_statement_only(tmp_path: Path, default_cuts, monkeypatch) -> None:
    step = "\n".join(f"value_{i} = {i} * n" for i in range(30))
    step += "\nresult = sum([" + ", ".join(f"value_{i}" for i in range(30)) + "])"
    write_notebook(tmp_path, [("n = 2", ["parameters"]), (step, ["step:compute", "parity:result"])], name="long.ipynb")
    (item,) = _items([tmp_path / "long.ipynb"])
    assert _format.format_module(item.source, item.plan.name, _MAIN) == black.format_str(item.source, mode=black.Mode())
    edited = item.source.replace("value_17 = 17 * n", "value_17 = 170 * n")
    want = black.format_str(edited, mode=black.Mode())
    sent: list[str] = []
    real_format_str = black.format_str
    monkeypatch.setattr(black, "format_str", lambda text, mode: sent.append(text) or real_format_str(text, mode=mode))
    assert _format.format_module(edited, item.plan.name, _MAIN) == want
    assert len(sent) == 1 and "value_17 = 170 * n" in sent[0]
    assert [line for line in sent[0].splitlines() if "value_" in line] == ["    value_17 = 170 * n"]


def test_copies_each_with_a_line_of_its_own_are_what_black_writes(default_cuts) -> None:
    """As the benchmark's real-shaped corpus: the same notebooks again and again, one new line in
    a step of each copy, so most of a run is known and black sees the new line."""
    items = _items(sorted((FIXTURES / "real").glob("*.ipynb")))
    checked = 0
    for copy in range(3):
        for item in items:
            lines = item.source.split("\n")
            at = next((i for i, line in enumerate(lines) if line.startswith("def ") and '"""' in lines[i + 1]), None)
            if at is None:
                continue
            lines.insert(at + 3, f"    copy_scale = {copy + 1} / {copy + 2}  # copy {copy}")
            source = "\n".join(lines)
            try:
                compile(source, item.plan.name, "exec")
            except SyntaxError:
                continue
            want = black.format_str(source, mode=black.Mode())
            assert _format.format_module(source, item.plan.name, _MAIN) == want, (item.plan.name, copy)
            checked += 1
    assert checked >= 20
