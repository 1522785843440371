"""SECURITY.md, tested: names from notebooks never become code or paths unchecked, writes never leave
--out (crafted names, symbolic links), captures are unpickled only when this run wrote them, and
`nb2prod verify` catches an edited generated file.
"""

from __future__ import annotations

import keyword
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from nb2prod.analyse.planner import module_name
from nb2prod.cli import cli
from nb2prod.errors import ExecutionError, TagError
from nb2prod.execute.captures import load_captures, verified_pickle
from nb2prod.read.tags import parse_tags
from nb2prod.store.build import build
from tests.nbfactory import write_notebook

GOOD_CELLS = [("n = 3", ["parameters"]), ("x = n * 2", ["step:load", "parity:x"])]


def invoke(*args: str, cwd: Path) -> tuple[int, str]:
    """The real CLI in-process (fast), from ``cwd``."""
    old = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, list(args))
    finally:
        os.chdir(old)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), (
        result.exception
    )
    return result.exit_code, result.output


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- names from notebooks -------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=40).filter(lambda s: "/" not in s and "\x00" not in s))
def test_module_name_is_always_a_plain_ascii_identifier(stem):
    name = module_name(Path(f"{stem}.ipynb"))
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", name) and not keyword.iskeyword(name), name


@pytest.mark.parametrize(
    "tag",
    ["step:../../etc", "step:a/b", "step:x; import os", "after:__import__('os')", "parity:y\nimport os",
     "metric:a.b", "step:", "parity:1x", "step:class"],
)
def test_names_in_tags_must_be_identifiers(tag):
    with pytest.raises(TagError, match="Hint|needs a name|not a Python identifier") as info:
        parse_tags([tag], path="nb.ipynb", cell=0)
    assert info.value.hint


@pytest.mark.parametrize(
    "stem",
    ['evil"""; import pathlib; pathlib.Path("PWNED").touch(); """', "back\\N", "trail\\", "new\nline"],
)
def test_a_crafted_notebook_file_name_stays_data_in_the_generated_docstring(tmp_path, stem):
    path = write_notebook(tmp_path, GOOD_CELLS, name=f"{stem}.ipynb")
    report = build([path], tmp_path / "gen", root=tmp_path)
    (row,) = report.rows
    code = (
        "import importlib, sys; sys.dont_write_bytecode = True\n"
        f"m = importlib.import_module('gen.{row.name}.v1.pipeline')\n"
        "print(repr(m.__doc__)); print(m.run()['x'])"
    )
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "PWNED").exists()
    assert result.stdout.splitlines()[-1] == "6"
    assert repr(f"from {stem}.ipynb.")[1:-1] in result.stdout


# --- writes never leave --out ----------------------------------------------------------------------


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    write_notebook(tmp_path, GOOD_CELLS, name="model.ipynb")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "precious.txt").write_text("keep me")
    return tmp_path


def test_a_package_folder_that_is_a_link_outside_is_refused(project):
    (project / "gen").mkdir()
    (project / "gen" / "model").symlink_to(project / "outside", target_is_directory=True)
    before = tree(project / "outside")
    code, output = invoke("build", "model.ipynb", "--out", "gen", cwd=project)
    assert code == 2, output
    assert "gen/model: this is a symbolic link" in output and "Hint:" in output
    assert tree(project / "outside") == before


@pytest.mark.parametrize("entry", ["model/CURRENT", "model/__init__.py", ".nb2prod.lock", "__init__.py"])
def test_a_link_inside_out_pointing_outside_is_refused_and_its_target_untouched(project, entry):
    assert invoke("build", "model.ipynb", "--out", "gen", cwd=project)[0] == 0
    nb = nbformat.read(project / "model.ipynb", as_version=4)
    nb.cells[1].source = "x = n * 3"  # a real change: the next build would write v2
    nbformat.write(nb, project / "model.ipynb")
    link = project / "gen" / entry
    link.unlink(missing_ok=True)
    link.symlink_to(project / "outside" / "precious.txt")
    before = tree(project / "gen"), tree(project / "outside")
    code, output = invoke("build", "model.ipynb", "--out", "gen", cwd=project)
    assert code == 2, output
    assert "symbolic link" in output and "Traceback" not in output
    assert (project / "outside" / "precious.txt").read_text() == "keep me"
    assert (tree(project / "gen"), tree(project / "outside")) == before


def test_rollback_through_a_linked_package_is_refused(project):
    assert invoke("build", "model.ipynb", "--out", "real", cwd=project)[0] == 0
    (project / "gen").mkdir()
    (project / "gen" / "model").symlink_to(project / "real" / "model", target_is_directory=True)
    code, output = invoke("rollback", "model", "v1", "--out", "gen", cwd=project)
    assert code == 2 and "symbolic link" in output, output


# --- verify catches an edited generated file -------------------------------------------------------


def test_verify_names_a_generated_file_edited_after_the_build(project):
    assert invoke("build", "model.ipynb", "--out", "gen", cwd=project)[0] == 0
    assert invoke("verify", "gen", cwd=project)[0] == 0
    pipeline = project / "gen" / "model" / "v1" / "pipeline.py"
    pipeline.write_text(pipeline.read_text() + "\nimport os  # a backdoor\n")
    code, output = invoke("verify", "gen", cwd=project)
    assert code == 1
    assert "model/v1/pipeline.py" in output


# --- the harness unpickles only what this run wrote ------------------------------------------------


class _Planted:
    """Unpickling this would create a file: proof that pickle.load ran on untrusted bytes."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_capture_without_this_runs_hmac_is_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("x = 1"))
    key = os.urandom(32).hex()
    root = tmp_path / "captures"
    root.mkdir(mode=0o700)
    (root / "0.pkl").write_bytes(b"\x00" * 32 + pickle.dumps(_Planted(str(marker))))
    with pytest.raises(ExecutionError, match="was not written by this run; refusing to unpickle it"):
        load_captures(root, [(0, "x")], nb, tmp_path / "nb.ipynb", key)
    assert not marker.exists()


def test_a_capture_with_this_runs_hmac_loads(tmp_path):
    import hashlib
    import hmac

    key = os.urandom(32).hex()
    data = pickle.dumps([1, 2.5, "three"])
    blob = hmac.new(bytes.fromhex(key), data, hashlib.sha256).digest() + data
    assert pickle.loads(verified_pickle(blob, key)) == [1, 2.5, "three"]
    assert verified_pickle(blob, os.urandom(32).hex()) is None
    assert verified_pickle(blob[:-1] + b"!", key) is None
    assert verified_pickle(b"short", key) is None


@pytest.mark.kernel
def test_captures_live_in_an_owner_only_folder_and_files(tmp_path):
    from nb2prod.execute.engine import execute_notebook

    caps = tmp_path / "caps"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell("x = [1, 2]"))
    nb.cells.append(nbformat.v4.new_code_cell(
        "import os, stat\n"
        f"folders = [os.path.join({str(caps)!r}, n) for n in os.listdir({str(caps)!r})]\n"
        "mode = lambda p: oct(stat.S_IMODE(os.stat(p).st_mode))\n"
        "modes = [mode(d) for d in folders] + [mode(os.path.join(d, f)) for d in folders for f in os.listdir(d)]"
    ))
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    result = execute_notebook(
        nb, path=path, params={}, output_path=None, captures=[(0, "x"), (1, "modes")], capture_dir=caps,
        progress=False,
    )
    assert result.values == {"x": [1, 2], "modes": ["0o700", "0o600"]}
    assert list(caps.iterdir()) == []  # removed after the run
