"""Issue 14, the data-flow half: each reproduction is a fixture under fixtures/notebooks/fidelity/,
built for real and, where the point is what the pipeline does, imported and run in a fresh process."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nb2prod.analyse.lineage import data_files, find_reads, find_writes
from nb2prod.analyse.planner import analyse
from nb2prod.errors import AnalysisError
from nb2prod.read.notebook import load_notebook
from nb2prod.store.build import build
from tests.conftest import FIXTURES
from tests.nbfactory import write_notebook

FIDELITY = FIXTURES / "notebooks" / "fidelity"


def copied(tmp_path: Path, relative: str) -> Path:
    """The fixture (with the files beside it) copied into a folder of the test's own."""
    source = FIDELITY / relative
    folder = tmp_path / "project"
    if source.parent != FIDELITY:
        shutil.copytree(source.parent, folder)
    else:
        folder.mkdir()
        shutil.copy(source, folder / source.name)
    return folder / source.name


def plan_of(path: Path):
    return analyse(load_notebook(path, root=path.parent))


def built(path: Path) -> tuple[Path, str]:
    """Build ``path`` into ``<its folder>/gen``; the package root and the module name."""
    out = path.parent / "gen"
    report = build([path], out, root=path.parent)
    assert report.exit_code == 0
    return path.parent, report.rows[0].name


