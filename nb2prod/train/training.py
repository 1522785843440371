"""``nb2prod train``: the current code version as a training job, its artefacts, round trip, promotion.

1. The job runs ``fit(**params)`` of ``generated/<name>/CURRENT`` in a fresh interpreter from the
   notebook's folder and saves into a staging folder beside the store's final one.
2. The card is written; the round trip loads the staged folder in another fresh interpreter and
   checks that ``predict`` reproduces training's outputs.
3. The gates hook decides; the folder is renamed in under the lock and, with ``--promote`` and both
   checks passed, ``PRODUCTION`` points at it in the same hold of the lock.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2prod.errors import ExecutionError, ModelError, SerialisationError, VersionError
from nb2prod.train.store import ModelStore, new_model_id


@dataclass
class Trained:
    name: str
    model_id: str
    folder: Path
    card: dict[str, Any]
    promoted: bool
    previous: str | None  # the production model before this run
    gate_lines: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        gates = self.card.get("gates") or {}
        return bool(self.card["round_trip"]["passed"]) and gates.get("passed", True) is not False


def current_manifest(out_dir: Path, name: str, shown: str) -> dict[str, Any]:
    """The manifest of the current version of ``name``, which must have been built with models."""
    from nb2prod.store.versions import current_version, read_manifest

    package = out_dir / name
    version = current_version(package)
    if version is None:
        raise VersionError(
            f"no generated module {name!r} in {out_dir}.",
            path=shown,
            hint="run `nb2prod build` first.",
        )
    manifest = read_manifest(package, version)
    if not manifest.get("models"):
        raise ModelError(
            f"the current version ({version}) of {name!r} saves no model: the notebook tags no "
            "'model:VAR'.",
            path=shown,
            hint="tag the cell that fits the model 'model:VAR' and the prediction step 'inference', "
            "then `nb2prod build` and train again.",
        )
    manifest.setdefault("version", version)
    return manifest


def train(
    notebook: Path,
    raw_params: dict[str, Any],
    *,
    out_dir: Path,
    store: ModelStore,
    promote: bool,
    rtol: float,
    atol: float,
    seed: int | None = None,
    timeout: float | None = None,
    config: Any = None,
) -> Trained:
    """Train one model of ``notebook``'s current version with ``raw_params`` (strings are typed)."""
    from nb2prod.analyse.planner import module_name
    from nb2prod.config import load_config
    from nb2prod.execute.params import resolve
    from nb2prod.read.notebook import display_path
    from nb2prod.train.card import build_card, data_files, write_card
    from nb2prod.train.gates_hook import evaluate_gates
    from nb2prod.train.job import run_child
    from nb2prod.train.roundtrip import round_trip

    config = config or load_config()
    shown = display_path(notebook, config.root)
    name = module_name(notebook)
    manifest = current_manifest(out_dir, name, shown)
    defaults = {k: v.get("default") for k, v in manifest.get("parameters", {}).items()}
    overrides = resolve(raw_params, defaults, source=shown)
    parameters = {**defaults, **overrides}
    module = f"{out_dir.name}.{name}.{manifest['version']}.pipeline"
    pipeline = out_dir / name / manifest["version"] / "pipeline.py"
    cwd = notebook.resolve().parent
    model_id = new_model_id()
    staging = store.staging(name)
    try:
        with tempfile.TemporaryDirectory(prefix="nb2prod-params-") as work:
            params_file = Path(work) / "params.pkl"
            params_file.write_bytes(pickle.dumps(overrides, protocol=5))
            params_file.chmod(0o600)
            args = ["--root", str(out_dir.resolve().parent), "--module", module]
            args += ["--params", str(params_file), "--staging", str(staging)]
            try:
                job = run_child("nb2prod.train.job", args, cwd=cwd, pipeline=pipeline, timeout=timeout, seed=seed)
            except ExecutionError as err:  # the notebook's code raised: point at its cell
                raise _in_notebook(err, pipeline, shown) from None
            except SerialisationError as err:  # said at the notebook cell that tags the model
                cell = next((m["cell"] for m in manifest["models"] if f"model {m['name']!r}" in err.reason), None)
                raise SerialisationError(
                    err.reason + " Nothing was saved.", path=shown, cell=cell, hint=err.hint
                ) from None
        card = build_card(
            name=name,
            model_id=model_id,
            manifest=manifest,
            out_dir=out_dir,
            root=config.root,
            parameters=parameters,
            overrides=overrides,
            job=job,
            data=data_files(manifest, cwd, config.root, parameters),
        )
        write_card(staging, card)
        card["round_trip"] = round_trip(staging, out_dir, cwd=cwd, rtol=rtol, atol=atol, timeout=timeout, seed=seed)
        production = _production_card(store, name)
        passed, lines, results = evaluate_gates(card, production, config)
        card["gates"] = {"passed": bool(passed), "results": results}
        write_card(staging, card)
        promoting = promote and bool(card["round_trip"]["passed"]) and bool(passed)
        previous = store.publish(name, staging, model_id, promote=promoting)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Trained(name, model_id, store.root / name / model_id, card, promoting, previous, lines)


def _production_card(store: ModelStore, name: str) -> dict[str, Any] | None:
    from nb2prod.errors import Nb2ProdError

    model_id = store.production_id(name)
    if model_id is None:
        return None
    try:
        return store.card(name, model_id)
    except Nb2ProdError:
        return None


def _in_notebook(err: ExecutionError, pipeline: Path, shown: str) -> ExecutionError:
    """A pipeline.py line as the notebook cell it came from (the ``# cell N`` marks)."""
    from nb2prod.generate.codegen import cell_of_line

    cell = None
    if err.line is not None and pipeline.is_file() and Path(err.path or "").resolve() == pipeline.resolve():
        cell = cell_of_line(pipeline, err.line)
    if cell is None:
        return err
    return ExecutionError(
        f"the training job raised {err.ename}: {(err.evalue or '').strip()} (at {pipeline.parent.name}/pipeline.py, "
        f"line {err.line})",
        path=shown, cell=cell, hint=err.hint, source=err.source, ename=err.ename, evalue=err.evalue,
    )
