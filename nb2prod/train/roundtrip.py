"""Round-trip parity, in a fresh interpreter: what was saved must predict what training computed.

The child loads the staged model folder exactly as serving will (sha256 check, skops with the card's
trusted types only, the code version imported from disk), calls ``predict`` on the payload captured
during training, and compares each output with the training run's value under the parity rules
(:func:`nb2prod.parity.compare.compare`, same tolerances). A model that does not load back (a class
defined inside a step, a lambda) fails the round trip with the reason; nothing is promoted.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

from nb2prod.train.job import PAYLOAD, TARGETS, describe_failure, write_result


def round_trip(
    folder: Path, out_dir: Path, *, cwd: Path, rtol: float, atol: float, timeout: float | None,
    seed: int | None,
) -> dict[str, Any]:
    """Parent side: the card's ``round_trip`` entry for a staged folder (a crash counts as failed)."""
    from nb2prod.errors import Nb2ProdError
    from nb2prod.train.job import run_child

    args = ["--folder", str(folder.resolve()), "--out-dir", str(out_dir.resolve())]
    args += ["--rtol", repr(rtol), "--atol", repr(atol)]
    try:
        return run_child("nb2prod.train.roundtrip", args, cwd=cwd, pipeline=folder, timeout=timeout, seed=seed)
    except Nb2ProdError as err:
        return {"passed": False, "reason": err.message, "targets": {}}


def check(folder: Path, out_dir: Path, rtol: float, atol: float) -> dict[str, Any]:
    """Load the folder back and compare its predictions with training's."""
    from nb2prod.errors import Nb2ProdError
    from nb2prod.parity.compare import compare
    from nb2prod.train.store import load_folder

    try:
        loaded = load_folder(folder, out_dir=out_dir)
    except Nb2ProdError as err:
        return {"passed": False, "reason": err.message, "targets": {}}
    with open(folder / TARGETS, "rb") as fh:  # sha256 checked by load_folder
        targets = pickle.load(fh)
    payload: dict[str, Any] = {}
    if (folder / PAYLOAD).is_file():
        with open(folder / PAYLOAD, "rb") as fh:
            payload = pickle.load(fh)
    try:
        outputs = loaded.predict(**payload)
    except Exception as exc:
        return {
            "passed": False,
            "reason": f"predict() on the reloaded models raised {type(exc).__name__}: {exc}",
            "targets": {},
        }
    results: dict[str, str] = {}
    for name, expected in targets.items():
        if name not in outputs:
            results[name] = f"{name}: predict() did not return it"
            continue
        mismatch = compare(name, expected, outputs[name], rtol=rtol, atol=atol)
        results[name] = "passed" if mismatch is None else mismatch.relabel("training", "reloaded").describe()
    failed = [r for r in results.values() if r != "passed"]
    return {
        "passed": not failed,
        "reason": None if not failed else "the reloaded model predicts differently: " + "; ".join(failed),
        "targets": results,
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m nb2prod.train.roundtrip")
    parser.add_argument("--folder", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--rtol", type=float, required=True)
    parser.add_argument("--atol", type=float, required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        write_result(args.result, check(Path(args.folder), Path(args.out_dir), args.rtol, args.atol))
    except (Exception, SystemExit) as exc:
        write_result(args.result, {"error": describe_failure(exc, "run", None)})
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
