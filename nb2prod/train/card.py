"""The model card (``card.json``, format 1): a model's lineage, schema and checks in one file.

Code version and hashes come from the version's manifest, data hashes from the files its lineage
lists (hashed again when training reads them), parameters from the training run, the rest from the
training job and the round trip. See /work/scratch/CONTRACT.md for every field.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nb2prod import __version__
from nb2prod._hashing import sha256_file
from nb2prod.read.notebook import display_path

CARD_FORMAT = 1


def data_files(manifest: dict[str, Any], notebook_dir: Path, root: Path, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The data the version reads, as training reads it now: path (from the project root), sha256.

    A path that comes from a parameter follows the value training used (``-p data_path new.csv``).
    """
    from nb2prod.analyse.lineage import _facts

    found: list[dict[str, Any]] = []
    for entry in manifest.get("data_files", []):
        if entry.get("remote"):
            found.append({"path": entry["path"], "sha256": None, "remote": True})
            continue
        written = entry["path"]
        via = entry.get("via") or ""
        if via.startswith("parameter ") and isinstance(params.get(via[10:]), str):
            written = params[via[10:]]
        path = Path(written).expanduser()
        path = path if path.is_absolute() else notebook_dir / path
        facts = _facts(path, root)
        item = {"path": facts["resolved"], "sha256": facts.get("sha256")}
        if entry.get("via"):
            item["via"] = entry["via"]
        if facts.get("missing"):
            item["missing"] = True
        if item not in found:
            found.append(item)
    return found


def file_sha256(path: Path) -> str | None:
    return sha256_file(path) if path.is_file() else None


def build_card(
    *,
    name: str,
    model_id: str,
    manifest: dict[str, Any],
    out_dir: Path,
    root: Path,
    parameters: dict[str, Any],
    overrides: dict[str, Any],
    job: dict[str, Any],
    data: list[dict[str, Any]],
) -> dict[str, Any]:
    """The card as the training job leaves it (round trip and gates are added afterwards)."""
    version = manifest["version"]
    inference = manifest.get("inference") or {}
    packages = dict(manifest.get("packages", {}))
    packages.update(job.get("packages", {}))
    return {
        "format": CARD_FORMAT,
        "name": name,
        "model_id": model_id,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "code": {
            "out_dir": display_path(out_dir, root),
            "version": version,
            "code_sha256": manifest.get("code_sha256"),
            "pipeline_sha256": file_sha256(out_dir / name / version / "pipeline.py"),
            "source": manifest.get("source"),
            "source_sha256": manifest.get("source_sha256"),
        },
        "parameters": parameters,
        "parameter_overrides": overrides,
        "metrics": job.get("metrics", {}),
        "metric_functions": inference.get("metric_functions", {}),
        "data_files": data,
        "packages": dict(sorted(packages.items(), key=lambda kv: kv[0].lower())),
        "models": job["models"],
        "inference": {k: inference.get(k, []) for k in ("steps", "payload", "models", "parameters", "outputs")},
        "payload": job.get("payload", {}),
        "outputs": job.get("outputs", {}),
        "reference": job.get("reference"),
        "files": job.get("files", {}),
        "round_trip": None,
        "gates": None,
        "trained_on": {"nb2prod": __version__, "python": ".".join(map(str, sys.version_info[:3]))},
    }


def write_card(folder: Path, card: dict[str, Any]) -> None:
    text = json.dumps(card, indent=2, default=repr) + "\n"
    (folder / "card.json").write_text(text, encoding="utf-8")
