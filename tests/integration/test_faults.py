"""Faults during `nb2prod test`: a dying kernel, a cell that never ends, a raising pipeline, Ctrl-C.

Each runs the real command in a fresh process with its own TMPDIR, then checks the exit code, that the
failing cell is named, that no kernel or pipeline process outlived the command (the process table,
searched for the private TMPDIR every such process has on its command line) and that TMPDIR is empty.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.nbfactory import write_notebook

psutil = pytest.importorskip("psutil")
pytestmark = pytest.mark.kernel


@pytest.fixture()
def private_tmp() -> Iterator[Path]:
    """A short TMPDIR for the command (IPC socket paths must stay under ~107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="nbf", dir="/tmp" if os.path.isdir("/tmp") else None))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def project(tmp_path: Path, cells: list, name: str = "nb.ipynb") -> Path:
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.nb2prod]\nnotebooks = ["notebooks"]\nout = "gen"\n')
    write_notebook(root / "notebooks", cells, name=name)
    return root


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "nb2prod", *args]


def build(root: Path) -> None:
    result = subprocess.run(command("build"), cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def environment(tmp: Path) -> dict[str, str]:
    return {**os.environ, "TMPDIR": str(tmp)}


def survivors(marker: Path) -> list[str]:
    """Live processes whose command line mentions ``marker`` (kernels, pipeline runners)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and str(marker) in " ".join(proc.info["cmdline"] or []):
                found.append(" ".join(proc.info["cmdline"]))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def assert_clean(tmp: Path) -> None:
    assert survivors(tmp) == []
    assert sorted(p.name for p in tmp.iterdir()) == []


def stop(proc: subprocess.Popen[str], signum: int) -> tuple[str, str]:
    """Ctrl-C the way a terminal sends it (the whole group), or SIGTERM the way a cancelled CI job
    does (nb2prod alone, which must stop its own children); then its output. Killed if it hangs."""
    try:
        if proc.poll() is None:
            if signum == signal.SIGINT:
                os.killpg(proc.pid, signal.SIGINT)
            else:
                os.kill(proc.pid, signal.SIGTERM)
        return proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run_test(root: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command("test", *args), cwd=root, capture_output=True, text=True, timeout=300, env=environment(tmp)
    )


def test_a_dying_kernel_exits_3_naming_the_cell(tmp_path, private_tmp):
    root = project(tmp_path, [
        ("n = 3", ["parameters"]),
        ("x = n * 2", ["step:load"]),
        ("import os\nos.write(2, b'segfault-ish: out of luck\\n')\nos._exit(1)\ny = x + 1",
         ["step:train", "parity:y"]),
    ])
    build(root)
    result = run_test(root, private_tmp)
    assert result.returncode == 3, result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    assert "notebooks/nb.ipynb, cell 2: the kernel died; its last words on stderr:" in text
    assert "segfault-ish: out of luck" in text  # quoted in the report, not leaked to stderr
    assert "out of luck" not in result.stderr
    assert "Traceback" not in result.stderr
    assert_clean(private_tmp)


def test_a_cell_that_never_ends_is_cut_by_timeout_with_exit_3(tmp_path, private_tmp):
    root = project(tmp_path, [
        ("n = 3", ["parameters"]),
        ("x = n * 2", ["step:load"]),
        ("import time\nwhile True:\n    time.sleep(1)\ny = x", ["step:wait", "parity:y"]),
    ])
    build(root)
    result = run_test(root, private_tmp, "--timeout", "5")
    assert result.returncode == 3, result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    assert "notebooks/nb.ipynb, cell 2: cell exceeded the --timeout of 5 seconds" in text
    assert "Traceback" not in result.stderr
    assert_clean(private_tmp)


def test_a_raising_pipeline_step_exits_3_naming_its_notebook_cell(tmp_path, private_tmp):
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.nb2prod]\nnotebooks = ["notebooks"]\nout = "gen"\n')
    shutil.copy(FIXTURES / "notebooks" / "broken" / "pipeline_raises.ipynb", root / "notebooks")
    build(root)
    result = run_test(root, private_tmp)
    assert result.returncode == 3, result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    assert "notebooks/pipeline_raises.ipynb, cell 4: pipeline raised ZeroDivisionError" in text
    assert "Traceback" not in result.stderr
    assert_clean(private_tmp)


@pytest.mark.parametrize(("jobs", "signum"), [
    ("1", signal.SIGINT), ("2", signal.SIGINT), ("2", signal.SIGTERM),
])
def test_ctrl_c_or_sigterm_in_the_middle_of_test_exits_and_leaves_nothing(
    tmp_path, private_tmp, jobs, signum
):
    started = tmp_path / "started"
    root = project(tmp_path, [
        ("n = 3", ["parameters"]),
        ("x = n * 2", ["step:load"]),
        (f"import pathlib, sys, time\nif 'ipykernel' in sys.modules:  # the notebook, not the pipeline\n"
         f"    pathlib.Path({str(started)!r}).touch()\ntime.sleep(600)\ny = x", ["step:wait", "parity:y"]),
    ])
    write_notebook(root / "notebooks", [("z = 1", ["step:one", "parity:z"])], name="other.ipynb")
    build(root)
    proc = subprocess.Popen(
        command("test", "-j", jobs), cwd=root, env=environment(private_tmp), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert started.exists(), proc.communicate()
    finally:
        out, err = stop(proc, signum)
    word, code = ("Interrupted", 130) if signum == signal.SIGINT else ("Terminated", 143)
    assert proc.returncode == code, out + err
    assert "Traceback" not in err
    assert err.startswith(f"{word}: ") and "notebooks/nb.ipynb, cell 2" in err, err
    assert "was running; kernels were stopped and nothing was compared." in err
    assert_clean(private_tmp)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupting_a_build_in_worker_processes_writes_nothing(tmp_path, signum):
    """Stopped once versions are staged and a worker is busy with a big notebook: exit 130 or 143,
    one line, no worker's traceback, and the output folder as if the build never ran."""
    from tests.integration.test_bad_inputs import write_many_cells

    root = tmp_path / "project"
    root.mkdir()
    for k in range(7):
        write_notebook(root, [(f"k = {k}", ["parameters"]), ("y = k + 1", ["step:s", "parity:y"])],
                       name=f"a{k}.ipynb")
    write_many_cells(root / "z_big.ipynb", count=3000)  # last in order: staging starts before it
    proc = subprocess.Popen(
        command("build", ".", "--out", "gen"), cwd=root, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not [p for p in (root / "gen").glob(".tmp-*") if p.is_dir()] and proc.poll() is None:
            assert time.monotonic() < deadline, "no version was staged"
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()
    finally:
        out, err = stop(proc, signum)
    word, code = ("Interrupted", 130) if signum == signal.SIGINT else ("Terminated", 143)
    assert proc.returncode == code, out + err
    assert err.strip() == f"{word}.", err
    assert not (root / "gen").exists(), sorted(p.name for p in (root / "gen").iterdir())
