"""A build publishes all its versions in one batch: all of them become visible, or none does."""

from __future__ import annotations

from pathlib import Path

import pytest

from nb2prod.analyse.planner import analyse
from nb2prod.generate.codegen import generate_source
from nb2prod.read.notebook import load_notebook
from nb2prod.store.history import verify
from nb2prod.store.publish import PublishBatch
from nb2prod.store.versions import (
    TMP_PREFIX,
    build_manifest,
    code_sha256,
    current_version,
    list_versions,
)
from tests.nbfactory import write_notebook


def prepared(folder: Path, name: str, n: int) -> tuple:
    path = write_notebook(folder, [
        ("import math", ["imports"]),
        (f"n = {n}", ["parameters"]),
        ("total = math.fsum(range(n))", ["step:add", "parity:total"]),
    ], name=f"{name}.ipynb")
    plan = analyse(load_notebook(path, root=folder))
    source = generate_source(plan)
    return plan, source, build_manifest(plan, code_sha256(source, plan), {})


def test_a_batch_publishes_every_version_with_its_pointers(tmp_path):
    out = tmp_path / "gen"
    items = [prepared(tmp_path, f"nb{i}", i) for i in range(3)]
    with PublishBatch(out) as batch:
        published = [batch.add(plan, source, {}, manifest) for plan, source, manifest in items]
        assert [current_version(out / p.name) for p in published] == [None] * 3  # not yet visible
        batch.commit()
    assert [(p.version, p.status) for p in published] == [("v1", "new")] * 3
    assert [current_version(out / f"nb{i}") for i in range(3)] == ["v1"] * 3
    assert verify(out).problems == []
    assert not [p for p in out.rglob(f"{TMP_PREFIX}*")]


def test_an_error_before_commit_publishes_nothing_and_leaves_no_temporaries(tmp_path):
    out = tmp_path / "gen"
    items = [prepared(tmp_path, f"nb{i}", i) for i in range(2)]
    with pytest.raises(RuntimeError, match="stop"), PublishBatch(out) as batch:
        for plan, source, manifest in items:
            batch.add(plan, source, {}, manifest)
        raise RuntimeError("stop")
    assert [list_versions(out / f"nb{i}") for i in range(2)] == [[], []]
    assert not [p for p in out.rglob(f"{TMP_PREFIX}*")]
    assert not [p for p in out.rglob(".switching")]


def _good_then_bad(folder: Path, good: int) -> None:
    for i in range(good):
        write_notebook(folder, [
            (f"n = {i}", ["parameters"]),
            ("total = n * 2", ["step:double", "parity:total"]),
        ], name=f"a{i:02d}.ipynb")
    write_notebook(folder, [("x = (", ["step:broken"])], name="z_broken.ipynb")  # sorted last


@pytest.mark.parametrize("existing", [False, True], ids=["fresh out", "out with versions"])
def test_versions_staged_before_a_later_bad_notebook_leave_nothing_behind(tmp_path, existing):
    """A build stages each version as soon as its notebook is done (in worker processes for this
    many); the bad one comes last, so the batch has staged and created folders by then."""
    from nb2prod.errors import AnalysisError
    from nb2prod.store.build import build

    notebooks, out = tmp_path / "nbs", tmp_path / "deep" / "gen"
    notebooks.mkdir()
    if existing:
        write_notebook(notebooks, [("k = 1", ["step:one", "parity:k"])], name="a00.ipynb")
        build([notebooks], out, root=tmp_path)
    before = sorted((str(p.relative_to(tmp_path)), p.is_dir()) for p in tmp_path.rglob("*")
                    if "nbs" not in p.parts)
    _good_then_bad(notebooks, 8)
    with pytest.raises(AnalysisError, match="syntax error") as raised:
        build([notebooks], out, root=tmp_path)
    assert raised.value.path == "nbs/z_broken.ipynb"
    after = sorted((str(p.relative_to(tmp_path)), p.is_dir()) for p in tmp_path.rglob("*")
                   if "nbs" not in p.parts)
    assert after == before
    assert (out.exists(), (tmp_path / "deep").exists()) == (existing, existing)


def test_an_interrupt_while_the_batch_opens_leaves_no_folder(tmp_path, monkeypatch):
    """Ctrl-C can land while the output folder, its __init__.py and lock file are being made."""
    import filelock

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(filelock.FileLock, "acquire", interrupted)
    out = tmp_path / "deep" / "gen"
    with pytest.raises(KeyboardInterrupt), PublishBatch(out):
        pass
    assert list(tmp_path.iterdir()) == []
