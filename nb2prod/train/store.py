"""The model store: ``models/<name>/<model id>/`` folders, immutable once renamed in, and ``PRODUCTION``.

The same discipline as generated versions (:mod:`nb2prod.store.versions`): a model folder is written
complete into a temporary folder beside its final place and renamed in under a file lock, so two
training jobs at once make two complete folders and ``PRODUCTION`` always names one of them. Nothing
here deletes a model. Serve and monitor use :class:`ModelStore` and :class:`LoadedModel` only.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nb2prod._hashing import sha256_file
from nb2prod.errors import ArtefactTampered, ModelError
from nb2prod.store.versions import fsync_dir

MODEL_ID = re.compile(r"^m\d{8}T\d{6}-[0-9a-f]{6}$")
PRODUCTION = "PRODUCTION"
CARD = "card.json"
LOCK_NAME = ".nb2prod.lock"
TMP_PREFIX = ".tmp-"


def models_dir(option: str | None) -> Path:
    """``--models DIR``, else ``[tool.nb2prod] models``, else ``<project root>/models``."""
    if option:
        return Path(option)
    from nb2prod.config import load_config

    return load_config().models_dir


def new_model_id(now: datetime | None = None) -> str:
    """``m20261202T031500-3fa2c1``: sortable by training time, unique across concurrent jobs."""
    now = now or datetime.now(UTC)
    return f"m{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


@dataclass
class LoadedModel:
    """A verified model folder with its models loaded and its code version imported."""

    card: dict[str, Any]
    models: dict[str, Any]
    folder: Path
    module: Any = field(repr=False, default=None)

    def predict(self, **payload: Any) -> dict[str, Any]:
        """The version's ``predict(models, **payload)``, with the parameters training used."""
        inference = self.card.get("inference") or {}
        params = {k: self.card["parameters"][k] for k in inference.get("parameters", [])
                  if k in self.card.get("parameters", {})}
        return self.module.predict(self.models, **payload, **params)


