"""nb2prod's cheaper black (``nb2prod.generate._format``) must write exactly what plain ``black.format_str`` writes."""

from __future__ import annotations

from pathlib import Path

import black
import pytest

from nb2prod.generate import _chunks
from nb2prod.generate._format import format_module
from nb2prod.generate.codegen import _MAIN, stamp
from nb2prod.store.build import Prepared, prepare
from tests.conftest import NOTEBOOKS
from tests.nbfactory import write_notebook


def _black(source: str) -> str:
    return black.format_str(source, mode=black.Mode())


def _prepared(folder: Path) -> list[Prepared]:
    items = prepare([folder], folder / "never-written")
    assert all(isinstance(i, Prepared) for i in items)
    return items  # type: ignore[return-value]


def test_examples_format_exactly_like_black() -> None:
    items = prepare([NOTEBOOKS], NOTEBOOKS.parent / "does-not-exist")
    assert len(items) >= 3
    for item in items:
        assert isinstance(item, Prepared)
        assert format_module(item.source, item.plan.name, _MAIN) == _black(item.source)


PARAMETER_CELLS = [
    "a = 1",  # short signature: stays on one line
    "alpha = 1.0\nbeta = 'x'\ngamma = [1, 2]",  # mutable default, quoted string default
    "n_estimators = 100\nmax_depth = 4\nlearning_rate = 0.1\nsubsample = 0.8",  # 3-line signature
    # one argument per line, defaults holding commas, quotes and brackets
    "a_long_parameter_name = 'it\\'s, \"quoted\"'\nanother_long_name = {'k': (1, 2), 'v': [3, 4]}\n"
    "third_parameter_with_a_long_name = 123456789\nfourth = None\nfifth = True",
    # a default too long for its own line
    "values = [" + ", ".join(str(i) for i in range(40)) + "]\nscale = 2.5",
]


@pytest.mark.parametrize("params", PARAMETER_CELLS)
@pytest.mark.parametrize("name", ["m", "model_with_a_rather_long_module_name_for_wrapping"])
def test_generated_modules_format_exactly_like_black(tmp_path: Path, params: str, name: str) -> None:
    cells = [
        ("import numpy as np\nimport os, sys", ["imports"]),
        (params, ["parameters"]),
        ("data = np.arange(10)\nresult = {'a': 1, \"b\": data.sum()}", ["step:load"]),
        ("out = float(result['b'])  # trailing comment", ["step:score", "parity:out", "metric:result"]),
    ]
    write_notebook(tmp_path, cells, name=f"{name}.ipynb")
    (item,) = _prepared(tmp_path)
    assert format_module(item.source, item.plan.name, _MAIN) == _black(item.source)


def test_fmt_off_and_unusual_sources_fall_back_to_whole_module_black(tmp_path: Path) -> None:
    cells = [
        ("import numpy as np\n# fmt: off\nGRID = [1,2,\n   3]", ["functions"]),
        ("x = np.ones(3)", ["step:a", "parity:x"]),
    ]
    write_notebook(tmp_path, cells, name="fmt.ipynb")
    (item,) = _prepared(tmp_path)
    assert format_module(item.source, item.plan.name, _MAIN) == _black(item.source)
    assert format_module("x = ( 1 )\n", "x", _MAIN) == "x = 1\n"  # no template at the end


def test_a_build_in_worker_processes_writes_what_black_writes(tmp_path: Path) -> None:
    from nb2prod.store.build import build

    for k in range(8):  # enough notebooks for the build to fork workers
        cells = [(f"k = {k}", ["parameters"]), (f"y{k} = [k] * {k + 1}", ["step:s", f"parity:y{k}"])]
        write_notebook(tmp_path, cells, name=f"nb_{'x' * k}{k}.ipynb")
    items = prepare([tmp_path], tmp_path / "gen", root=tmp_path)
    report = build([tmp_path], tmp_path / "gen", root=tmp_path)
    assert [r.status for r in report.rows] == ["new"] * 8
    for item in items:
        assert isinstance(item, Prepared)
        written = (tmp_path / "gen" / item.plan.name / "v1" / "pipeline.py").read_text()
        assert written == stamp(item.plan, "v1") + _black(item.source)


