"""Versions in-process: publish, unchanged, rollback, staleness reasons, pointer recovery, verify, diff."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from nb2prod.analyse.planner import analyse
from nb2prod.errors import EXIT_BAD_INPUT, VersionError
from nb2prod.generate.codegen import generate_source
from nb2prod.read.notebook import load_notebook
from nb2prod.store.history import diff_versions, verify
from nb2prod.store.publish import publish
from nb2prod.store.versions import (
    SWITCH_NAME,
    TMP_PREFIX,
    Published,
    build_manifest,
    code_sha256,
    current_version,
    finish_interrupted_switch,
    list_versions,
    package_versions,
    point_current,
    pointer_files,
    read_manifest,
    requirements_txt,
    staleness,
)
from tests.nbfactory import write_notebook

BASE = [
    ("import math", ["imports"]),
    ("n = 3\nscale = 2.0", ["parameters"]),
    ("values = [i * scale for i in range(n)]", ["step:make"]),
    ("total = math.fsum(values)", ["step:add", "parity:total"]),
]


def cells(**replace: str) -> list[tuple[str, list[str]]]:
    """BASE with some cells' code replaced, keyed by their first tag: cells(parameters="n = 4")."""
    return [(replace.get(tags[0].split(":")[-1], code), tags) for code, tags in BASE]


def plan_of(folder: Path, spec: list) -> tuple:
    path = write_notebook(folder, spec, name="calc.ipynb")
    plan = analyse(load_notebook(path, root=folder))
    source = generate_source(plan)
    return plan, source, code_sha256(source, plan)


def build_once(folder: Path, spec: list) -> Published:
    plan, source, digest = plan_of(folder, spec)
    manifest = build_manifest(plan, digest, {"numpy": "1.0"})
    return publish(folder / "gen", plan, source, {"requirements.txt": "numpy==1.0\n"}, manifest)


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_first_publish_is_new_v1_and_everything_points_at_it(tmp_path):
    published = build_once(tmp_path, cells())
    package = tmp_path / "gen" / "calc"
    assert (published.version, published.status) == ("v1", "new")
    assert (package / "CURRENT").read_text() == "v1\n"
    assert "from .v1.pipeline import" in (package / "__init__.py").read_text()
    assert {p.name for p in (package / "v1").iterdir()} == {
        "__init__.py", "pipeline.py", "manifest.json", "requirements.txt"}
    manifest = read_manifest(package, "v1")
    assert set(manifest["files"]) == {"__init__.py", "pipeline.py", "requirements.txt"}
    assert manifest["data_files"] == []
    assert not list(package.glob(TMP_PREFIX + "*")) and not (package / SWITCH_NAME).exists()


def test_same_code_is_unchanged_and_writes_nothing(tmp_path):
    build_once(tmp_path, cells())
    before = tree(tmp_path / "gen")
    again = build_once(tmp_path, cells())
    assert (again.version, again.status) == ("v1", "unchanged")
    assert tree(tmp_path / "gen") == before


@pytest.mark.parametrize("change", [{"make": "values = [i * scale + 1 for i in range(n)]"},
                                    {"parameters": "n = 4\nscale = 2.0"},
                                    {"imports": "import math as math"}])
def test_any_exported_change_makes_the_next_version_and_keeps_the_old_one(tmp_path, change):
    build_once(tmp_path, cells())
    package = tmp_path / "gen" / "calc"
    v1 = tree(package / "v1")
    published = build_once(tmp_path, cells(**change))
    assert (published.version, published.status) == ("v2", "updated")
    assert list_versions(package) == ["v1", "v2"] and current_version(package) == "v2"
    assert tree(package / "v1") == v1


def test_reexecuting_the_notebook_keeps_the_code_hash(tmp_path):
    plan, _, digest = plan_of(tmp_path, cells())
    path = plan.notebook.path
    nb = nbformat.read(path, as_version=4)
    for count, cell in enumerate(nb.cells, 7):
        cell.execution_count = count
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"ran {count}\n")]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.metadata["kernelspec"]["display_name"] = "Python 3 (ipykernel)"
    nbformat.write(nb, path)
    again = analyse(load_notebook(path, root=tmp_path))
    assert again.notebook.sha256 != plan.notebook.sha256
    assert code_sha256(generate_source(again), again) == digest


