"""``nb2prod test``'s round-trip case: the notebook's own models, saved and reloaded, predict what the
notebook predicted.

Per notebook with ``inference`` steps (its default parameters), papermill executes it once, capturing
each ``model:`` object right after its cell, each payload input right before the first inference
cell, and the inference outputs after their cells. The models are saved with skops into a private
folder; a fresh interpreter loads them as serving would and calls the current version's
``predict(models, X_test=<the notebook's X_test>)``; each output is compared with the notebook's.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nb2prod.errors import ExecutionError, Nb2ProdError
from nb2prod.parity.job import ParityJob
from nb2prod.parity.results import CaseResult, Mismatch, TargetResult

PARAM_ID = "round trip"


def round_trip_cases(
    jobs: Sequence[ParityJob], *, rtol: float, atol: float, timeout: float | None, seed: int | None
) -> list[CaseResult]:
    """One case per notebook whose current version has an inference path."""
    from nb2prod.store.versions import read_manifest

    seen: set[str] = set()
    cases = []
    for job in jobs:
        if job.name in seen:
            continue
        seen.add(job.name)
        manifest = read_manifest(job.out_dir / job.name, job.version)
        if manifest.get("inference"):
            cases.append(notebook_round_trip(job, manifest, rtol=rtol, atol=atol, timeout=timeout, seed=seed))
    return cases


def captures_for(manifest: dict[str, Any]) -> list[tuple[int, str]]:
    """(cell, var) pairs: models after their cells, payload before the first inference cell."""
    inference = manifest["inference"]
    steps = manifest["steps"]
    first = min(min(steps[s]["cells"]) for s in inference["steps"])
    found = [(m["cell"], m["name"]) for m in manifest["models"] if m["name"] in inference["models"]]
    found += [(first - 1, name) for name in inference["payload"]]
    found += [(t["cell"], t["name"]) for t in manifest["parity_targets"] if t["name"] in inference["outputs"]]
    return found


def notebook_round_trip(
    job: ParityJob, manifest: dict[str, Any], *, rtol: float, atol: float, timeout: float | None,
    seed: int | None,
) -> CaseResult:
    from nb2prod.execute.engine import execute_notebook
    from nb2prod.read.notebook import read_notebook_node

    case = CaseResult(notebook=job.display, name=job.name, version=job.version, param_id=PARAM_ID, params={})
    private = Path(tempfile.mkdtemp(prefix="nb2prod-roundtrip-"))
    try:
        captures = captures_for(manifest)
        try:
            executed = execute_notebook(
                read_notebook_node(job.notebook), path=job.notebook, params={}, output_path=None,
                captures=captures, capture_dir=private, timeout=timeout, progress=False,
                seed=seed,
            )
        except ExecutionError as err:
            err.path = job.display
            case.error = err
            return case
        result = _reload_and_predict(job, manifest, executed.values, private / "model", rtol, atol, timeout, seed)
        for name in manifest["inference"]["outputs"]:
            verdict = result["targets"].get(name)
            mismatch = None
            if verdict != "passed":
                reason = verdict or result.get("reason") or "the round trip failed"
                mismatch = Mismatch(target=name, reason=reason, labels=("notebook", "reloaded model"))
            case.targets.append(TargetResult(name, "parity", None, mismatch))
        return case
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _reload_and_predict(
    job: ParityJob, manifest: dict[str, Any], values: dict[str, Any], folder: Path,
    rtol: float, atol: float, timeout: float | None, seed: int | None,
) -> dict[str, Any]:
    from nb2prod._hashing import sha256_file
    from nb2prod.train.artefacts import save_models
    from nb2prod.train.card import CARD_FORMAT, file_sha256, write_card
    from nb2prod.train.job import PAYLOAD, TARGETS
    from nb2prod.train.roundtrip import round_trip

    inference = manifest["inference"]
    folder.mkdir(parents=True)
    try:
        entries = save_models(folder, {m: values[m] for m in inference["models"]})
    except Nb2ProdError as err:
        return {"passed": False, "reason": err.message, "targets": {}}
    for name, data in ((PAYLOAD, {n: values[n] for n in inference["payload"]}),
                       (TARGETS, {n: values[n] for n in inference["outputs"]})):
        with open(folder / name, "wb") as fh:
            pickle.dump(data, fh, protocol=5)
    pipeline = job.out_dir / job.name / job.version / "pipeline.py"
    card = {
        "format": CARD_FORMAT,
        "name": job.name,
        "model_id": "notebook",
        "code": {"out_dir": str(job.out_dir.resolve()), "version": job.version,
                 "pipeline_sha256": file_sha256(pipeline)},
        "parameters": {k: v["default"] for k, v in manifest["parameters"].items()},
        "inference": inference,
        "models": entries,
        "files": {n: sha256_file(folder / n) for n in (PAYLOAD, TARGETS)},
    }
    write_card(folder, card)
    return round_trip(folder, job.out_dir, cwd=job.notebook.parent, rtol=rtol, atol=atol, timeout=timeout, seed=seed)
