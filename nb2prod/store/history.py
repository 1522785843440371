"""What happened between versions, and whether the versions on disk are still the ones nb2prod wrote.

``diff`` answers a reviewer's "what changed from v3 to v4?" from the two immutable versions alone;
``verify`` answers an auditor's "is v3 what was built?" by re-hashing every file its manifest lists.
Both read only; verify may finish a pointer switch a killed build left half done (see
:func:`nb2prod.store.versions.finish_interrupted_switch`), which is nb2prod completing its own write.
"""

from __future__ import annotations

import ast
import difflib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2prod._hashing import sha256_file
from nb2prod.errors import EXIT_CHECK_FAILED, EXIT_OK, VersionError
from nb2prod.store.versions import (
    LOCK_NAME,
    SWITCH_NAME,
    current_version,
    finish_interrupted_switch,
    list_versions,
    pointer_files,
    read_manifest,
    version_name,
)

_IGNORED = frozenset({"__pycache__", "manifest.json"})


# --- diff ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One difference between two manifests, e.g. parameter ``alpha``: default 1.0 -> 0.5."""

    kind: str  # "parameter" | "step" | "package" | "data file"
    name: str
    what: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.what}"


@dataclass(frozen=True)
class VersionDiff:
    name: str
    old: str
    new: str
    code: str  # unified diff of pipeline.py, "" when identical
    changes: tuple[Change, ...]

    @property
    def identical(self) -> bool:
        return not self.code and not self.changes


def diff_versions(package: Path, old: str, new: str) -> VersionDiff:
    """Code, parameter, step, package and data changes from version ``old`` to ``new``."""
    old, new = _existing(package, old), _existing(package, new)
    before, after = read_manifest(package, old), read_manifest(package, new)
    code = "".join(
        difflib.unified_diff(
            _pipeline_lines(package, old),
            _pipeline_lines(package, new),
            fromfile=f"{package.name}/{old}/pipeline.py",
            tofile=f"{package.name}/{new}/pipeline.py",
        )
    )
    changes = [
        *_parameter_changes(before.get("parameters", {}), after.get("parameters", {})),
        *_step_changes(before.get("steps", {}), after.get("steps", {})),
        *_mapping_changes("package", before.get("packages", {}), after.get("packages", {})),
        *_mapping_changes("data file", _data_hashes(before), _data_hashes(after)),
    ]
    return VersionDiff(package.name, old, new, code, tuple(changes))


def _existing(package: Path, version: str) -> str:
    if version == "current":
        found = current_version(package)
        if found:
            return found
    version = version_name(version)
    known = list_versions(package)
    if version not in known:
        raise VersionError(
            f"no version {version!r} of {package.name!r} (versions: {', '.join(known) or 'none'}).",
            path=str(package),
            hint=f"`nb2prod versions {package.name}` lists them.",
        )
    return version


def _pipeline_lines(package: Path, version: str) -> list[str]:
    path = package / version / "pipeline.py"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise VersionError(f"cannot read it ({err.strerror}).", path=str(path)) from None
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def _parameter_changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    changes = []
    for name in [*before, *(n for n in after if n not in before)]:
        if name not in after:
            changes.append(Change("parameter", name, f"removed (default was {_show(before[name].get('default'))})"))
        elif name not in before:
            changes.append(Change("parameter", name, f"added (default {_show(after[name].get('default'))})"))
        else:
            old, new = before[name], after[name]
            if old.get("default") != new.get("default") or old.get("type") != new.get("type"):
                what = f"default {_show(old.get('default'))} -> {_show(new.get('default'))}"
                if old.get("type") != new.get("type"):
                    what += f" (type {old.get('type')} -> {new.get('type')})"
                changes.append(Change("parameter", name, what))
    return changes


def _step_changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    changes = []
    for name in [*before, *(n for n in after if n not in before)]:
        if name not in after:
            changes.append(Change("step", name, "removed"))
        elif name not in before:
            inputs = ", ".join(after[name].get("inputs", [])) or "none"
            outputs = ", ".join(after[name].get("outputs", [])) or "none"
            changes.append(Change("step", name, f"added (inputs: {inputs}; outputs: {outputs})"))
        else:
            for key in ("inputs", "outputs", "after"):
                old, new = before[name].get(key, []), after[name].get(key, [])
                if old != new:
                    gained = [n for n in new if n not in old]
                    lost = [n for n in old if n not in new]
                    parts = [f"+{n}" for n in gained] + [f"-{n}" for n in lost] or ["reordered"]
                    changes.append(Change("step", name, f"{key} {' '.join(parts)}"))
    return changes


