"""Immutable versions under ``generated/<name>/``: hashes, manifests, and the atomic publish.

A version directory is written complete into a temporary folder beside it and renamed into place, under
a file lock, so a killed or concurrent build never leaves a half version and never reuses a number.
``CURRENT`` and the package ``__init__.py`` are replaced atomically too. Nothing here deletes a version.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nb2prod import FORMAT_VERSION, __version__
from nb2prod._hashing import sha256_text
from nb2prod.analyse.plan import Plan
from nb2prod.errors import VersionError

VERSION_DIR = re.compile(r"^v(\d+)$")
LOCK_NAME = ".nb2prod.lock"
TMP_PREFIX = ".tmp-"
SWITCH_NAME = ".switching"  # intent record while CURRENT and __init__.py are rewritten


@dataclass(frozen=True)
class Published:
    name: str
    version: str
    status: str  # "new" | "updated" | "unchanged"
    path: Path


def code_sha256(body: str, plan: Plan) -> str:
    """Hash of the normalized exported code and parameter defaults: the identity of a version."""
    params = json.dumps([[p.name, p.literal] for p in plan.parameters])
    return sha256_text(body + "\n# parameters: " + params)


def version_name(text: str) -> str:
    """``3`` or ``v3`` -> ``v3``, so commands accept either spelling."""
    text = text.strip()
    return f"v{text}" if text.isdigit() else text


def list_versions(package: Path) -> list[str]:
    """Version folder names, oldest first (``v1``, ``v2``, ..., ``v10``)."""
    if not package.is_dir():
        return []
    found = [(int(m.group(1)), p.name) for p in package.iterdir() if (m := VERSION_DIR.match(p.name))]
    return [name for _, name in sorted(found)]


def current_version(package: Path) -> str | None:
    try:
        text = (package / "CURRENT").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text if VERSION_DIR.match(text) else None


def read_manifest(package: Path, version: str) -> dict[str, Any]:
    path = package / version / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise VersionError(
            f"cannot read the manifest of {version} ({err}).",
            path=str(path),
            hint="run `nb2prod verify` to see what changed.",
        ) from None


def staleness(out_dir: Path, plan: Plan, code_hash: str) -> str | None:
    """Why the generated code for ``plan`` is out of date, or None when it is current."""
    package = out_dir / plan.name
    current = current_version(package)
    if current is None:
        return "never built"
    manifest = read_manifest(package, current)
    if manifest.get("code_sha256") == code_hash:
        return None
    old = {k: v.get("default") for k, v in manifest.get("parameters", {}).items()}
    new = {p.name: p.default for p in plan.parameters}
    if json.dumps(old, sort_keys=True, default=repr) != json.dumps(new, sort_keys=True, default=repr):
        return f"parameters changed since {current}"
    return f"exported code changed since {current}"


def guard_out_dir(out_dir: Path, names: list[str]) -> None:
    """Refuse, before anything is written, when a write under ``out_dir`` could land elsewhere.

    Module names are identifiers (``analysis.module_name``), so no ``..`` can appear; what remains is
    a symbolic link: ``generated/<name>``, anything directly inside it, or the shared
    ``__init__.py`` and lock file. nb2prod never writes through one (the folder ``out_dir`` itself,
    chosen by the user, may be a link).
    """
    candidates = [out_dir / "__init__.py", out_dir / LOCK_NAME]
    for name in names:
        if not name.isidentifier() or name != Path(name).name:
            raise VersionError(f"refusing the module name {name!r}: not a Python identifier.")
        package = out_dir / name
        candidates.append(package)
        if package.is_dir() and not package.is_symlink():
            candidates.extend(package.iterdir())
    # every candidate is out_dir/<entry> or out_dir/<package>/<entry>, and no package is a link
    # (checked here, before its entries), so none is a link is all it takes to stay inside
    for path in candidates:
        if path.is_symlink():
            target = os.readlink(path)
            raise VersionError(
                f"this is a symbolic link (to {target}); nb2prod writes only inside the output "
                "folder and never through a link.",
                path=str(path),
                hint="remove the link (or replace it with a real folder) and build again.",
            )


def point_current(package: Path, version: str) -> None:
    """Make ``version`` current (used by rollback); the version must exist."""
    from filelock import FileLock

    version = version_name(version)
    guard_out_dir(package.parent, [package.name])
    if version not in list_versions(package):
        known = ", ".join(list_versions(package)) or "none"
        raise VersionError(
            f"no version {version!r} of {package.name!r} (versions: {known}).",
            path=str(package),
            hint=f"`nb2prod versions {package.name}` lists them.",
        )
    with FileLock(str(package.parent / LOCK_NAME), timeout=600):
        finish_interrupted_switch(package)
        _point_package_at(package, version)


def pointer_files(package: Path, version: str) -> dict[str, str]:
    """What ``<name>/__init__.py``, ``__main__.py`` and ``CURRENT`` hold when ``version`` is current."""
    name = package.name
    init = (
        f'"""The current version of the {name!r} pipeline: {version}.\n\n'
        "Rewritten by `nb2prod build` and `nb2prod rollback`; versions themselves never change.\n"
        f'"""\n\nfrom .{version}.pipeline import PARAMETERS, main, run\n\n'
        f'__all__ = ["PARAMETERS", "main", "run"]\n__version__ = "{version}"\n'
    )
    main = f'"""``python -m {package.parent.name}.{name}``: run the current version."""\n\nfrom . import main\n\nmain()\n'
    # CURRENT last: the order readers see when no switch record is left behind.
    return {"__init__.py": init, "__main__.py": main, "CURRENT": version + "\n"}


