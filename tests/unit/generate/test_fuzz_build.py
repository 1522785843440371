"""Fuzzing the build: random notebooks from a grammar of statements, magics and tags, valid and not.

Whatever the notebook, ``build`` either succeeds, and then the generated module compiles, is
black-stable, imports, and its ``run()`` returns what executing the notebook's cells in order returns
(whenever that execution itself succeeds), or it refuses with an ``Nb2ProdError`` of exit code 2 and a
located message. Anything else (another exception, a traceback) is a bug.

CI runs a fixed 100 examples (derandomized); ``NB2PROD_FUZZ_EXAMPLES=2000 pytest tests/unit/generate/test_fuzz_build.py``
runs a longer campaign. Cases the fuzzer found are kept as explicit ``@example`` regressions.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from nb2prod.errors import EXIT_BAD_INPUT, Nb2ProdError
from nb2prod.read.magics import mask_magics
from nb2prod.store.build import build

# hypothesis looks at every TypedDict in sys.modules when it reports; black's mypy_extensions warns.
pytestmark = pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict:DeprecationWarning")
EXAMPLES = int(os.environ.get("NB2PROD_FUZZ_EXAMPLES", "100"))
NAMES = ["a", "b", "x", "y", "data", "print", "len", "run", "unknown"]
GOOD_STEPS = ["load", "train", "x", "print", "run", "load_step"]
BAD_STEPS = ["a b", "../etc", "1st", "class", "x-y"]

name = st.sampled_from(NAMES[:5] * 3 + NAMES[5:])
literal = st.sampled_from(["0", "1", "2.5", "'s'", "[1, 2]", "{'k': 1}", "None", "True", "(1,)"])
expression = st.one_of(
    literal,
    name,
    st.builds("{} + 1".format, name),
    st.builds("len([{}])".format, name),
    st.builds("[v for v in [{}]]".format, name),
    st.builds("(lambda q: q)({})".format, name),
    st.builds("f({})".format, name),
)
valid_statement = st.one_of(
    st.builds("{} = {}".format, name, expression),
    st.builds("{} = {}".format, name, expression),
    st.builds("{} += 1".format, name),
    st.builds("{}.append(1)".format, name),
    st.builds("print({})".format, name),
    st.builds("{}".format, name),  # a bare name: display only
    st.builds("del {}".format, name),
    st.builds("for {} in range(2):\n    {} = {}".format, name, name, expression),
    st.builds("if {}:\n    {} = 1\nelse:\n    {} = 2".format, name, name, name),
    st.builds("try:\n    {} = {}\nexcept Exception:\n    {} = 0".format, name, expression, name),
    st.builds("def f(q):\n    return q + {}".format, literal),
    st.builds("({} := {})".format, name, literal),
    st.builds("{}[0] = {}".format, name, expression),
    st.builds("{}, {} = {}, {}".format, name, name, expression, expression),
    st.builds("*{}, {} = [1, 2, 3]".format, name, name),
    st.builds("def g():\n    return {}".format, name),
    st.builds("{} = f'{{{}}}'".format, name, name),
    st.builds("{} = [{} for {} in range(2)]".format, name, name, name),
    st.sampled_from(["import math", "from math import sqrt", "class K:\n    pass", "global x",
                     '"""a\n%not_a_magic\n"""', "x = g()", "a = K()\na.v = 1", "import os.path",
                     "from collections import *", "def h(x=x):\n    return x"]),
)
invalid_statement = st.sampled_from(["yield 1", "return 1", "await f(1)", "x = (", "nonlocal x"])
magic = st.sampled_from([
    "%matplotlib inline", "%time x = 1", "?x", "%load_ext autoreload", "%%time",
    "!ls", "x = !ls", "%pip install foo", "%%bash\necho hi",
])
statement = st.one_of(*[valid_statement] * 10, magic, magic, invalid_statement)
step_name = st.sampled_from(GOOD_STEPS * 15 + BAD_STEPS)  # invalid names: rarely
valid_tags = st.one_of(
    st.just([]),
    st.just([]),
    st.builds(lambda s: [f"step:{s}"], step_name),
    st.builds(lambda s: [f"step:{s}"], step_name),
    st.builds(lambda s: [f"step:{s}"], step_name),
    st.builds(lambda s, v: [f"step:{s}", f"parity:{v}"], step_name, name),
    st.builds(lambda v: [f"parity:{v}"], name),
    st.builds(lambda v: [f"metric:{v}"], name),
    st.builds(lambda s: [f"block:{s}"], step_name),
    st.builds(lambda s, a: [f"step:{s}", f"after:{a}"], step_name, step_name),
    st.sampled_from([["skip"], ["imports"], ["functions"], ["pipeline-metrics"], ["NBVAL_CHECK_OUTPUT"]]),
)
invalid_tags = st.sampled_from([
    ["skip:x"], ["parity:"], ["parity:x; import os"], ["parity:y_pred"], ["skip", "step:load"],
    ["parameters"], ["step:load", "step:train"],
])
tags = st.one_of(*[valid_tags] * 12, invalid_tags)
parameters_cell = st.one_of(
    st.just("a = 1\nb = [1, 2]\nx = 0\ny = 's'\ndata = [3]"),  # every name defined: more builds
    st.lists(st.builds("{} = {}".format, name, literal), min_size=1, max_size=3).map("\n".join),
).map(lambda source: (source, ["parameters"], False))
cell = st.tuples(
    st.lists(statement, min_size=0, max_size=4).map("\n".join),
    tags,
    st.booleans(),  # write the tags as `#|` directive lines instead of metadata
)
first_step = st.tuples(
    st.lists(statement, min_size=1, max_size=4).map("\n".join),
    st.builds(lambda s: [f"step:{s}"], step_name),
    st.booleans(),
)
notebook = st.builds(
    lambda head, first, body: head + [first] + body,
    st.lists(parameters_cell, min_size=1, max_size=1) | st.just([]),
    first_step,
    st.lists(cell, min_size=0, max_size=6),
)

_counter = itertools.count()


def event(text: str) -> None:
    """Tally an outcome for ``--hypothesis-show-statistics`` (ignored outside a hypothesis test)."""
    if currently_in_test_context():
        hypothesis_event(text)


def write(folder: Path, cells: list[tuple[str, list[str], bool]], percent: bool = False) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for source, tags, as_directives in cells:
        if as_directives and tags:
            lines = [f"#| {t.partition(':')[0]}: {t.partition(':')[2]}" if ":" in t else f"#| {t}" for t in tags]
            nb.cells.append(nbformat.v4.new_code_cell("\n".join([*lines, source])))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags} if tags else {}))
    if percent:  # the same notebook as a jupytext percent-format .py file
        import jupytext

        path = folder / f"fuzz{next(_counter)}.py"
        path.write_text(jupytext.writes(nb, fmt="py:percent"), encoding="utf-8")
        return path
    path = folder / f"fuzz{next(_counter)}.ipynb"
    nbformat.write(nb, path)
    return path


def notebook_values(path: Path, targets: dict[str, int]) -> dict[str, Any] | None:
    """Execute the notebook's code cells in order in one namespace, as a kernel would (magics
    masked); each target's value right after its cell, or None when the notebook itself raises."""
    import copy

    from nb2prod.read.notebook import read_notebook_node

    nb = read_notebook_node(path)
    namespace: dict[str, Any] = {"__name__": "__fuzz__"}
    values: dict[str, Any] = {}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            for index, c in enumerate(nb.cells):
                masked = mask_magics(c.source)
                if not masked.foreign_magic:
                    exec(compile(masked.code, "<cell>", "exec"), namespace)
                for name in (t for t, cell in targets.items() if cell == index):
                    values[name] = copy.deepcopy(namespace.get(name))
    except BaseException:  # noqa: BLE001 - the notebook's own failure: nothing to compare against
        return None
    return values


