"""The bad-input corpus: every file in tests/fixtures/bad/ gets exit 2, a located message with a hint,
no traceback, and an output folder left byte-for-byte as it was (a version built earlier included).

The two big inputs (a 50 MB notebook of image outputs, a notebook of 5,000 cells) are valid: they are
generated here at test time, not committed, and must build.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.conftest import FIXTURES

BAD = FIXTURES / "bad"
GOOD = FIXTURES / "notebooks" / "good" / "minimal.ipynb"

# file, cell, line inside the cell, a fragment of the reason. None: the message has no such part.
CORPUS = [
    ("invalid_json.ipynb", None, None, "invalid JSON at line 69, column 2 of the file, after cell 4: a comma before ']'"),
    ("truncated.ipynb", None, None, "the file ends early, at line 42, column 4 of the file, after cell 3"),
    ("empty_file.ipynb", None, None, "the file is empty (0 bytes)"),
    ("merge_conflict.ipynb", None, None, "git merge-conflict markers (line 65 of the file, in cell 4)"),
    ("nbformat3.ipynb", None, None, "nbformat 3 notebooks are not supported"),
    ("schema_invalid.ipynb", 3, None, "fails nbformat's schema: field 'execution_count': 'one' is not of type"),
    ("empty.ipynb", None, None, "the notebook has no code cells"),
    ("two_parameters.ipynb", 1, None, "2 cells are tagged 'parameters' (cells 0, 1)"),
    ("parameters_call.ipynb", 1, 2, "parameter 'data_dir' = os.getcwd() is not a literal"),
    ("step_dotdot.ipynb", 1, None, "step name '../../etc' in tag 'step:../../etc' is not a Python identifier"),
    ("step_space.ipynb", 1, None, "step name 'load data' in tag 'step:load data' is not a Python identifier"),
    ("after_missing.ipynb", 2, None, "'after:prepare' names a step that does not exist (steps: load, train)"),
    ("after_cycle.ipynb", 1, None, "steps 'load' -> 'train' -> 'load' form a cycle"),
    ("skipped_definition.ipynb", 3, 1, "step 'train' reads 'offset', but only cell 2, which is not exported"),
    ("pip_in_step.ipynb", 2, 1, "shell escape '!pip install scikit-learn' inside exported step 'train'"),
    ("syntax_error.ipynb", 2, 2, "syntax error: '(' was never closed"),
    ("r_kernel.ipynb", None, None, "the notebook's kernel language is 'R'"),
    ("parity_undefined.ipynb", 2, None, "parity target 'y_pred' is never defined"),
    ("binary.ipynb", None, None, "the file is binary (a PNG image), not a notebook"),
    ("latin1.ipynb", 2, 1, "the file is not UTF-8 text: '# donn?es nettoy?es' holds byte 0xe9"),
]


def nb2prod(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nb2prod", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def tree_digest(folder: Path) -> dict[str, str]:
    """Every entry under ``folder``: file bytes, link targets and modes, so any change shows."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            found[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest() + oct(path.stat().st_mode)
        else:
            found[rel] = "dir" + oct(path.stat().st_mode)
    return found