def test_black_errors_name_the_notebook() -> None:
    from nb2prod.errors import AnalysisError
    from nb2prod.generate.codegen import format_code

    (item,) = [i for i in prepare([NOTEBOOKS], NOTEBOOKS.parent / "none") if i.plan.name == "iris_kale"]
    with pytest.raises(AnalysisError, match="black cannot format") as raised:
        format_code("x = (\n", item.plan)
    assert raised.value.path == item.plan.notebook.display_path


LITERALS = [
    "1", "-3", "0.5", "1e-07", "1e+20", "'x'", '"double"', "'it, has: commas'", "None", "True",
    "(1, 2)", "(1,)", "('a',)", "('a', 'b')", "()", "[1, 'a']", "{'k': (1, 2)}", "{1, 2}", "[]",
    "'say \"hi\"'", "-1.5", "b'raw'", "1j", "'tab\\tbed'", "'données'",
]


# Code that, alone, black would allow for Python 3.3: how it lays this out depends on the versions it
# infers from the whole module (nb2prod's own run() and main() use f-strings: 3.6+).
FEATURES = (
    "def a_function_with_a_long_name(first_argument_name, second_argument_name, third_argument_name,"
    " *more_arguments,"
    " **keyword_arguments):\n    return first_argument_name"
)


def _shapes() -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """Notebooks whose run() takes every layout: few or many parameters, short or long names,
    every kind of literal, step calls and a return dict that fit on a line or not."""
    shapes = []
    for n_params in (0, 1, 2, 3, 5, 9, 14, 25):
        for width in (1, 9, 30):
            params = "\n".join(
                f"{'p' * width}{i} = {LITERALS[(i + width) % len(LITERALS)]}" for i in range(n_params)
            )
            outs = [f"{'o' * width}{k}" for k in range(max(1, n_params // 3))]
            cells: list[tuple[str, list[str]]] = [("import math", ["imports"]), (FEATURES, ["functions"])]
            if params:
                cells.append((params, ["parameters"]))
            cells.append(("\n".join(f"{o} = math.pi * {k}" for k, o in enumerate(outs)), ["step:make"]))
            cells.append((f"total = {' + '.join(outs)}", ["step:sum", "parity:total", f"metric:{outs[0]}"]))
            shapes.append((f"m{n_params}_{width}", cells))
    return shapes


def test_run_laid_out_without_black_is_exactly_what_black_writes(tmp_path: Path) -> None:
    from nb2prod.generate._format import _RUN_START, _run_as_black_writes_it

    laid_out = 0
    for name, cells in _shapes():
        write_notebook(tmp_path, cells, name=f"{name}.ipynb")
    for item in _prepared(tmp_path):
        assert format_module(item.source, item.plan.name, _MAIN) == _black(item.source), item.plan.name
        head = item.source[: item.source.rfind("\ndef main(")]
        laid_out += _run_as_black_writes_it(head[head.rfind(_RUN_START) + 3 :]) is not None
    assert laid_out >= 8  # the shortcut is really taken (the odd literals above take the fallback)


def test_the_examples_run_is_laid_out_without_black() -> None:
    from nb2prod.generate._format import _RUN_START, _run_as_black_writes_it

    for item in prepare([NOTEBOOKS], NOTEBOOKS.parent / "does-not-exist"):
        head = item.source[: item.source.rfind("\ndef main(")]
        assert _run_as_black_writes_it(head[head.rfind(_RUN_START) + 3 :]) is not None


def test_black_makes_one_pass_over_the_examples() -> None:
    """black re-formats anything its first pass changed: the head handed to it is already in its
    layout, so each example costs one pass (the saving is what ``_preshape`` is for)."""
    from black import _format_str_once

    from nb2prod.generate._format import _RUN_START, _preshape

    for item in prepare([NOTEBOOKS], NOTEBOOKS.parent / "does-not-exist"):
        head = item.source[: item.source.rfind(_RUN_START) + 1]
        shaped = _preshape(head)
        assert _format_str_once(shaped, mode=black.Mode()) == shaped, item.plan.name


def test_main_layouts_are_remembered_on_disk_and_a_damaged_one_is_redone(tmp_path, monkeypatch):
    import json

    from nb2prod.generate import _format

    monkeypatch.setenv("NB2PROD_CACHE_DIR", str(tmp_path))
    _format._format_template.cache_clear()
    _format._stored_templates.cache_clear()
    assert _format.uncached_template_lengths(_MAIN, {5, 9}) == {5, 9}
    fresh = _format._format_template(_MAIN, 5)
    assert fresh == _black(_MAIN.format(name="Q" * 5).strip() + "\n")
    assert _format.uncached_template_lengths(_MAIN, {5, 9}) == {9}
    stored = tmp_path / _format._TEMPLATES_FILE
    damaged = {key: text.replace("argparse", "evil") for key, text in json.loads(stored.read_text()).items()}
    stored.write_text(json.dumps(damaged))
    _format._format_template.cache_clear()
    _format._stored_templates.cache_clear()  # as a new process would: it reads the damaged file
    assert _format._format_template(_MAIN, 5) == fresh  # not the damaged text: formatted again
    _format._format_template.cache_clear()
    _format._stored_templates.cache_clear()


REAL = NOTEBOOKS.parent / "tests" / "fixtures" / "notebooks" / "real"


@pytest.fixture
def fresh_layouts(tmp_path, monkeypatch):
    """An empty on-disk cache and empty in-process layouts (as a new machine has), restored after."""
    from nb2prod.generate import _format, _piece_store

    monkeypatch.setenv("NB2PROD_CACHE_DIR", str(tmp_path / "cache"))
    _piece_store._stored_pieces.cache_clear()
    _piece_store.take_fresh_pieces()
    yield _format
    _piece_store._stored_pieces.cache_clear()
    _piece_store.take_fresh_pieces()


def _real_items() -> list[Prepared]:
    files = sorted(p for p in REAL.iterdir() if p.suffix in (".ipynb", ".py"))
    items = prepare(files, REAL / "never-written", root=REAL)
    assert len(items) >= 15
    return items  # type: ignore[return-value]


def test_real_shaped_modules_piece_by_piece_and_from_the_cache_are_what_black_writes(fresh_layouts) -> None:
    _format = fresh_layouts
    cut = 0
    for item in _real_items() + prepare([NOTEBOOKS], NOTEBOOKS.parent / "none"):  # type: ignore[operator]
        want = _black(item.source)
        assert format_module(item.source, item.plan.name, _MAIN) == want, item.plan.name
        assert format_module(item.source, item.plan.name, _MAIN) == want, item.plan.name  # cached
        head = item.source[: item.source.rfind(_format._RUN_START) + 1]
        cut += len(_format._pieces(head)) > 1
    assert cut >= 15  # the pieces are really cut (a notebook only goes whole for newer syntax)


def test_editing_one_cell_formats_one_piece_again_and_layouts_survive_the_process(fresh_layouts) -> None:
    from nb2prod.generate import _piece_store

    _format = fresh_layouts
    item = next(i for i in _real_items() if i.plan.name == "kale_titanic")
    format_module(item.source, item.plan.name, _MAIN)
    first = {k: v for k, v in _piece_store.take_fresh_pieces().items() if not k.startswith("syntax:")}
    assert len(first) >= 5
    _piece_store.remember_pieces(first)
    _piece_store._stored_pieces.cache_clear()  # a new process reads them from disk
    edited = item.source.replace("    train_df = pd.read_csv(TRAIN_PATH)\n", "    train_df = pd.read_csv(TRAIN_PATH )\n")
    edited = edited.replace('    "N_TREES": 60,', '    "N_TREES": 61,').replace("N_TREES = 60", "N_TREES = 61")
    assert edited != item.source
    formatted = format_module(edited, item.plan.name, _MAIN)
    assert formatted == _black(edited)
    again = {k: v for k, v in _piece_store.take_fresh_pieces().items() if not k.startswith("syntax:")}
    # the edited step (and, when it is cut into runs, the run with the edit); the changed
    # parameter value is laid out directly
    step = formatted[formatted.index("def loaddata(") :].split("\n\n\n")[0]
    assert 1 <= len(again) <= 2 and all(v.removeprefix(_chunks.WRAPPER) in step for v in again.values())


NEWER = [
    ("print(f'{x=}')", "other"), ("print(f'{x = !r:>8}')", "other"), ("print(f'x = {x}')", ""),
    ("if (n := 3) > 2:\n    pass", "other"), ("def f(a, /):\n    pass", "posonly"),
    ("match x:\n    case 1:\n        pass", "other"), ("with (open(a) as f, open(b) as g):\n    pass", "other"),
    ("with open(a) as f:\n    pass", ""), ("def g():\n    return *a, b", "other"), ("x: tuple = 1, 2", "other"),
    ("a[*b]", "other"), ("@x[0]\ndef f():\n    pass", "other"), ("@a.b(1)\ndef f():\n    pass", ""),
    ("async def f():\n    await g()", "other"), ("from __future__ import annotations", "other"),
    ("try:\n    pass\nexcept* E:\n    pass", "other"), ("try:\n    pass\nexcept (A, B):\n    pass", ""),
]


@pytest.mark.parametrize(("code", "expected"), NEWER)
def test_syntax_newer_than_python_3_6_is_seen(code: str, expected: str) -> None:
    from nb2prod.generate._black_features import _newer_syntax

    assert _newer_syntax(code) == expected


@pytest.mark.parametrize("code", [c for c, e in NEWER if e == "other" and "__future__" not in c])
def test_a_module_with_newer_syntax_is_what_black_writes(tmp_path: Path, code: str, fresh_layouts) -> None:
    """black infers the Python versions from the whole module: a step with newer syntax changes
    the layout of the others (the module then goes to black in one piece)."""
    helper = "async def g():\n    return 1" if "await" in code else "def g():\n    return 1"
    wide = "with open('a_rather_long_file_name.txt') as first_file, open('another_long_name.txt') as second:\n    pass"
    cells = [
        ("import os", ["imports"]),
        (f"{helper}\nx, a, b, E, A, B = 1, [2], 3, OSError, KeyError, ValueError", ["functions"]),
        ("n = 1", ["parameters"]),
        (wide.replace("pass", "y = 1"), ["step:first"]),
        (code.replace("pass", "z = 2").replace("return *a, b", "return [*a, b]"), ["step:second"]),
    ]
    write_notebook(tmp_path, cells, name="newer.ipynb")
    items = prepare([tmp_path / "newer.ipynb"], tmp_path / "never-written", root=tmp_path)
    (item,) = items
    assert isinstance(item, Prepared)
    assert format_module(item.source, item.plan.name, _MAIN) == _black(item.source)


def test_a_notebook_with_only_parameters_and_steps_goes_piece_by_piece(tmp_path: Path, fresh_layouts) -> None:
    _format = fresh_layouts
    cells = [("n = 3\nname = 'x'", ["parameters"]), ("y = [n] * n", ["step:a", "parity:y"]), ("z = name * 2", ["step:b"])]
    write_notebook(tmp_path, cells, name="bare.ipynb")
    (item,) = _prepared(tmp_path)
    head = item.source[: item.source.rfind(_format._RUN_START) + 1]
    assert _format._format_head(head, black.Mode()) is not None  # not handed back to whole-module black
    assert format_module(item.source, item.plan.name, _MAIN) == _black(item.source)


def _long_statement_shapes() -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """Notebooks whose run() has step calls and a returned dict too long for a line: split at the
    bracket with the inside on one line, one item a line, a head too long, an item too long."""
    shapes = []
    for n_outs in (1, 2, 4, 7):
        for width in (3, 8, 12, 20, 40, 75):
            outs = [f"{'o' * width}{k}" for k in range(n_outs)]
            step = "\n".join(f"{o} = math.pi * {k}" for k, o in enumerate(outs))
            use = f"total = {' + '.join(outs)}"
            tags = ["step:" + "s" * min(width, 60), "parity:total", *(f"parity:{o}" for o in outs[:3])]
            cells = [
                ("import math", ["imports"]),
                ("items = [1, 2]\ncolumns = {'a': 1}", ["parameters"]),
                (step + "\nfirst = items[0] + columns['a']", ["step:make"]),
                (use + " + first", tags),
            ]
            shapes.append((f"long{n_outs}_{width}", cells))
    return shapes


def test_long_run_statements_laid_out_without_black_are_what_black_writes(tmp_path: Path) -> None:
    from nb2prod.generate._run_layout import _RUN_START, _run_as_black_writes_it

    laid_out, split = 0, {"return": 0, "call": 0}
    for name, cells in _long_statement_shapes():
        write_notebook(tmp_path, cells, name=f"{name}.ipynb")
    for item in _prepared(tmp_path):
        want = _black(item.source)
        assert format_module(item.source, item.plan.name, _MAIN) == want, item.plan.name
        head = item.source[: item.source.rfind("\ndef main(")]
        fast = _run_as_black_writes_it(head[head.rfind(_RUN_START) + 3 :])
        laid_out += fast is not None
        split["return"] += fast is not None and "    return {\n" in fast
        split["call"] += fast is not None and "= make(\n" in fast
    assert laid_out >= 10 and min(split.values()) >= 1  # really laid out here, not by black


CONFIG = [  # (the imports cell's statement, whether run() is still laid out without black reading it)
    ("np.random.seed( 1 )", True),
    ("warnings.filterwarnings('ignore',category=UserWarning)", True),
    ("pd.options.display.max_rows=10", True),
    ("for i in range(3): np.random.seed(i)", False),  # a compound statement: black reads run()
    ("warnings.filterwarnings(\n    'ignore'\n)", True),
    ("np.random.seed(1);", True),
    ("pd.set_option('display.width', 100)", True),
    ("seed_everything()", True),
    ("# the same draws every run\nnp.random.seed(0)\n\nwarnings.simplefilter('ignore')", True),
    ("pd.set_option('display.float_format', lambda x: '{:.3f}'.format(x)) #Limiting floats", True),
]


@pytest.mark.parametrize(("statement", "laid_out"), CONFIG)
def test_the_notebooks_configuration_in_run_is_what_black_writes(
    tmp_path: Path, statement: str, laid_out: bool, fresh_layouts
) -> None:
    """The imports cell's seeding and options run at the start of run(): they are the notebook's
    code, in whatever spelling, so black lays them out (remembered by their text, as the pieces
    are), and nb2prod's own lines around them are written directly."""
    import functools

    from nb2prod.generate._run_layout import _RUN_START, _run_as_black_writes_it

    imports = "import warnings\nimport numpy as np\nimport pandas as pd\nfrom random import seed as seed_everything\n"
    cells = [
        (imports + statement, ["imports"]),
        ("seed = 3", ["parameters"]),
        ("y = np.ones(3) * seed", ["step:a", "parity:y"]),
    ]
    write_notebook(tmp_path, cells, name="configured.ipynb")
    (item,) = _prepared(tmp_path)
    code_lines = [line for line in statement.split("\n") if line and not line.startswith("#")]
    assert "    " + code_lines[0] in item.source  # really in run(), as written
    assert format_module(item.source, item.plan.name, _MAIN) == _black(item.source)
    head = item.source[: item.source.rfind("\ndef main(")]
    pieces = functools.partial(fresh_layouts._format_alone, mode=black.Mode())
    assert (_run_as_black_writes_it(head[head.rfind(_RUN_START) + 3 :], pieces) is not None) == laid_out
