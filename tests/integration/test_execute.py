"""execute_notebook and the pipeline runner against a real kernel, real papermill, real processes.

One small notebook per failure mode, built in the test so the cell indices are visible right here.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from nb2prod.errors import ExecutionError, UsageError
from nb2prod.execute.engine import execute_notebook, run_pipeline, start_pipeline

pytestmark = pytest.mark.kernel


def _notebook(*cells: str | tuple[str, list[str]], kernelspec: bool = True) -> Any:
    nb = nbformat.v4.new_notebook()
    for cell in cells:
        source, tags = cell if isinstance(cell, tuple) else (cell, [])
        if source.startswith("# md"):
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags}))
    if kernelspec:
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Py", "language": "python"}
    return nb


def _run(nb: Any, tmp_path: Path, **kw: Any) -> Any:
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    kw.setdefault("params", {})
    kw.setdefault("output_path", None)
    kw.setdefault("captures", [])
    kw.setdefault("progress", False)
    return execute_notebook(nb, path=path, capture_dir=tmp_path / "captures", **kw)


def _kernel_children() -> list[Any]:
    """Live (non-zombie) kernel processes started by this test process."""
    psutil = pytest.importorskip("psutil")
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "ipykernel" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


@pytest.fixture(autouse=True)
def no_kernel_left_behind(tmp_path: Path) -> Any:
    yield
    assert _kernel_children() == []
    captures = tmp_path / "captures"
    assert not captures.exists() or list(captures.iterdir()) == []


def test_parameters_are_injected_and_captured_right_after_their_cell(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    nb = _notebook(
        "# md title",
        ("n = 3\nname = 'a'", ["parameters"]),
        "y = [n] * 2\nkind = type(n).__name__",
        "y = 'overwritten later'",
    )
    out_file = tmp_path / "out" / "executed.ipynb"
    out_file.parent.mkdir()
    captures = [(2, "y"), (2, "kind"), (3, "y2")]
    result = _run(nb, tmp_path, params={"n": 5}, output_path=out_file, captures=captures)
    assert result.values == {"y": [5, 5], "kind": "int"}
    assert result.missing == ["y2"]
    assert result.output_path == out_file.resolve()
    assert 0 < result.duration < 60
    # The evidence is the user's notebook plus papermill's parameters cell: no hidden cells.
    saved = nbformat.read(out_file, as_version=4)
    for executed in (result.output, saved):
        tags = [c.metadata.get("tags", []) for c in executed.cells]
        assert tags[2] == ["injected-parameters"]
        assert "n = 5" in executed.cells[2].source
        assert len(executed.cells) == len(nb.cells) + 1
        assert not any("nb2prod" in c.metadata for c in executed.cells)
    assert "without encryption" not in capfd.readouterr().err


def test_no_kernelspec_and_kale_parameters_cell(tmp_path: Path) -> None:
    nb = _notebook(
        "import os\ncwd = os.getcwd()",
        ("alpha = 0.1", ["pipeline-parameters"]),
        "doubled = alpha * 2",
        kernelspec=False,
    )
    result = _run(nb, tmp_path, params={"alpha": 0.25}, captures=[(2, "doubled"), (0, "cwd")])
    assert result.values["doubled"] == 0.5
    assert result.values["cwd"] == str(tmp_path.resolve())  # runs where the notebook lives
    # The injected cell lands right after the Kale parameters cell.
    assert result.output.cells[2].metadata["tags"] == ["injected-parameters"]


def test_seed_reaches_random_numpy_and_hash(tmp_path: Path) -> None:
    nb = _notebook("import random, os\nr = random.random()\nh = os.environ.get('PYTHONHASHSEED')")
    # A kernelspec saved on someone's laptop falls back to this environment's python3.
    nb.metadata["kernelspec"]["name"] = "conda-env-laptop-only-py"
    first = _run(nb, tmp_path, seed=7, captures=[(0, "r"), (0, "h")])
    second = _run(nb, tmp_path, seed=7, captures=[(0, "r")])
    assert first.values["r"] == second.values["r"]
    assert first.values["h"] == "7"
    assert len(first.output.cells) == 1


def test_hidden_cells_leave_the_users_execution_counts_as_in_jupyter(tmp_path: Path) -> None:
    # The seed cell, the capture cells and papermill's new parameters cell keep no history, so
    # `Out[2]` and `_2` are the user's second cell, as when the notebook ran top to bottom in Jupyter.
    nb = _notebook(
        ("a = 1", ["parameters"]),
        "b = a + 1\nb",
        "c = Out[2] * 10\nd = _2\ncount = len(In) - 1",
    )
    result = _run(nb, tmp_path, params={"a": 5}, seed=3, shown={"b"},
                  captures=[(1, "b"), (2, "c"), (2, "d"), (2, "count")])
    assert result.values == {"b": 6, "c": 60, "d": 6, "count": 3}
    counts = [c.execution_count for c in result.output.cells if "injected-parameters" not in c.metadata.tags]
    assert counts == [1, 2, 3]


def test_a_plain_script_sees_the_argv_of_python_script_py(tmp_path: Path) -> None:
    from nb2prod.read.notebook import read_notebook_node

    script = tmp_path / "train.py"
    script.write_text(
        "import argparse, sys\n\nif __name__ == '__main__':\n    parser = argparse.ArgumentParser()\n"
        "    parser.add_argument('--C', type=float, default=1.0)\n    args = parser.parse_args()\n"
        "    c, argv = args.C, list(sys.argv)\n"
    )
    nb = read_notebook_node(script)
    result = execute_notebook(nb, path=script, params={}, output_path=None, progress=False,
                              captures=[(0, "c"), (0, "argv")], capture_dir=tmp_path / "captures")
    assert result.values == {"c": 1.0, "argv": [str(script.resolve())]}
    assert len(result.output.cells) == 1


def test_raising_cell_reports_the_original_cell(tmp_path: Path) -> None:
    nb = _notebook(
        ("n = 3", ["parameters"]),
        "x = n + 1",
        "# md between",
        "raise ValueError(f'bad n: {n}')",
        "never = True",
    )
    out_file = tmp_path / "failed.ipynb"
    with pytest.raises(ExecutionError) as info:
        _run(nb, tmp_path, params={"n": 4}, output_path=out_file, captures=[(1, "x")], seed=1)
    err = info.value
    assert err.cell == 3
    assert err.source == "raise ValueError(f'bad n: {n}')"
    assert (err.ename, err.evalue) == ("ValueError", "bad n: 4")
    assert err.reason == "ValueError: bad n: 4"
    assert err.path == str((tmp_path / "nb.ipynb").resolve())
    assert err.exit_code == 3
    saved = nbformat.read(out_file, as_version=4)  # papermill's evidence, minus the hidden cells
    assert not any("nb2prod" in c.metadata for c in saved.cells)


def test_kernel_death_names_the_cell(tmp_path: Path) -> None:
    nb = _notebook("a = 1", "import os; os._exit(1)", "b = 2")
    with pytest.raises(ExecutionError, match="the kernel died") as info:
        _run(nb, tmp_path, captures=[(0, "a")])
    assert info.value.cell == 1
    assert info.value.source == "import os; os._exit(1)"


def test_timeout_names_the_cell_and_is_quick(tmp_path: Path) -> None:
    nb = _notebook(("n = 3", ["parameters"]), "import time; time.sleep(60)")
    start = time.monotonic()
    with pytest.raises(ExecutionError, match="exceeded the --timeout of 2 seconds") as info:
        _run(nb, tmp_path, params={"n": 1}, timeout=2)
    assert time.monotonic() - start < 20
    assert info.value.cell == 1


def test_unpicklable_value_is_a_clear_reason_for_that_target_alone(tmp_path: Path) -> None:
    from nb2prod.execute.pipeline_runner import Uncaptured

    nb = _notebook("gen = (i for i in range(3))\nn = 3")
    values = _run(nb, tmp_path, captures=[(0, "gen"), (0, "n")]).values
    assert isinstance(values["gen"], Uncaptured)
    assert values["gen"].reason.startswith("the notebook's value does not pickle (TypeError:")
    assert values["n"] == 3


def test_bad_capture_requests_are_usage_errors(tmp_path: Path) -> None:
    nb = _notebook("a = 1")
    with pytest.raises(UsageError):
        _run(nb, tmp_path, captures=[(5, "a")])
    with pytest.raises(UsageError):
        _run(nb, tmp_path, captures=[(0, "a.b")])


def test_progress_bar_counts_the_users_cells(tmp_path: Path) -> None:
    from rich.console import Console
    from rich.progress import Progress

    nb = _notebook(("n = 3", ["parameters"]), "m = n", "# md")
    progress = Progress(console=Console(file=open(os.devnull, "w")))  # noqa: SIM115
    with progress:
        _run(nb, tmp_path, params={"n": 2}, captures=[(1, "m")], seed=3, progress=progress)
    (task,) = progress.tasks
    assert task.description == "nb.ipynb"
    assert task.total == task.completed == 4  # three cells and papermill's parameters cell
    progress.console.file.close()


# --- the generated pipeline in a fresh process ---------------------------------------------------


def _package(tmp_path: Path) -> Path:
    root = tmp_path / "project" / "pkg"
    (root / "v1").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "v1" / "__init__.py").write_text("")
    (root / "v1" / "pipeline.py").write_text(
        "import os\n"
        "import random\n"
        "\n"
        "\n"
        "def run(n=3):\n"
        "    return {'y': [n, n * 2], 'cwd': os.getcwd(), 'r': random.random()}\n"
    )
    (root / "v1" / "broken.py").write_text(
        "def helper(n):\n"
        "    raise ValueError(f'bad n: {n}')\n"
        "\n"
        "\n"
        "def run(n=3):\n"
        "    return helper(n)\n"
    )
    return root


def test_pipeline_runs_in_a_fresh_process(tmp_path: Path) -> None:
    package = _package(tmp_path)
    capture = tmp_path / "result.pkl"
    proc = start_pipeline(
        package, "pkg.v1.pipeline", {"n": 4}, cwd=tmp_path, capture_path=capture, seed=5
    )
    values = proc.wait()
    assert values["y"] == [4, 8]
    assert values["cwd"] == str(tmp_path)
    assert stat.S_IMODE(capture.stat().st_mode) == 0o600
    assert not proc.workdir.exists()
    again = run_pipeline(
        package, "pkg.v1.pipeline", {"n": 4}, cwd=tmp_path, capture_path=capture, seed=5
    )
    assert again["r"] == values["r"]


def test_pipeline_error_points_at_the_raising_line(tmp_path: Path) -> None:
    package = _package(tmp_path)
    result = tmp_path / "r.pkl"
    with pytest.raises(ExecutionError) as info:
        run_pipeline(package, "pkg.v1.broken", {"n": 7}, cwd=tmp_path, capture_path=result)
    err = info.value
    assert err.reason == "pipeline raised ValueError: bad n: 7"
    assert err.path == str(package / "v1" / "broken.py")
    assert err.line == 2
    assert "helper" in (err.source or "")
    assert (err.ename, err.evalue) == ("ValueError", "bad n: 7")


def test_pipeline_bad_parameter_and_timeout(tmp_path: Path) -> None:
    package = _package(tmp_path)
    result = tmp_path / "r.pkl"
    with pytest.raises(ExecutionError, match="TypeError"):
        run_pipeline(package, "pkg.v1.pipeline", {"m": 1}, cwd=tmp_path, capture_path=result)
    (package / "v1" / "slow.py").write_text("import time\n\n\ndef run():\n    time.sleep(60)\n")
    start = time.monotonic()
    with pytest.raises(ExecutionError, match="exceeded the --timeout of 1 seconds"):
        run_pipeline(package, "pkg.v1.slow", {}, cwd=tmp_path, capture_path=result, timeout=1)
    assert time.monotonic() - start < 10


def test_notebook_and_pipeline_run_at_the_same_time(tmp_path: Path) -> None:
    package = _package(tmp_path)
    proc = start_pipeline(
        package, "pkg.v1.pipeline", {"n": 2}, cwd=tmp_path, capture_path=tmp_path / "r.pkl"
    )
    nb = _notebook(("n = 3", ["parameters"]), "y = [n, n * 2]")
    notebook = _run(nb, tmp_path, params={"n": 2}, captures=[(1, "y")])
    assert proc.wait()["y"] == notebook.values["y"] == [2, 4]


def test_killing_an_unwaited_pipeline_cleans_up(tmp_path: Path) -> None:
    package = _package(tmp_path)
    (package / "v1" / "slow.py").write_text("import time\n\n\ndef run():\n    time.sleep(60)\n")
    proc = start_pipeline(package, "pkg.v1.slow", {}, cwd=tmp_path, capture_path=tmp_path / "r.pkl")
    proc.kill()  # e.g. the notebook failed first, so nobody waits for the pipeline
    assert proc.process.returncode is not None
    assert not proc.workdir.exists()
    proc.kill()


def test_a_pipeline_that_cannot_start_leaves_no_private_folder(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    package = _package(tmp_path)
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    with pytest.raises(FileNotFoundError):  # the folder to run in is gone: Popen cannot chdir
        start_pipeline(package, "pkg.v1.pipeline", {}, cwd=tmp_path / "gone", capture_path=tmp_path / "r.pkl")
    assert list(private_tmp.iterdir()) == []