def run_pipeline(root: Path, name: str, cwd: Path, call: bool = True) -> dict:
    """Import ``gen.<name>`` in a fresh interpreter whose working folder is ``cwd``; run() it."""
    code = (
        f"import pickle, sys; sys.path.insert(0, {str(root)!r}); import gen.{name} as m; "
        f"sys.stdout.buffer.write(pickle.dumps(m.run() if {call} else {{}}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    return pickle.loads(result.stdout)


# -- item 1: global in notebook functions ------------------------------------------------------------


def test_a_step_function_declaring_global_changes_the_steps_own_variable(tmp_path):
    path = copied(tmp_path, "global_in_step.ipynb")
    root, name = built(path)
    source = (root / "gen" / name / "v1" / "pipeline.py").read_text()
    assert "nonlocal df" in source and "global df" not in source
    df = run_pipeline(root, name, root)["df"]
    assert df.to_dict("list") == {"a": [1, 2], "b": [2, 4]}


def test_a_functions_cell_function_declaring_global_becomes_a_closure_of_its_caller(tmp_path):
    path = copied(tmp_path, "global_in_functions.ipynb")
    plan = plan_of(path)
    more = {s.name: s for s in plan.steps}["more"]
    assert more.inputs == ("df",)  # add_c() reads df; setup() only writes settings
    assert "def add_c" not in plan.functions and "def add_c" in more.code
    root, name = built(path)
    result = run_pipeline(root, name, root)
    assert result["df"].to_dict("list") == {"a": [1, 2], "c": [1, 1]}
    assert result["total"] == 20


def test_a_global_function_called_from_another_step_is_refused_naming_both_cells(tmp_path):
    path = copied(tmp_path, "global_across_steps.ipynb")
    with pytest.raises(AnalysisError) as err:
        plan_of(path)
    text = str(err.value)
    assert err.value.exit_code == 2
    assert "'bump' (cell 0)" in text and "global 'df'" in text and "cell 1" in text
    assert "step 'use'" in text and "functions" in text


# -- item 2: hoisted imports that would change meaning ------------------------------------------------


def test_an_import_after_a_definition_of_the_same_name_stays_where_it_stands(tmp_path):
    path = copied(tmp_path, "shadowed_import/shadowed_import.ipynb")
    plan = plan_of(path)
    assert "helpers" not in plan.header and "from helpers import score" in plan.steps[0].code
    root, name = built(path)
    assert run_pipeline(root, name, root)["r"] == 2  # what the notebook gives


def test_an_import_of_a_module_a_skipped_cell_writes_keeps_the_module_importable(tmp_path):
    path = copied(tmp_path, "written_module.ipynb")
    plan = plan_of(path)
    assert "made_here" not in plan.header
    assert any("cell 0" in w and "writes the module" in w for w in plan.warnings)
    root, name = built(path)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert run_pipeline(root, name, fresh, call=False) == {}  # `import gen.x` works anywhere
    assert run_pipeline(root, name, fresh)["r"] == 3  # and run() writes the module it imports
    assert (fresh / "made_here.py").read_text() == "def score():\n    return 3\n"


def test_a_module_a_step_writes_is_imported_by_the_later_step_in_a_fresh_folder(tmp_path):
    path = copied(tmp_path, "step_writes_module.ipynb")
    root, name = built(path)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert run_pipeline(root, name, fresh)["r"] == 4
    assert (fresh / "made_by_step.py").is_file()


def test_identical_imports_still_move_to_the_header(tmp_path):
    plan = analyse(load_notebook(write_notebook(tmp_path, [
        ("import math\nx = math.pi", ["step:a"]),
        ("import math\ny = math.floor(x)", ["step:b", "parity:y"]),
    ]), root=tmp_path))
    assert plan.header == "import math" and "import" not in plan.steps[1].code


# -- item 7: for targets ---------------------------------------------------------------------------


def test_a_for_target_is_a_definite_write(tmp_path):
    steps = {s.name: s for s in plan_of(copied(tmp_path, "for_target.ipynb")).steps}
    assert steps["score"].inputs == ("X",)
    assert steps["fit"].outputs == ("X",)


# -- item 8: non-mutating calls ----------------------------------------------------------------------


def test_calls_that_do_not_change_their_object_are_not_outputs(tmp_path):
    steps = {s.name: s for s in plan_of(copied(tmp_path, "non_mutating.ipynb")).steps}
    assert steps["predict"].outputs == ("y_pred", "shuffled", "snapshot")
    assert steps["clean"].outputs == ("df",)  # inplace=True is a change
    assert set(steps["report"].inputs) == {"shuffled", "snapshot", "df"}
    # `score` in step clean feeds no target, so the slice drops it and fit need not hand on y
    assert steps["fit"].outputs == ("X", "scaler", "model", "df")


def test_fit_and_item_assignment_are_still_changes(tmp_path):
    steps = {s.name: s for s in analyse(load_notebook(write_notebook(tmp_path, [
        ("from sklearn.linear_model import Ridge\nm = Ridge()\nd = {}", ["step:make"]),
        ("m.fit([[0.0], [1.0]], [0.0, 1.0])\nd['k'] = 1", ["step:train"]),
        ("out = (m.coef_.tolist(), d)", ["step:use", "parity:out"]),
    ]), root=tmp_path)).steps}
    assert steps["train"].outputs == ("m", "d")


# -- item 9: files are data flow ---------------------------------------------------------------------


def test_a_file_one_step_writes_and_another_reads_is_flow_not_data(tmp_path):
    path = copied(tmp_path, "file_handoff/file_handoff.ipynb")
    plan = plan_of(path)
    steps = {s.name: s for s in plan.steps}
    assert steps["train"].depends_on == ("prepare",)
    entries, warnings = data_files(plan, path.parent)
    assert [(e["path"], e.get("via")) for e in entries] == [("data/raw.csv", "parameter source_dir")]
    assert entries[0]["sha256"] and warnings == []


def test_the_file_reader_runs_after_the_writer_when_tags_move_the_writer(tmp_path):
    plan = analyse(load_notebook(write_notebook(tmp_path, [
        ('import json\njson.dump({"k": 1}, open("a.json", "w"))', ["step:write", "after:late"]),
        ('out = json.load(open("a.json"))', ["step:read", "parity:out"]),
        ("late = 1", ["step:late", "parity:late"]),
    ]), root=tmp_path))
    assert [s.name for s in plan.steps] == ["late", "write", "read"]


@pytest.mark.parametrize(("code", "expected"), [
    ('df = pd.read_csv(data_dir + "x.csv")', "data/x.csv"),
    ('df = pd.read_csv(f"{data_dir}x_{year}.csv")', "data/x_2024.csv"),
    ('df = pd.read_csv(os.path.join(data_dir, "sub", "x.csv"))', "data/sub/x.csv"),
    ('p = os.path.join(data_dir, "x.csv")\ndf = pd.read_csv(p)', "data/x.csv"),
])
def test_paths_built_from_literals_and_parameters_resolve(code, expected):
    reads = find_reads(code, "step 's'", {"data_dir": "data/", "year": 2024})
    assert [r.path for r in reads] == [expected]


@pytest.mark.parametrize(("code", "expected"), [
    ('df.to_csv("out.csv")', "out.csv"),
    ('plt.savefig(fname=f"{out}/fig.png")', "results/fig.png"),
    ('joblib.dump(model, out + "/m.joblib")', "results/m.joblib"),
    ('torch.save(state, "w.pt")', "w.pt"),
    ('np.save("a.npy", arr)', "a.npy"),
    ('booster.save_model("model.txt")', "model.txt"),
    ('json.dump(d, open("d.json", "w"))', "d.json"),
    ('Path("notes.txt").write_text("x")', "notes.txt"),
])
def test_file_writers_are_found(code, expected):
    assert find_writes(code, {"out": "results"}) == [expected]


# -- item 10: imports made only in skipped or unexported cells ---------------------------------------


def test_an_import_only_a_skipped_cell_makes_goes_to_the_header_with_a_line(tmp_path):
    path = copied(tmp_path, "import_in_skipped.ipynb")
    plan = plan_of(path)
    assert plan.header.splitlines() == [
        "import numpy as np", "from sklearn.tree import DecisionTreeClassifier",
    ]
    assert any("cell 2" in w and "DecisionTreeClassifier" in w and "header" in w for w in plan.warnings)
    root, name = built(path)
    assert run_pipeline(root, name, root)["pred"].tolist() == [0] * 5 + [1] * 5


def test_a_non_import_definition_in_a_skipped_cell_is_still_an_error(tmp_path):
    with pytest.raises(AnalysisError, match=r"only cell 1, which is not exported"):
        analyse(load_notebook(write_notebook(tmp_path, [
            ("x = 1", ["step:make"]),
            ("import math\nscale = math.e", ["skip"]),
            ("y = x * scale", ["step:use", "parity:y"]),
        ]), root=tmp_path))


# -- item 11: papermill's injected-parameters cell ---------------------------------------------------


def test_injected_values_become_the_parameters_defaults_and_the_manifest_says_so(tmp_path):
    path = copied(tmp_path, "injected.ipynb")
    plan = plan_of(path)
    params = {p.name: (p.default, p.type_name, p.injected) for p in plan.parameters}
    assert params == {
        "upstream": ({"raw": "raw.csv"}, "dict", True),
        "product": ({"nb": "out.ipynb"}, "dict", True),
        "scale": (3, "int", True),
    }
    root, name = built(path)
    manifest = json.loads((root / "gen" / name / "v1" / "manifest.json").read_text())
    assert manifest["parameters"]["scale"] == {"default": 3, "type": "int | float", "injected": True}
    assert run_pipeline(root, name, root)["out"] == "raw.csv:3:out.ipynb"


def test_a_writefile_cell_in_a_step_writes_the_module_the_next_step_imports(tmp_path):
    path = copied(tmp_path, "writefile_step.ipynb")
    plan = plan_of(path)
    assert "%%" not in plan.steps[0].code and "helpers_nb" not in plan.header
    root, name = built(path)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert run_pipeline(root, name, fresh)["r"] == 5
    assert (fresh / "helpers_nb.py").read_text() == "def score():\n    return 5\n"


def test_files_a_step_writes_are_its_outputs_in_the_manifest(tmp_path):
    path = copied(tmp_path, "file_handoff/file_handoff.ipynb")
    root, name = built(path)
    manifest = json.loads((root / "gen" / name / "v1" / "manifest.json").read_text())
    assert manifest["steps"]["prepare"]["writes"] == ["work/clean_2024.csv"]
    assert "writes" not in manifest["steps"]["train"]


def test_a_step_importing_a_module_another_step_writes_runs_after_it(tmp_path):
    plan = plan_of(copied(tmp_path, "writefile_step.ipynb"))
    assert {s.name: s for s in plan.steps}["use"].depends_on == ("write",)


def test_a_global_function_used_by_module_level_code_is_refused(tmp_path):
    with pytest.raises(AnalysisError) as err:
        analyse(load_notebook(write_notebook(tmp_path, [
            ("def bump():\n    global total\n    total += 1\n\n\ndef twice():\n    bump()\n    bump()",
             ["functions"]),
            ("total = 0\ntwice()", ["step:s", "parity:total"]),
        ]), root=tmp_path))
    text = str(err.value)
    assert "'bump' (cell 0)" in text and "global 'total'" in text and "functions cell" in text


def test_a_global_parameter_becomes_the_steps_own(tmp_path):
    path = write_notebook(tmp_path, [
        ("alpha = 1", ["parameters"]),
        ("def bump():\n    global alpha\n    alpha = alpha + 1\n\n\nbump()\nout = alpha", ["step:s", "parity:out"]),
    ])
    plan = analyse(load_notebook(path, root=tmp_path))
    assert plan.steps[0].inputs == ("alpha",)
    root, name = built(path)
    assert run_pipeline(root, name, root)["out"] == 2


def test_an_import_after_sys_path_changes_stays_in_its_step(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "mylib_nb.py").write_text("VALUE = 7\n")
    path = write_notebook(tmp_path, [
        ('import sys\nsys.path.insert(0, "lib")', ["step:setup"]),
        ("import mylib_nb\nimport json\nout = mylib_nb.VALUE", ["step:use", "parity:out"]),
    ])
    plan = analyse(load_notebook(path, root=tmp_path))
    assert plan.header.splitlines() == ["import sys"]  # json: imported, never used, pruned
    assert "import mylib_nb" in plan.steps[1].code
    root, name = built(path)
    assert run_pipeline(root, name, root)["out"] == 7


@pytest.mark.parametrize("body", ['def f():\n    return 1', 'PATTERN = r"\\d+"\nQUOTE = \'\'\'x\'\'\'', "a: 1\nb: [2, 3]"])
def test_writefile_becomes_python_that_writes_the_same_text_on_the_same_lines(tmp_path, body):
    from nb2prod.read.magics import mask_magics

    target = tmp_path / "out.txt"
    masked = mask_magics(f"%%writefile -a {target}\n{body}")
    assert masked.written_file == str(target) and masked.foreign_magic is None
    assert len(masked.code.splitlines()) >= len(body.splitlines())
    target.write_text("old\n")
    exec(compile(masked.code, "<cell>", "exec"), {})
    assert target.read_text() == f"old\n{body}\n"


def test_writing_or_plotting_an_object_does_not_change_it(tmp_path):
    steps = {s.name: s for s in analyse(load_notebook(write_notebook(tmp_path, [
        ("import pandas as pd\ndf = pd.DataFrame({'a': [1]})", ["step:make"]),
        ("df.to_csv('a.csv')\ndf.plot()\nsummary = df.describe()", ["step:save"]),
        ("out = (len(df), summary)", ["step:use", "parity:out"]),
    ]), root=tmp_path)).steps}
    assert steps["save"].outputs == ("summary",) and steps["use"].inputs == ("df", "summary")
    assert steps["save"].files_written == ("a.csv",)


def test_a_functions_cell_may_use_an_import_only_a_skipped_cell_makes(tmp_path):
    path = write_notebook(tmp_path, [
        ("import numpy as np\nimport json", ["skip"]),
        ("def total(values):\n    return int(np.sum(values))", ["functions"]),
        ("out = total([1, 2, 3])", ["step:s", "parity:out"]),
    ])
    plan = analyse(load_notebook(path, root=tmp_path))
    assert plan.header == "import numpy as np"  # only what exported code needs
    root, name = built(path)
    assert run_pipeline(root, name, root)["out"] == 6


def test_a_file_only_a_skipped_cell_writes_is_named_when_a_step_reads_it(tmp_path):
    plan = analyse(load_notebook(write_notebook(tmp_path, [
        ('import pandas as pd\npd.DataFrame({"a": [1]}).to_csv("made.csv")', ["skip"]),
        ('import pandas as pd\ndf = pd.read_csv("made.csv")', ["step:load", "parity:df"]),
    ]), root=tmp_path))
    assert any("cell 0" in w and "'made.csv'" in w and "never writes it" in w for w in plan.warnings)