def finish_interrupted_switch(package: Path) -> str | None:
    """Complete a publish or rollback a killed process began; call it holding the lock.

    Renaming a version in and pointing CURRENT and ``__init__.py`` at it are three steps, so before
    the first of them the target is recorded in ``.switching``. Finding that record with the target
    version present means it was interrupted after the version was complete: the switch is finished
    (rolled forward). With the target absent, nothing was published and the record is dropped.
    Returns the version it pointed at, if any.
    """
    record = package / SWITCH_NAME
    try:
        target = record.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if target in list_versions(package):
        _point_package_at(package, target)
        return target
    record.unlink(missing_ok=True)
    return None


def _point_package_at(package: Path, version: str) -> None:
    wanted = pointer_files(package, version)
    stale = {f: t for f, t in wanted.items() if _read_or_none(package / f) != t}
    if not stale:
        (package / SWITCH_NAME).unlink(missing_ok=True)
        return
    _replace_atomically(package / SWITCH_NAME, version + "\n")
    for filename, text in stale.items():
        _replace_atomically(package / filename, text)
    (package / SWITCH_NAME).unlink(missing_ok=True)
    fsync_dir(package)


def _read_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def _replace_atomically(path: Path, text: str) -> None:
    tmp = write_temporary(path.parent, text, sync=True)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    forget_bytecode(path)


def forget_bytecode(path: Path) -> None:
    """Remove the bytecode Python cached for ``path``, rewritten in place. A pointer file
    (``from .v1.pipeline import *`` becoming ``from .v2...``) keeps its size, and rewritten within
    the second it was imported it keeps its mtime too, which is all a ``.pyc`` is checked against:
    the next import would run the version it replaced."""
    if path.suffix != ".py":
        return
    import importlib.util

    try:
        Path(importlib.util.cache_from_source(str(path))).unlink(missing_ok=True)
    except (NotImplementedError, ValueError, OSError):
        pass