class ModelStore:
    """The models of every notebook under one root (``models/``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- reading ---------------------------------------------------------------------------------
    def folder(self, name: str, model_id: str) -> Path:
        _check_name(name)
        if not MODEL_ID.match(model_id):
            raise ModelError(
                f"{model_id!r} is not a model id (they look like m20261202T031500-3fa2c1).",
                path=str(self.root / name),
                hint=f"`nb2prod models {name}` lists them.",
            )
        return self.root / name / model_id

    def model_ids(self, name: str) -> list[str]:
        """Complete model folders of ``name``, oldest first."""
        _check_name(name)
        package = self.root / name
        if not package.is_dir():
            return []
        return sorted(p.name for p in package.iterdir() if MODEL_ID.match(p.name) and p.is_dir())

    def production_id(self, name: str) -> str | None:
        _check_name(name)
        try:
            text = (self.root / name / PRODUCTION).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return text if MODEL_ID.match(text) else None

    def card(self, name: str, model_id: str) -> dict[str, Any]:
        return read_card(self.folder(name, model_id))

    def verify(self, name: str, model_id: str) -> None:
        """Every file the card lists still has its sha256; raises :class:`ArtefactTampered`."""
        verify_folder(self.folder(name, model_id))

    def load(self, name: str, model_id: str, *, out_dir: Path | None = None) -> LoadedModel:
        """Verify, load the models (trusting only the card's own list) and import the code."""
        return load_folder(self.folder(name, model_id), out_dir=out_dir)

    def load_production(self, name: str, *, out_dir: Path | None = None) -> LoadedModel:
        model_id = self.production_id(name)
        if model_id is None:
            raise ModelError(
                f"no production model for {name!r} in {self.root}.",
                path=str(self.root / name),
                hint=f"run `nb2prod train NOTEBOOK --promote`, or `nb2prod promote {name} MODEL_ID`.",
            )
        return self.load(name, model_id, out_dir=out_dir)

    # -- writing ---------------------------------------------------------------------------------
    def promote(self, name: str, model_id: str) -> str | None:
        """Make ``model_id`` the production model; returns the one it replaces."""
        folder = self.folder(name, model_id)
        if not (folder / CARD).is_file():
            raise ModelError(
                f"no model {model_id!r} of {name!r} in {self.root}.",
                path=str(folder.parent),
                hint=f"`nb2prod models {name}` lists them.",
            )
        card = verify_folder(folder)
        trip = card.get("round_trip") or {}
        if not trip.get("passed"):
            raise ModelError(
                f"model {model_id} of {name!r} failed its round trip ({trip.get('reason')}); "
                "served, it would not predict what training did.",
                path=str(folder),
                hint="fix the reason and train again, or promote a model whose round trip passed.",
            )
        with self.locked(name):
            before = self.production_id(name)
            write_pointer(self.root / name / PRODUCTION, model_id)
        return before

    @contextmanager
    def locked(self, name: str) -> Iterator[Path]:
        """Hold ``models/<name>/.nb2prod.lock``; abandoned staging folders are removed meanwhile."""
        from filelock import FileLock

        package = self.root / name
        package.mkdir(parents=True, exist_ok=True)
        with FileLock(str(package / LOCK_NAME), timeout=600):
            _remove_abandoned_staging(package)
            yield package

    def staging(self, name: str) -> Path:
        """A private folder beside the final one, named for this process (so no other job removes
        it while it trains; a dead process's is removed by the next holder of the lock)."""
        import tempfile

        package = self.root / name
        package.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=package.resolve()))
        folder.chmod(0o755)
        return folder

    def publish(self, name: str, staging: Path, model_id: str, *, promote: bool) -> str | None:
        """Rename a complete staging folder in as ``model_id``; with ``promote``, point
        PRODUCTION at it, in one hold of the lock. Returns the production model it replaced."""
        with self.locked(name) as package:
            _sync(staging)
            os.rename(staging, package / model_id)
            before = self.production_id(name)
            if promote:
                write_pointer(package / PRODUCTION, model_id)
            fsync_dir(package)
        return before


def rollback_production(store: ModelStore, name: str, version: str | None) -> str:
    """Point PRODUCTION at the newest model ``version`` trained (whose round trip passed), for
    ``nb2prod rollback``; says what it did, or that no such model exists and only code moved."""
    candidates = []
    for model_id in store.model_ids(name):
        try:
            card = store.card(name, model_id)
        except (ModelError, ArtefactTampered):
            continue
        if card["code"].get("version") == version and (card.get("round_trip") or {}).get("passed"):
            candidates.append(model_id)
    if not candidates:
        return f"{name}: no model trained by {version} in {store.root}; only the code moved."
    before = store.promote(name, candidates[-1])
    was = f" (was {before})" if before else ""
    return f"{name}: PRODUCTION is now {candidates[-1]}, the newest model trained by {version}{was}."


def _check_name(name: str) -> None:
    if not name.isidentifier():
        raise ModelError(f"{name!r} is not a module name (a Python identifier, like the notebook's stem).")


def read_card(folder: Path) -> dict[str, Any]:
    path = folder / CARD
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(sorted(p.name for p in folder.parent.glob("m*") if MODEL_ID.match(p.name)))
        raise ModelError(
            f"no model {folder.name!r} of {folder.parent.name!r} (no {CARD}).",
            path=str(folder),
            hint=f"models there: {known}." if known else "run `nb2prod train` first.",
        ) from None
    except (OSError, json.JSONDecodeError) as err:
        raise ArtefactTampered(f"cannot read the model card ({err}).", path=str(path)) from None
    if not isinstance(card, dict) or card.get("format") != 1:
        raise ArtefactTampered("the model card is not a format-1 card written by nb2prod.", path=str(path))
    return card


def card_files(card: dict[str, Any]) -> dict[str, str]:
    """Every file of the folder the card vouches for, with its sha256."""
    files = dict(card.get("files", {}))
    for entry in card.get("models", {}).values():
        files[entry["file"]] = entry["sha256"]
    return files


