"""The training job, in a fresh interpreter: ``fit(**params)``, then save what it returned.

Parent side: :func:`run_child` starts ``python -m nb2prod.train.job`` (or the round trip,
``nb2prod.train.roundtrip``) from the notebook's folder and turns a failure into the right error.
Child side: :func:`main` imports the code version, calls ``fit``, saves the models into the staging
folder (skops), writes the payload schema, the drift reference, and the captured payload and outputs
(for the round trip), and describes all of it as JSON for the card.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

PAYLOAD = "payload.pkl"  # the captured payload and outputs: read only after their sha256 matched
TARGETS = "targets.pkl"
EXIT_RAISED = 3


# --- parent side ---------------------------------------------------------------------------------


def run_child(
    entry: str, args: list[str], *, cwd: Path, pipeline: Path, timeout: float | None, seed: int | None
) -> dict[str, Any]:
    """Run ``python -m <entry> ARGS --result F`` and return the JSON it wrote there."""
    import subprocess
    import tempfile

    from nb2prod.errors import ExecutionError

    with tempfile.TemporaryDirectory(prefix="nb2prod-train-") as work:
        result = Path(work) / "result.json"
        env = dict(os.environ)
        if seed is not None:
            env["PYTHONHASHSEED"] = str(seed)
            args = [*args, "--seed", str(seed)]
        argv = [sys.executable, "-m", entry, *args, "--result", str(result)]
        with open(Path(work) / "output.log", "wb") as log:
            process = subprocess.Popen(
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
            try:
                code = process.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill(process)
                raise ExecutionError(
                    f"the training job exceeded the --timeout of {timeout:g} seconds", path=str(pipeline)
                ) from None
            except BaseException:
                _kill(process)
                raise
        output = (Path(work) / "output.log").read_text(errors="replace")
        info = json.loads(result.read_text()) if result.is_file() else None
    if code == 0 and info is not None:
        return info
    if info is not None and "error" in info:
        raise _error(info["error"], pipeline)
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    raise ExecutionError(f"the training process {how}", path=str(pipeline), source=output[-4000:] or None)


def _kill(process: Any) -> None:
    import signal

    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _error(info: dict[str, Any], pipeline: Path) -> Exception:
    """The child's failure as the exception the CLI shows: nb2prod's own, or the code's."""
    from nb2prod import errors

    if info.get("nb2prod"):
        cls = getattr(errors, info["nb2prod"], errors.Nb2ProdError)
        return cls(info["reason"], path=info.get("path"), hint=info.get("hint"))
    from nb2prod.execute.pipeline_runner import _raised

    return _raised(info, pipeline)


# --- child side ----------------------------------------------------------------------------------


def write_result(path: str, data: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, default=str)


def describe_failure(exc: BaseException, phase: str, module_file: str | None) -> dict[str, Any]:
    from nb2prod.errors import Nb2ProdError

    if isinstance(exc, Nb2ProdError):
        return {"nb2prod": type(exc).__name__, "reason": exc.reason, "path": exc.path, "hint": exc.hint}
    from nb2prod.execute.pipeline_runner import _describe

    return _describe(exc, phase, module_file)


def import_pipeline(root: str, module: str) -> Any:
    import importlib

    sys.path.insert(0, root)
    return importlib.import_module(module)


def jsonable(value: Any) -> Any:
    """A metric as JSON: numbers as float or int, anything else as its repr."""
    import numpy as np

    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return repr(value)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m nb2prod.train.job")
    parser.add_argument("--root", required=True)
    parser.add_argument("--module", required=True)
    parser.add_argument("--params", required=True)
    parser.add_argument("--staging", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    module_file = None
    phase = "import"
    try:
        with open(args.params, "rb") as fh:
            params = pickle.load(fh)
        if args.seed is not None:
            from nb2prod.execute.pipeline_runner import _seed

            _seed(args.seed)
        module = import_pipeline(args.root, args.module)
        module_file = getattr(module, "__file__", None)
        if not hasattr(module, "fit"):
            from nb2prod.errors import ModelError

            raise ModelError(
                "this generated version has no fit(): the notebook tags no 'model:VAR'.",
                path=module_file,
                hint="tag the cell that fits the model 'model:VAR' (and the prediction step "
                "'inference'), then run `nb2prod build` and train again.",
            )
        phase = "run"
        result = module.fit(**params)
        phase = "save"
        write_result(args.result, save(Path(args.staging), result))
    except (Exception, SystemExit) as exc:
        write_result(args.result, {"error": describe_failure(exc, phase, module_file)})
        return EXIT_RAISED
    return 0


def save(staging: Path, result: dict[str, Any]) -> dict[str, Any]:
    """Everything ``fit`` returned, written into ``staging``; the card's fields describing it."""
    from nb2prod._hashing import sha256_file
    from nb2prod.store.versions import package_versions
    from nb2prod.train.artefacts import save_models
    from nb2prod.train.schema import describe, write_reference

    payload = result.get("payload", {})
    targets = result.get("targets", {})
    schema = {name: describe(name, value) for name, value in payload.items()}
    entries = save_models(staging, result["models"])
    files: dict[str, str] = {}
    reference = write_reference(staging, payload, targets) if payload else None
    for name, value in ((PAYLOAD, payload), (TARGETS, targets)):
        if name == PAYLOAD and not payload:
            continue
        with open(staging / name, "wb") as fh:
            pickle.dump(value, fh, protocol=5)
    for path in sorted(staging.iterdir()):
        if path.name not in {e["file"] for e in entries.values()}:
            files[path.name] = sha256_file(path)
    modules = {type(m).__module__.split(".")[0] for m in result["models"].values()}
    return {
        "models": entries,
        "metrics": {k: jsonable(v) for k, v in result.get("metrics", {}).items()},
        "payload": schema,
        "outputs": {name: _output_schema(name, value) for name, value in targets.items()},
        "reference": reference,
        "files": files,
        "packages": package_versions(tuple(sorted(modules | {"skops", "numpy", "pandas"}))),
    }


def _output_schema(name: str, value: Any) -> dict[str, Any]:
    from nb2prod.errors import SerialisationError
    from nb2prod.train.schema import describe

    try:
        return describe(name, value)
    except SerialisationError:
        return {"kind": "object", "dtype": type(value).__name__, "shape": None}


if __name__ == "__main__":
    sys.exit(main())
