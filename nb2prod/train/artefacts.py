"""Saving and loading fitted objects: skops first, joblib only for what skops cannot hold.

skops refuses, at load time, every type that is not on its own trusted list. At save time the types
it would refuse (a custom transformer, a LightGBM booster) are recorded in the card; loading trusts
exactly that list and nothing else, after the file's sha256 matched the card. A joblib file (a
pickle) is only ever opened after the same sha256 check, and the card marks it as such.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nb2prod._hashing import sha256_file
from nb2prod.errors import SerialisationError


def qualified_type(obj: Any) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def save_models(folder: Path, models: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Write each model as ``<var>.skops`` (or ``<var>.joblib``); return the card's entries."""
    entries: dict[str, dict[str, Any]] = {}
    for name, obj in models.items():
        entries[name] = save_model(folder, name, obj)
    return entries


def save_model(folder: Path, name: str, obj: Any) -> dict[str, Any]:
    import skops.io as sio

    path = folder / f"{name}.skops"
    try:
        sio.dump(obj, path)
        trusted = sorted(sio.get_untrusted_types(file=path))
        sio.load(path, trusted=trusted)  # what skops cannot rebuild is found now, not in serving
    except Exception as exc:  # skops raises TypeError, NotImplementedError, ... per type
        path.unlink(missing_ok=True)
        skops_reason = f"{type(exc).__name__}: {exc}"
        return _save_joblib(folder, name, obj, skops_reason)
    entry: dict[str, Any] = {
        "file": path.name,
        "format": "skops",
        "sha256": sha256_file(path),
        "type": qualified_type(obj),
        "trusted": trusted,
    }
    return entry


def _save_joblib(folder: Path, name: str, obj: Any, skops_reason: str) -> dict[str, Any]:
    import joblib

    path = folder / f"{name}.joblib"
    try:
        joblib.dump(obj, path)
    except Exception as exc:
        path.unlink(missing_ok=True)
        raise SerialisationError(
            f"model {name!r} ({qualified_type(obj)}) cannot be saved: skops says {skops_reason}; "
            f"joblib says {type(exc).__name__}: {exc}.",
            hint=_hint(skops_reason + str(exc)),
        ) from None
    return {
        "file": path.name,
        "format": "joblib",
        "sha256": sha256_file(path),
        "type": qualified_type(obj),
        "trusted": [],
        "why_joblib": skops_reason,
    }


def _hint(reason: str) -> str:
    if "lambda" in reason:
        return "replace the lambda (in a FunctionTransformer, say) with a function defined in a 'functions' cell."
    if "<locals>" in reason or "Can't get local" in reason or "local object" in reason:
        return ("a class or function defined inside a step cannot be imported again: move it into "
                "a 'functions' cell (module level of the generated code).")
    return "make the fitted object picklable: module-level classes and functions only, no open files or locks."


def load_models(folder: Path, card: dict[str, Any]) -> dict[str, Any]:
    """Load every model the card lists (call only after its sha256 was checked)."""
    return {name: load_model(folder, name, entry) for name, entry in card.get("models", {}).items()}


def load_model(folder: Path, name: str, entry: dict[str, Any]) -> Any:
    path = folder / entry["file"]
    try:
        if entry["format"] == "skops":
            import skops.io as sio

            return sio.load(path, trusted=list(entry.get("trusted", [])))
        if entry["format"] == "joblib":
            import joblib

            return joblib.load(path)
    except Exception as exc:
        raise SerialisationError(
            f"model {name!r} ({entry.get('type')}) does not load back from {entry['file']}: "
            f"{type(exc).__name__}: {exc}.",
            path=str(path),
            hint=_hint(str(exc)),
        ) from None
    raise SerialisationError(f"unknown model format {entry['format']!r} in the card.", path=str(path))