@pytest.fixture(scope="module")
def prebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output folder holding a version of the good notebook, built once for the module."""
    project = tmp_path_factory.mktemp("prebuilt")
    shutil.copy(GOOD, project / "minimal.ipynb")
    result = nb2prod("build", "minimal.ipynb", "--out", "gen", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "gen" / "minimal" / "CURRENT").read_text() == "v1\n"
    return project


def test_the_corpus_lists_every_committed_file():
    assert sorted(case[0] for case in CORPUS) == sorted(p.name for p in BAD.iterdir())


@pytest.mark.parametrize(("name", "cell", "line", "reason"), CORPUS, ids=[c[0] for c in CORPUS])
def test_bad_file_exits_2_with_a_located_message_and_writes_nothing(
    prebuilt, tmp_path, name, cell, line, reason
):
    project = tmp_path / "project"
    shutil.copytree(prebuilt, project, symlinks=True)
    (project / "bad").mkdir()
    shutil.copy(BAD / name, project / "bad" / name)
    before = tree_digest(project)

    # The good notebook, edited since its build, comes first: it would be v2 if anything were written.
    nb = nbformat.read(project / "minimal.ipynb", as_version=4)
    nb.cells[-1].source += "\n# edited"
    nbformat.write(nb, project / "minimal.ipynb")
    before["minimal.ipynb"] = tree_digest(project)["minimal.ipynb"]

    result = nb2prod("build", "minimal.ipynb", f"bad/{name}", "--out", "gen", cwd=project)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    location = ", ".join(
        [f"bad/{name}"] + ([f"cell {cell}"] if cell is not None else []) + ([f"line {line}"] if line else [])
    )
    message = result.stderr.strip()
    assert message.startswith(f"Error: {location}: "), message
    assert reason in message
    assert " Hint: " in message and len(message.split(" Hint: ")[1]) > 20
    assert "\n" not in message  # one paragraph
    assert tree_digest(project) == before


# --- the two big inputs are valid: they build --------------------------------------------------------


def write_output_heavy(path: Path, megabytes: int = 50) -> Path:
    """A notebook whose cells carry ``megabytes`` of PNG outputs; also writes it stripped, under
    the same name in the folder ``stripped/`` beside it."""
    image = base64.b64encode(os.urandom(1_000_000)).decode("ascii")  # one 1.3 MB "figure"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell("n = 3", metadata={"tags": ["parameters"]}))
    count = megabytes * 1_000_000 // len(image) + 1
    for i in range(count):
        tags = ["step:plot"] if i == 0 else []
        cell = nbformat.v4.new_code_cell(f"x{i} = n + {i}\nx{i}", metadata={"tags": tags})
        cell.execution_count = i + 1
        cell.outputs = [
            nbformat.v4.new_output("display_data", data={"image/png": image, "text/plain": "<Figure>"}),
            nbformat.v4.new_output("execute_result", data={"text/plain": str(i)}, execution_count=i + 1),
        ]
        nb.cells.append(cell)
    nb.cells[-1].metadata["tags"] = ["parity:x0"]
    nbformat.write(nb, path)
    for cell in nb.cells:
        cell.outputs, cell.execution_count = [], None
    (path.parent / "stripped").mkdir()
    nbformat.write(nb, path.parent / "stripped" / path.name)
    return path


def write_many_cells(path: Path, count: int = 5000, per_step: int = 10) -> Path:
    """``count`` cells: a parameters cell, then a chain ``v_i = v_{i-1} + 1``, a step every 10 cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell("n = 3", metadata={"tags": ["parameters"]}))
    for i in range(1, count):
        tags = [f"step:s{i // per_step}"] if i % per_step == 1 or i == 1 else []
        source = "v1 = n" if i == 1 else f"v{i} = v{i - 1} + 1"
        nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags}))
    nb.cells[-1].metadata["tags"] = [f"parity:v{count - 1}"]
    nbformat.write(nb, path)
    return path


def test_50_mb_of_outputs_builds_like_the_stripped_notebook_and_copies_no_output(tmp_path):
    heavy = write_output_heavy(tmp_path / "heavy.ipynb")
    assert heavy.stat().st_size > 50_000_000
    for name, out in (("heavy.ipynb", "gen_heavy"), ("stripped/heavy.ipynb", "gen_stripped")):
        result = nb2prod("build", name, "--out", out, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    heavy_v1 = tmp_path / "gen_heavy" / "heavy" / "v1"
    stripped_v1 = tmp_path / "gen_stripped" / "heavy" / "v1"
    heavy_manifest = json.loads((heavy_v1 / "manifest.json").read_text())
    stripped_manifest = json.loads((stripped_v1 / "manifest.json").read_text())
    # Outputs are not code: the same exported code, and nothing of the images reaches the version.
    assert heavy_manifest["code_sha256"] == stripped_manifest["code_sha256"]
    assert sum(p.stat().st_size for p in heavy_v1.iterdir()) < 20_000
    assert "image/png" not in (heavy_v1 / "pipeline.py").read_text()


def test_5000_cells_build_into_a_pipeline_that_runs(tmp_path):
    write_many_cells(tmp_path / "many.ipynb")
    result = nb2prod("build", "many.ipynb", "--out", "gen", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "gen" / "many" / "v1" / "manifest.json").read_text())
    assert len(manifest["steps"]) == 500
    assert manifest["steps"]["s499"]["inputs"] == ["v4990"]
    run = subprocess.run(
        [sys.executable, "-c", "import gen.many as m; print(m.run(n=10)['v4999'])"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(10 + 4998)