def _mapping_changes(kind: str, before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    changes = []
    for name in sorted(set(before) | set(after), key=str.lower):
        if name not in after:
            changes.append(Change(kind, name, f"removed (was {before[name]})"))
        elif name not in before:
            changes.append(Change(kind, name, f"added ({after[name]})"))
        elif before[name] != after[name]:
            changes.append(Change(kind, name, f"{before[name]} -> {after[name]}"))
    return changes


def _data_hashes(manifest: dict[str, Any]) -> dict[str, str]:
    """Data file -> short content hash (or "missing"), for comparing what two versions were built on."""
    found = {}
    for entry in manifest.get("data_files", []):
        key = entry.get("resolved", entry.get("path", "?"))
        found[key] = "missing" if entry.get("missing") else f"sha256 {str(entry.get('sha256', '?'))[:12]}"
    return found


# --- verify -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class VerifyReport:
    """What verify checked and found; ``exit_code`` is 1 when anything was edited or is missing."""

    out_dir: Path
    modules: int = 0
    versions: int = 0
    problems: list[Problem] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # interrupted pointer switches finished

    @property
    def exit_code(self) -> int:
        return EXIT_CHECK_FAILED if self.problems else EXIT_OK

    @property
    def summary(self) -> str:
        noun = "module" if self.modules == 1 else "modules"
        versions = "version" if self.versions == 1 else "versions"
        if not self.problems:
            return f"{self.versions} {versions} of {self.modules} {noun} verified."
        return (
            f"{len(self.problems)} problem(s) in {self.versions} {versions} of {self.modules} {noun}; "
            "generated code must only change through `nb2prod build` and `nb2prod rollback`."
        )


def verify(out_dir: Path) -> VerifyReport:
    """Re-hash every file of every version, and check CURRENT and each package ``__init__.py``."""
    if not out_dir.is_dir():
        raise VersionError("no such folder of generated modules.", path=str(out_dir),
                           hint="run `nb2prod build` first, or pass the folder.")
    report = VerifyReport(out_dir)
    with _lock(out_dir):
        for package in sorted(p for p in out_dir.iterdir() if _is_package(p)):
            report.modules += 1
            repaired = finish_interrupted_switch(package) if _writable(package) else None
            if repaired:
                report.repaired.append(f"{package.name} -> {repaired}")
            versions = list_versions(package)
            for version in versions:
                report.versions += 1
                report.problems.extend(verify_version(package, version))
            report.problems.extend(_verify_pointer(package, versions))
    return report


def verify_version(package: Path, version: str) -> list[Problem]:
    """Problems with one version folder: unreadable manifest, wrong name, edited, missing or extra files."""
    folder = package / version
    manifest_path = folder / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [Problem(manifest_path, "missing")]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return [Problem(manifest_path, f"does not parse ({err})")]
    problems = []
    if not isinstance(manifest, dict):
        return [Problem(manifest_path, "is not a JSON object")]
    for key, expected in (("name", package.name), ("version", version)):
        if manifest.get(key) != expected:
            problems.append(Problem(manifest_path, f"{key} is {manifest.get(key)!r}, the folder says {expected!r}"))
    files = manifest.get("files")
    if not isinstance(files, dict):
        return [*problems, Problem(manifest_path, "lists no files to check")]
    for name, digest in sorted(files.items()):
        path = folder / name
        if not path.is_file():
            problems.append(Problem(path, "missing"))
        elif sha256_file(path) != digest:
            problems.append(Problem(path, "edited by hand (sha256 differs from the manifest)"))
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and relative.parts[0] not in _IGNORED and relative.as_posix() not in files:
            problems.append(Problem(path, "not in the manifest (added by hand?)"))
    return problems


def _verify_pointer(package: Path, versions: list[str]) -> list[Problem]:
    current_file = package / "CURRENT"
    current = current_version(package)
    if current is None:
        reason = "missing" if not current_file.exists() else "does not name a version (expected e.g. v3)"
        return [Problem(current_file, reason)]
    if current not in versions:
        return [Problem(current_file, f"names {current}, which does not exist ({', '.join(versions) or 'no versions'})")]
    problems = []
    init = package / "__init__.py"
    try:
        text = init.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return [Problem(init, "missing")]
    if text != pointer_files(package, current)["__init__.py"]:
        imported = _imported_version(text)
        if imported != current:
            what = f"imports {imported}" if imported else "imports no version"
            problems.append(Problem(init, f"{what}, but CURRENT says {current}"))
        else:
            problems.append(Problem(init, "edited by hand"))
    return problems


def _imported_version(text: str) -> str | None:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            head = node.module.split(".")[0]
            if head.startswith("v") and head[1:].isdigit():
                return head
    return None


def _is_package(path: Path) -> bool:
    if not path.is_dir() or path.name.startswith((".", "_")):
        return False
    return (path / "CURRENT").exists() or (path / SWITCH_NAME).exists() or bool(list_versions(path))


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


@contextmanager
def _lock(out_dir: Path) -> Iterator[None]:
    """The build lock, so verify never sees a version half published; none on a read-only tree."""
    from filelock import FileLock

    lock = FileLock(str(out_dir / LOCK_NAME), timeout=600)
    try:
        lock.acquire()
    except OSError:
        yield
        return
    try:
        yield
    finally:
        lock.release()