def load(pipeline: Path) -> Any:
    module_id = f"_fuzz_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(module_id, pipeline)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_build(tmp_path: Path, cells: list[tuple[str, list[str], bool]], percent: bool = False) -> None:
    import black

    folder = tmp_path / f"case{next(_counter)}"
    folder.mkdir()
    path = write(folder, cells, percent)
    out = folder / "gen"
    try:
        report = build([path], out, root=folder)
    except Nb2ProdError as err:
        event(f"refused: {type(err).__name__}: {err.reason[:50]}")
        assert err.exit_code == EXIT_BAD_INPUT, err
        assert err.message.startswith(path.name) and len(err.reason) > 10, err.message
        assert not (out / path.stem).exists()
        return
    (row,) = report.rows
    pipeline = out / row.name / row.version / "pipeline.py"
    text = pipeline.read_text()
    compile(text, str(pipeline), "exec")
    assert black.format_str(text, mode=black.Mode()) == text
    manifest = json.loads((pipeline.parent / "manifest.json").read_text())
    expected = notebook_values(path, {t["name"]: t["cell"] for t in manifest["parity_targets"]})
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            module = load(pipeline)
    except Exception as exc:  # one raise site, so hypothesis sees one bug however paths differ
        if expected is None:  # the notebook raises too (`print += 1` in a functions cell): faithful
            event("built; the notebook and the module both raise")
            return
        raise AssertionError(f"the generated module does not import: {type(exc).__name__}") from exc
    event("built" if expected is None else "built, and run() compared with the notebook")
    if expected is None:
        return
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            got = module.run()
    except Exception as exc:  # one raise site, so hypothesis sees one bug however paths differ
        raise AssertionError(f"the notebook ran but run() raised {type(exc).__name__}") from exc
    assert {t: got[t] for t in row.parity} == expected


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="NB2PROD_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cells=notebook, percent=st.booleans())
# Found while fuzzing (by the fuzzer, or by reading the code it pointed at), kept as regressions:
@example(percent=False, cells=[("x = 1", ["step:print"], False), ("print(x)", ["parity:x"], False)])  # step shadowed print()
@example(percent=False, cells=[("unknown = 1", ["parameters"], False), ("x = unknown", ["step:s", "parity:x"], False)])
@example(percent=False, cells=[("yield 1", ["step:s"], False)])  # compiles at module level only inside a function
@example(percent=False, cells=[("x = 1", ["step:load"], False), ("y = x", ["step:load_step", "parity:y"], False),
                ("load = 2", ["step:z"], False)])  # two steps, one function name