def write_temporary(folder: Path, text: str, *, sync: bool = False) -> Path:
    """A new file (mode 644) holding ``text`` in ``folder``, named as a temporary (removed by the next
    holder of the lock if never renamed); ``sync`` flushes it to disk before returning."""
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=folder)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it private; CURRENT and __init__.py are read by others
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _write_if_missing(path: Path, text: str) -> None:
    if not path.exists():
        _replace_atomically(path, text)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_abandoned_temporaries(package: Path) -> None:
    """Staging folders left by a killed build (we hold the lock, so none is in use)."""
    for child in package.iterdir():
        if child.name.startswith(TMP_PREFIX):
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def build_manifest(
    plan: Plan,
    code_hash: str,
    packages: dict[str, str | None],
    data_files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The lineage fields of DESIGN.md (name and version are added by :func:`publish`)."""
    return {
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": plan.notebook.display_path,
        "source_sha256": plan.notebook.sha256,
        "code_sha256": code_hash,
        "nb2prod_version": __version__,
        "format_version": FORMAT_VERSION,
        "python_version": ".".join(map(str, sys.version_info[:3])),
        "packages": packages,
        "parameters": {
            p.name: {"default": p.default, "type": _type(p.type_name), **({"injected": True} if p.injected else {})}
            for p in plan.parameters
        },
        "steps": {
            s.name: {
                "function": s.function,
                "cells": list(s.cells),
                "inputs": list(s.inputs),
                "outputs": list(s.outputs),
                "after": list(s.after),
                "depends_on": list(s.depends_on),
                **({"writes": list(s.files_written)} if s.files_written else {}),
                **({"code_cells": list(s.exported_cells)} if s.exported_cells != s.cells else {}),
            }
            for s in plan.steps
        },
        "parity_targets": [_target(t, plan) for t in plan.parity_targets],
        "metrics": [_target(t, plan) for t in plan.metric_targets],
        "data_files": list(data_files or []),
        **_serving_manifest(plan),
        **({"inferred": list(plan.inferred)} if plan.inferred else {}),
        **({"dropped": [d.describe() for d in plan.dropped]} if plan.dropped else {}),
    }


def _serving_manifest(plan: Plan) -> dict[str, Any]:
    """``models`` and ``inference`` for a notebook with ``model:`` tags (what `nb2prod train` reads)."""
    if not plan.models:
        return {}
    found: dict[str, Any] = {"models": [{"name": t.name, "cell": t.cell, "step": t.step} for t in plan.models]}
    inference = plan.inference
    if inference is not None:
        found["inference"] = {
            "steps": list(inference.steps),
            "payload": list(inference.payload),
            "models": list(inference.models),
            "parameters": list(inference.parameters),
            "outputs": list(inference.outputs),
            "metric_functions": {
                f.metric: {"function": f.function, "truth": f.truth, "prediction": f.prediction}
                for f in inference.metric_functions
            },
        }
    return found


def _type(name: str) -> str:
    """A parameter's type as the manifest records it: an int parameter also takes a float."""
    return "int | float" if name == "int" else name


def _target(t: Any, plan: Plan) -> dict[str, Any]:
    """A target's manifest entry; ``expression``: the notebook shows it (``accuracy_score(...)``
    as a cell's last line) rather than binding the name, so parity captures the shown value."""
    entry = {"name": t.name, "cell": t.cell, "step": t.step}
    return {**entry, "expression": True} if t.name in plan.expression_targets else entry


def package_versions(modules: tuple[str, ...]) -> dict[str, str | None]:
    """Distributions that provide the imported modules, with their installed versions."""
    found: dict[str, str | None] = {}
    for module in modules:
        if module in sys.stdlib_module_names:
            continue
        for dist in _providers().get(module, [module]):
            found[dist] = _dist_version(dist)
    return dict(sorted(found.items(), key=lambda kv: kv[0].lower()))


def warm_providers() -> None:
    """Load the module -> distribution map now (processes forked afterwards inherit it)."""
    _providers()


@functools.cache
def _providers() -> dict[str, list[str]]:
    """Module -> distributions. Scanning every installed distribution costs 0.3-0.7 s, so the answer
    is cached on disk, keyed by the distributions each folder of the import path holds: installing,
    upgrading or removing a package adds or removes a ``.dist-info`` folder (its name carries the
    version). Not by the folders' times, and not by folders that hold none: the working folder is
    on the path under ``python -m`` (the script's folder for the console script), and every file a
    notebook writes there would throw the answer away."""
    from importlib import metadata

    from nb2prod._cache import read_json, write_json

    stamp = [[entry, found] for entry in sys.path if os.path.isdir(entry) and (found := _distributions_in(entry))]
    cached = read_json("providers-v1.json")
    if isinstance(cached, dict) and cached.get("stamp") == stamp:
        return cached["providers"]
    providers = metadata.packages_distributions()
    write_json("providers-v1.json", {"stamp": stamp, "providers": providers})
    return providers


def _distributions_in(folder: str) -> list[str]:
    """The names of the ``.dist-info`` and ``.egg-info`` entries directly in ``folder``."""
    try:
        with os.scandir(folder) as entries:
            return sorted(e.name for e in entries if e.name.endswith((".dist-info", ".egg-info")))
    except OSError:
        return []


@functools.cache
def _dist_version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def requirements_txt(packages: dict[str, str | None]) -> str:
    """Pinned requirements; a module no installed distribution provides is left as a comment.

    Such a module is usually a local helper next to the notebook; a bare name would make
    ``pip install -r`` fetch an unrelated package of the same name from PyPI.
    """
    lines = [
        f"{dist}=={version}" if version else f"# {dist}: no installed distribution provides it at build time"
        for dist, version in packages.items()
    ]
    header = "# What the generated pipeline imports, pinned to the versions it was built with.\n"
    return header + "".join(line + "\n" for line in lines)