def test_staleness_names_the_reason(tmp_path):
    out = tmp_path / "gen"
    plan, _, digest = plan_of(tmp_path, cells())
    assert staleness(out, plan, digest) == "never built"
    build_once(tmp_path, cells())
    assert staleness(out, plan, digest) is None
    plan, _, digest = plan_of(tmp_path, cells(parameters="n = 4\nscale = 2.0"))
    assert staleness(out, plan, digest) == "parameters changed since v1"
    plan, _, digest = plan_of(tmp_path, cells(add="total = math.fsum(values) * 2"))
    assert staleness(out, plan, digest) == "exported code changed since v1"


def test_rollback_repoints_current_and_the_package_and_deletes_nothing(tmp_path):
    build_once(tmp_path, cells())
    build_once(tmp_path, cells(parameters="n = 4\nscale = 2.0"))
    package = tmp_path / "gen" / "calc"
    point_current(package, "1")  # a bare number means v1
    assert current_version(package) == "v1"
    assert (package / "__init__.py").read_text() == pointer_files(package, "v1")["__init__.py"]
    assert list_versions(package) == ["v1", "v2"]
    # rebuilding the v2 notebook after a rollback is a change from v1: a new version, v2 untouched
    assert build_once(tmp_path, cells(parameters="n = 4\nscale = 2.0")).version == "v3"


def test_rollback_to_an_unknown_version_is_a_usage_error(tmp_path):
    build_once(tmp_path, cells())
    with pytest.raises(VersionError) as caught:
        point_current(tmp_path / "gen" / "calc", "v7")
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert "no version 'v7'" in str(caught.value) and "versions: v1" in str(caught.value)


def test_versions_sort_numerically(tmp_path):
    for name in ("v10", "v2", "v1", "v9", "vx", ".tmp-abc"):
        (tmp_path / name).mkdir()
    assert list_versions(tmp_path) == ["v1", "v2", "v9", "v10"]


def test_a_switch_interrupted_between_its_two_files_is_finished(tmp_path):
    build_once(tmp_path, cells())
    build_once(tmp_path, cells(parameters="n = 4\nscale = 2.0"))
    package = tmp_path / "gen" / "calc"
    point_current(package, "v1")
    # what a kill between writing __init__.py and CURRENT leaves behind
    (package / SWITCH_NAME).write_text("v2\n")
    (package / "__init__.py").write_text(pointer_files(package, "v2")["__init__.py"])
    assert current_version(package) == "v1"
    report = verify(tmp_path / "gen")
    assert report.repaired == ["calc -> v2"] and report.problems == []
    assert current_version(package) == "v2" and not (package / SWITCH_NAME).exists()
    assert finish_interrupted_switch(package) is None


def test_an_abandoned_staging_folder_is_removed_by_the_next_publish(tmp_path):
    build_once(tmp_path, cells())
    package = tmp_path / "gen" / "calc"
    (package / f"{TMP_PREFIX}killed").mkdir()
    (package / f"{TMP_PREFIX}killed" / "pipeline.py").write_text("half")
    assert verify(tmp_path / "gen").problems == []  # never counted as a version
    build_once(tmp_path, cells(parameters="n = 9\nscale = 2.0"))
    assert not list(package.glob(TMP_PREFIX + "*")) and list_versions(package) == ["v1", "v2"]


def test_verify_names_edited_missing_and_added_files_and_a_bad_pointer(tmp_path):
    build_once(tmp_path, cells())
    build_once(tmp_path, cells(parameters="n = 4\nscale = 2.0"))
    package = tmp_path / "gen" / "calc"
    assert (verify(tmp_path / "gen").versions, verify(tmp_path / "gen").modules) == (2, 1)
    with (package / "v1" / "pipeline.py").open("a") as fh:
        fh.write("# tweak\n")
    (package / "v2" / "requirements.txt").unlink()
    (package / "v2" / "notes.txt").write_text("mine")
    (package / "v2" / "__pycache__").mkdir()
    (package / "v2" / "__pycache__" / "pipeline.cpython.pyc").write_bytes(b"\0")
    (package / "__init__.py").write_text(pointer_files(package, "v1")["__init__.py"])
    found = {(p.path.relative_to(package).as_posix(), p.reason.split(" (")[0].split(",")[0])
             for p in verify(tmp_path / "gen").problems}
    assert found == {
        ("v1/pipeline.py", "edited by hand"),
        ("v2/requirements.txt", "missing"),
        ("v2/notes.txt", "not in the manifest"),
        ("__init__.py", "imports v1"),
    }