@example(percent=False, cells=[("x = 1", ["step:s"], False), ("global x\nx = 2", ["step:t", "parity:x"], False)])
@example(percent=False, cells=[("x = 1", ["step:_parse_value", "parity:x"], False)])
@example(percent=False, cells=[("data = [1, 2]", ["parameters"], False), ("del data", ["step:load"], True)])  # del: input
@example(percent=False, cells=[("for y in range(2):\n    x = (lambda q: q)(len)\nlen = 0", ["step:load"], False)])
@example(percent=False, cells=[("y = 's'", ["parameters"], False), ("if False:\n    y = 2", ["step:a"], False),
                ("z = y", ["step:b", "parity:z"], False)])  # a maybe-write keeps the old value: input
@example(percent=False, cells=[("x = 1", ["step:run"], False), ("a = f'{a}'", ["imports"], True)])  # import-time read
@example(percent=False, cells=[("a = 0", ["step:load"], False), ("", ["parity:a"], False), ("del a", [], False)])
@example(percent=False, cells=[("try:\n    u = 1\nexcept Exception:\n    y = 0", ["step:a"], False),
                               ("try:\n    u = 1\nexcept Exception:\n    y = 0\ny = 0", ["step:b"], False)])
@example(percent=False, cells=[("a = f'{print}'", [], False), ("print += 1", ["functions"], False),
                               ("b = 0", ["step:s", "parity:b"], False)])  # both raise TypeError
@example(percent=False, cells=[("x = 0", ["parameters"], False), ("x += 1", ["step:load"], False),
                               ("def f(q):\n    return q + 0", ["imports"], False)])  # def after the stamp
def test_build_succeeds_with_working_code_or_refuses_with_exit_2(tmp_path_factory, cells, percent):
    check_build(tmp_path_factory.mktemp("fuzz"), cells, percent)


def test_the_grammar_reaches_both_outcomes(tmp_path):
    """The fuzzer is only worth its time if it produces both good and bad notebooks."""
    good = [("n = 1", ["parameters"], False), ("x = n + 1", ["step:load", "parity:x"], False)]
    check_build(tmp_path, good)
    with pytest.raises(Nb2ProdError):
        build([write(tmp_path, [("x = (", ["step:s"], False)])], tmp_path / "gen", root=tmp_path)
    assert sys.modules.get("black") is not None