def verify_folder(folder: Path) -> dict[str, Any]:
    """Check every artefact against the card's sha256 (and no file is unaccounted for)."""
    card = read_card(folder)
    expected = card_files(card)
    for filename, digest in sorted(expected.items()):
        path = folder / filename
        if Path(filename).name != filename or not path.is_file():
            raise ArtefactTampered(
                f"the model card lists {filename!r}, which is missing.",
                path=str(folder),
                hint="the model folder is incomplete; train again or promote another model.",
            )
        if sha256_file(path) != digest:
            raise ArtefactTampered(
                f"{filename} does not match the sha256 in its model card: it was changed after "
                "training, so it is not loaded.",
                path=str(path),
                hint="train again (`nb2prod train`), or promote another model (`nb2prod models`).",
            )
    extra = sorted(p.name for p in folder.iterdir() if p.name != CARD and p.name not in expected)
    if extra:
        raise ArtefactTampered(
            f"{extra[0]} is in the model folder but not in its card.",
            path=str(folder / extra[0]),
            hint="remove it; nb2prod never adds files to a model folder after training.",
        )
    return card


def load_folder(folder: Path, *, out_dir: Path | None = None) -> LoadedModel:
    """A model folder as a :class:`LoadedModel` (used by the store and by the round trip)."""
    from nb2prod.train.artefacts import load_models

    card = verify_folder(folder)
    module = import_code(card, out_dir=out_dir)
    return LoadedModel(card=card, models=load_models(folder, card), folder=folder, module=module)


def code_folder(card: dict[str, Any], out_dir: Path | None = None) -> Path:
    """``generated/<name>/<version>`` of the code version that trained the model."""
    code = card["code"]
    base = Path(out_dir) if out_dir is not None else Path(code["out_dir"])
    if not base.is_absolute() and out_dir is None:
        from nb2prod.config import load_config

        base = load_config().root / base
    return base / card["name"] / code["version"]


def import_code(card: dict[str, Any], *, out_dir: Path | None = None) -> Any:
    """Import the code version named in the card (its pipeline.py must hash as it did)."""
    import importlib

    folder = code_folder(card, out_dir)
    pipeline = folder / "pipeline.py"
    if not pipeline.is_file():
        raise ModelError(
            f"the model was trained by {card['code']['version']} of {card['name']!r}, which is not "
            f"at {folder}.",
            path=str(folder),
            hint="pass --out (the generated folder the model was trained from).",
        )
    wanted = card["code"].get("pipeline_sha256")
    if wanted and sha256_file(pipeline) != wanted:
        raise ArtefactTampered(
            "pipeline.py does not match the sha256 in the model card: the code was changed after "
            "training.",
            path=str(pipeline),
            hint="`nb2prod verify` names edited versions; train again after rebuilding.",
        )
    root = str(folder.parent.parent.parent.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    module_name = f"{folder.parent.parent.name}.{card['name']}.{card['code']['version']}.pipeline"
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        raise ModelError(
            f"importing {module_name} raised {type(exc).__name__}: {exc}.", path=str(pipeline)
        ) from None


def write_pointer(path: Path, model_id: str) -> None:
    """Replace PRODUCTION atomically (a reader sees the old id or the new one, never half)."""
    from nb2prod.store.versions import write_temporary

    tmp = write_temporary(path.parent, model_id + "\n", sync=True)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _remove_abandoned_staging(package: Path) -> None:
    """Staging folders of training processes that are gone; a live one is another job's."""
    for child in package.iterdir():
        if not child.name.startswith(TMP_PREFIX):
            continue
        pid = child.name[len(TMP_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and _alive(int(pid)):
            continue
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sync(folder: Path) -> None:
    for path in folder.iterdir():
        with path.open("rb") as fh:
            os.fsync(fh.fileno())
    fsync_dir(folder)
