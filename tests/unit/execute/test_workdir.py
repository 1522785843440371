"""The mirrored working folder and its copy-on-write hook, in real subprocesses (no kernel)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nb2prod.execute import workdir
from nb2prod.execute.pipeline_runner import run_pipeline


@pytest.fixture()
def origin(tmp_path: Path) -> Path:
    folder = tmp_path / "notebooks"
    (folder / "data" / "deep").mkdir(parents=True)
    (folder / "data" / "x.csv").write_text("a\n1\n")
    (folder / "data" / "deep" / "y.txt").write_text("deep\n")
    (folder / "out.txt").write_text("original\n")
    (folder / "helpers.py").write_text("def score():\n    return 2\n")
    (folder / ".git").mkdir()
    return folder


def run_in(work: workdir.WorkDir, code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter standing in the mirror, with the hook installed."""
    hook = Path(workdir.__file__).with_name("_cow.py")
    prelude = f"exec(open({str(hook)!r}).read(), ns := {{}}); ns['install']({str(work.root)!r}, {str(work.origin)!r})\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=work.root,
                          capture_output=True, text=True, timeout=60)


def test_mirror_links_files_and_keeps_hidden_folders_whole(origin, tmp_path):
    work = workdir.mirror(origin, parent=tmp_path, label="t")
    assert (work.root / "data").is_dir() and not (work.root / "data").is_symlink()
    assert (work.root / "data" / "x.csv").is_symlink()
    assert (work.root / "data" / "x.csv").read_text() == "a\n1\n"
    assert (work.root / ".git").is_symlink()


def test_writes_stay_in_the_mirror_and_originals_are_untouched(origin, tmp_path):
    work = workdir.mirror(origin, parent=tmp_path, label="t")
    done = run_in(work, """
        import os, pathlib, shutil
        open("out.txt", "w").write("mine\\n")               # truncating an existing file
        with open("data/x.csv", "a") as fh: fh.write("2\\n")  # appending to one
        open("new.txt", "w").write("new\\n")
        os.remove("data/deep/y.txt")
        pathlib.Path(".git/HEAD").write_text("x")            # inside a folder linked whole
        import helpers; assert helpers.score() == 2          # imports read through the links
        print(open("data/x.csv").read(), end="")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "a\n1\n2\n"
    assert (origin / "out.txt").read_text() == "original\n"
    assert (origin / "data" / "x.csv").read_text() == "a\n1\n"
    assert (origin / "data" / "deep" / "y.txt").is_file()
    assert not (origin / ".git" / "HEAD").exists() and not (origin / "new.txt").exists()
    moved = workdir.collect(work, tmp_path / "kept")
    assert moved == [".git/HEAD", "data/x.csv", "new.txt", "out.txt"]
    assert (tmp_path / "kept" / "out.txt").read_text() == "mine\n"
    assert not work.root.exists()


def test_a_mirror_never_mirrors_the_excluded_evidence_folder(origin):
    runs = origin / "runs"
    runs.mkdir()
    work = workdir.mirror(origin, parent=runs, label="t", exclude=(runs,))
    assert not (work.root / "runs").exists()


def test_the_pipeline_process_runs_in_its_mirror(origin, tmp_path):
    """The fresh-interpreter path (the zygote path is covered by the parity integration test)."""
    package = tmp_path / "gen"
    (package / "mod").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "mod" / "__init__.py").write_text("")
    (package / "mod" / "pipeline.py").write_text(textwrap.dedent("""
        import os

        def run():
            open("out.txt", "w").write(str(os.getpid()))
            return {"cwd": os.getcwd(), "out": open("out.txt").read(), "pid": str(os.getpid())}
    """))
    work = workdir.mirror(origin, parent=tmp_path, label="pipeline")
    result = run_pipeline(package, "gen.mod.pipeline", {}, cwd=origin, capture_path=tmp_path / "r.pkl",
                          workdir=work)
    assert result["cwd"] == str(work.root)
    assert result["out"] == result["pid"]
    assert (origin / "out.txt").read_text() == "original\n"


def test_files_a_c_library_overwrites_are_copied_up_front(origin, tmp_path):
    """LightGBM's save_model writes from C, out of the hook's sight: the file it names is a copy."""
    (origin / "model.txt").write_text("old model\n")
    sources = ['booster.save_model("model.txt")\npl_frame.write_csv("new.csv")', "%matplotlib inline"]
    copies = workdir.c_level_outputs(sources, origin)
    assert copies == ("model.txt",)  # new.csv does not exist yet: it will be a new file anyway
    work = workdir.mirror(origin, parent=tmp_path, label="t", copies=copies)
    assert not (work.root / "model.txt").is_symlink()
    with open(os.open(work.root / "model.txt", os.O_WRONLY | os.O_TRUNC), "w") as fh:  # as C would
        fh.write("new model\n")
    assert (origin / "model.txt").read_text() == "old model\n"
    assert workdir.collect(work, tmp_path / "kept") == ["model.txt"]


def test_an_unchanged_copy_is_not_evidence(origin, tmp_path):
    (origin / "model.txt").write_text("old model\n")
    work = workdir.mirror(origin, parent=tmp_path, label="t", copies=("model.txt",))
    assert workdir.collect(work, tmp_path / "kept") == []
