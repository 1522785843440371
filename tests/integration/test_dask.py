"""`nb2prod test --dask`: the parity cases on a real Dask cluster (2 worker processes, 1 thread each).

The workers share this machine's disk but not its working directory: every case runs from the files
the client shipped into a worker-side temporary folder. A worker is killed mid-case by the case
itself (its kernel SIGKILLs its parent, the worker process): the nanny restarts it, the case is
retried once, and a case whose workers keep dying ends as an execution error instead of a hang.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT
from tests.nbfactory import write_notebook

pytestmark = pytest.mark.kernel

KILL_CELL = """import os, signal, time
first = not os.path.exists(marker)
with open(marker, "a") as fh:
    fh.write(f"{os.getpid()}\\n")
if kill == "always" or (kill == "once" and first):
    os.kill(os.getppid(), signal.SIGKILL)  # the kernel's parent is the Dask worker process
if kill == "hang":
    time.sleep(120)"""


def nb2prod(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nb2prod", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local.scheduler_address


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project, the divergent fixture and a worker-killing notebook that reads data."""
    root = tmp_path_factory.mktemp("project")
    for name in ("notebooks", "generated"):
        shutil.copytree(ROOT / name, root / name)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(FIXTURES / "notebooks" / "divergent", root / "divergent")
    (root / "broken").mkdir()
    shutil.copy(FIXTURES / "notebooks" / "broken" / "raises.ipynb", root / "broken")
    killer = root / "killer"
    (killer / "data").mkdir(parents=True)
    (killer / "data" / "values.txt").write_text("1.5 2.5 4\n")
    write_notebook(killer, [
        ('marker = "/dev/null"\nkill = "never"', ["parameters"]),
        (KILL_CELL, ["skip"]),
        ('with open("data/values.txt") as fh:\n    values = [float(x) for x in fh.read().split()]',
         ["step:load"]),
        ("total = sum(values) * 2", ["step:total", "parity:total"]),
    ], name="worker_killer.ipynb")
    built = nb2prod("build", "divergent", "killer", "broken", cwd=root)
    assert built.returncode == 0, built.stdout + built.stderr
    return root


def without_timings(text: str) -> str:
    """The report minus durations and the ``wrote FILE`` lines (the two runs write different files)."""
    text = re.sub(r'time="[0-9.]+"| in [0-9.]+s', "", text)
    return "\n".join(line for line in text.splitlines() if not line.startswith("wrote "))


def test_example_suite_on_dask_reports_what_a_local_run_reports(cluster, project, tmp_path):
    local = nb2prod("test", "notebooks/", "-j", "2", "--junit-xml", str(tmp_path / "local.xml"),
                    "--summary", str(tmp_path / "local.md"), cwd=project)
    assert local.returncode == 0, local.stdout + local.stderr
    evidence = sorted(project.glob("runs/*/parity-*.ipynb"))
    assert len(evidence) == 6
    shutil.rmtree(project / "runs")

    remote = nb2prod("test", "notebooks/", "--dask", cluster, "--junit-xml", str(tmp_path / "dask.xml"),
                     "--summary", str(tmp_path / "dask.md"), cwd=project)
    assert remote.returncode == 0, remote.stdout + remote.stderr
    assert "9 passed, 0 failed" in remote.stdout  # 6 parity cases on Dask + 3 round trips run here
    assert without_timings(remote.stdout) == without_timings(local.stdout)
    for name in ("xml", "md"):
        dask_report = (tmp_path / f"dask.{name}").read_text()
        assert without_timings(dask_report) == without_timings((tmp_path / f"local.{name}").read_text())
    assert "notebooks/wine_percent.py" in (tmp_path / "dask.md").read_text()
    assert sorted(project.glob("runs/*/parity-*.ipynb")) == evidence, "evidence lands where -j 2 puts it"
    for path in evidence:
        text = path.read_text()
        assert "nb2prod-dask-" not in text and f'"output_path": "{path}"' in text  # no worker paths


def test_a_notebook_error_on_dask_is_the_notebooks_exit_3_naming_the_cell(cluster, project):
    result = nb2prod("test", "broken", "--dask", cluster, cwd=project)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "broken/raises.ipynb, cell 3: ZeroDivisionError: division by zero" in result.stdout
    assert "Dask" not in result.stdout and "nb2prod-dask-" not in result.stdout  # not retried


def test_divergent_notebook_on_dask_exits_1_with_the_mismatch(cluster, project):
    result = nb2prod("test", "divergent", "--dask", cluster, cwd=project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "y_pred: values differ" in result.stdout
    assert "differing elements: 111 of 111" in result.stdout
    assert list((project / "runs" / "rescaled_in_skip").glob("parity-*.ipynb"))


def test_a_worker_killed_mid_case_is_retried_and_the_run_completes(cluster, project, tmp_path):
    marker = tmp_path / "starts.txt"
    result = nb2prod("test", "killer", "-p", "marker", str(marker), "-p", "kill", "once",
                     "--dask", cluster, "--dask-timeout", "300", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 0 failed" in result.stdout
    assert "total" in result.stdout and "float 16.0" in result.stdout  # (1.5 + 2.5 + 4) * 2, data shipped
    kernels = marker.read_text().split()
    assert len(kernels) == 2 and kernels[0] != kernels[1], "the first kernel's worker died; one retry ran"


def test_a_case_whose_workers_keep_dying_is_an_execution_error_not_a_hang(cluster, project, tmp_path):
    marker = tmp_path / "starts.txt"
    result = nb2prod("test", "killer", "-p", "marker", str(marker), "-p", "kill", "always",
                     "--dask", cluster, "--dask-timeout", "300", cwd=project)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "killer/worker_killer.ipynb" in result.stdout
    assert "died 2 times" in result.stdout and "retried it once" in result.stdout
    assert "Traceback" not in result.stderr
    assert len(marker.read_text().split()) == 2, "one retry, no third attempt"


def test_the_run_ends_at_the_dask_timeout_with_the_unfinished_case_as_an_error(cluster, project):
    result = nb2prod("test", "killer", "-p", "kill", "hang", "--dask", cluster, "--dask-timeout", "5",
                     cwd=project)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "did not finish within the --dask-timeout of 5 seconds" in result.stdout
    assert "Traceback" not in result.stderr


def test_without_dask_installed_dask_says_how_to_install_it(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.nb2prod]\ndask = "tcp://127.0.0.1:8786"\n')
    code = (
        "import sys; sys.modules['distributed'] = None; from nb2prod.cli import main; "
        "sys.argv = ['nb2prod', 'test']; main()"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "pip install 'nb2prod[dask]'" in result.stderr  # [tool.nb2prod] dask asked for Dask
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_on_dask_each_side_writes_into_its_own_folder_and_the_files_come_back(cluster, tmp_path):
    """Issue 14, item 3 on the Dask path: the worker runs both sides in mirrors of the case folder
    it unpacked, and the files each side wrote come back as evidence next to the executed notebook."""
    folder = tmp_path / "writer"
    folder.mkdir()
    write_notebook(folder, [
        ('import os\nopen("out.txt", "w").write(str(os.getpid()))\nmine = open("out.txt").read() '
         '== str(os.getpid())', ["step:a", "parity:mine"]),
    ], name="writer.ipynb")
    assert nb2prod("build", "writer", cwd=tmp_path).returncode == 0
    result = nb2prod("test", "writer", "--dask", cluster, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    (kept,) = (tmp_path / "runs" / "writer").glob("parity-*-files")
    written = sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*") if p.is_file())
    assert written == ["notebook/out.txt", "pipeline/out.txt"]
    assert not (folder / "out.txt").exists()
