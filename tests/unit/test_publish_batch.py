"""A build publishes all its versions in one batch: all of them become visible, or none does."""

from __future__ import annotations

from pathlib import Path

import pytest

from nb2prod._format import Formatter
from nb2prod._publish import PublishBatch
from nb2prod.analysis import analyse
from nb2prod.codegen import _MAIN, format_code, generate_source
from nb2prod.history import verify
from nb2prod.notebook import load_notebook
from nb2prod.versions import TMP_PREFIX, build_manifest, code_sha256, current_version, list_versions
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


def test_the_streaming_formatter_gives_what_black_gives_in_order(tmp_path):
    items = [prepared(tmp_path, f"nb{i}", i) for i in range(8)]  # enough for worker processes
    formatter = Formatter(_MAIN, expected=len(items))
    try:
        indexes = [formatter.submit(source, plan.name) for plan, source, _ in items]
        results = [formatter.result(i) for i in reversed(indexes)][::-1]
    finally:
        formatter.close()
    assert results == [format_code(source, plan) for plan, source, _ in items]