def test_verify_checks_the_manifest_itself_and_current(tmp_path):
    build_once(tmp_path, cells())
    package = tmp_path / "gen" / "calc"
    manifest = json.loads((package / "v1" / "manifest.json").read_text())
    (package / "v1" / "manifest.json").write_text(json.dumps({**manifest, "version": "v3"}))
    (package / "CURRENT").write_text("v5\n")
    reasons = sorted(p.reason for p in verify(tmp_path / "gen").problems)
    assert reasons == ["names v5, which does not exist (v1)", "version is 'v3', the folder says 'v1'"]
    (package / "v1" / "manifest.json").write_text("{not json")
    assert "does not parse" in verify(tmp_path / "gen").problems[0].reason


def test_diff_reports_code_parameters_steps_and_packages(tmp_path):
    plan, source, digest = plan_of(tmp_path, cells())
    publish(tmp_path / "gen", plan, source, {}, build_manifest(plan, digest, {"numpy": "1.0", "six": "1"}))
    changed = cells(parameters="n = 4\nscale = 2.0", add="total = math.fsum(values) * scale")
    spec = [*changed, ("mean = total / n", ["step:average", "parity:mean"])]
    plan, source, digest = plan_of(tmp_path, spec)
    publish(tmp_path / "gen", plan, source, {}, build_manifest(plan, digest, {"numpy": "2.0", "scipy": "1"}))
    result = diff_versions(tmp_path / "gen" / "calc", "1", "current")
    assert (result.old, result.new) == ("v1", "v2")
    assert "-    'n': 3,\n" in result.code and "+    'n': 4,\n" in result.code
    assert {str(c) for c in result.changes} == {
        "parameter n: default 3 -> 4",
        "step add: inputs +scale",
        "step average: added (inputs: total, n; outputs: mean)",
        "package numpy: 1.0 -> 2.0",
        "package scipy: added (1)",
        "package six: removed (was 1)",
    }
    assert diff_versions(tmp_path / "gen" / "calc", "v2", "v2").identical
    with pytest.raises(VersionError, match="no version 'v9'"):
        diff_versions(tmp_path / "gen" / "calc", "v1", "v9")


def test_package_versions_names_distributions_not_import_names():
    found = package_versions(("sklearn", "numpy", "os", "json", "surely_not_a_module_xyz"))
    assert {"scikit-learn", "numpy", "surely_not_a_module_xyz"} == set(found)
    assert found["scikit-learn"] and found["numpy"] and found["surely_not_a_module_xyz"] is None
    text = requirements_txt(found)
    assert f"scikit-learn=={found['scikit-learn']}\n" in text
    # a local helper module must not become an installable requirement of the same name
    assert "\n# surely_not_a_module_xyz: " in text
    assert not any(line.startswith("surely") for line in text.splitlines())


def test_package_providers_are_cached_on_disk_until_a_package_is_installed(tmp_path, monkeypatch):
    import json

    from nb2prod.store import versions

    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("NB2PROD_CACHE_DIR", str(tmp_path / "cache"))
    versions._providers.cache_clear()
    real = versions._providers()
    assert "numpy" in real["numpy"]
    stored = tmp_path / "cache" / "providers-v1.json"
    cached = json.loads(stored.read_text())
    assert cached["providers"]["numpy"] == real["numpy"]

    cached["providers"] = {"numpy": ["from-the-cache"]}  # what a later build must take as is
    stored.write_text(json.dumps(cached))
    (site / "scores.csv").write_text("a\n1\n")  # a notebook's file in a folder on the path
    versions._providers.cache_clear()
    assert versions._providers()["numpy"] == ["from-the-cache"]

    dist = site / "fake_pkg-1.0.dist-info"  # `pip install --target site fake-pkg`
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-pkg\nVersion: 1.0\n")
    (dist / "top_level.txt").write_text("fake_pkg\n")
    versions._providers.cache_clear()
    again = versions._providers()
    assert again["numpy"] == real["numpy"] and again["fake_pkg"] == ["fake-pkg"]
    versions._providers.cache_clear()
