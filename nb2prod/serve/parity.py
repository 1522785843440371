"""Serving parity: what a consumer gets over HTTP is what the training run (and so the notebook) predicted.

``nb2prod test --serve`` starts ``nb2prod serve`` on a free loopback port in a fresh process, posts
the payload sample captured at training (``reference.parquet``) as JSON records, and compares each
output of the answer with the training run's outputs for the same rows (``reference_outputs.parquet``)
with the parity rules and tolerances. ``nb2prod test`` has already shown the notebook and the pipeline
agree, and training's round trip that the saved model reproduces the pipeline; this closes the chain
at the HTTP boundary (JSON encoding, schema coercion, the server's own code).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2prod.errors import ServeError


class ServerProcess:
    """``nb2prod serve NAME --port 0`` in a child process; ``url`` once ``/health`` answers 200."""

    def __init__(self, name: str, *, models: str | Path | None = None, args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None, cwd: str | Path | None = None,
                 timeout: float = 120.0, command: list[str] | None = None) -> None:
        argv = command or [sys.executable, "-m", "nb2prod", "serve", name, "--port", "0", *args]
        if models is not None and command is None:
            argv += ["--models", str(models)]
        self.argv, self.env, self.cwd, self.timeout = argv, env, cwd, timeout
        self.proc: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._reader: threading.Thread | None = None
        self._stopped = False
        self.url = ""
        self.banner = ""

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        import httpx

        self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        # Drained as it comes: a full stderr pipe would block a server that logs a lot.
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.timeout
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        self.banner = self.proc.stdout.readline() if ready else ""  # type: ignore[union-attr]
        if " on http" not in self.banner:
            self.stop()
            raise ServeError(f"`{' '.join(self.argv[2:])}` did not start: {self.stderr().strip() or 'no output'}")
        self.url = self.banner.split(" on ", 1)[1].split(" ", 1)[0]
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise ServeError(f"`{' '.join(self.argv[2:])}` never answered /health: {self.stderr().strip()}")

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self._lines.append(line)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then wait; the exit code (SIGKILL after ``timeout``, then None)."""
        if self.proc is None:
            return None
        if self._stopped:
            return self.proc.returncode
        self._stopped = True
        code: int | None = None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self._reader is not None:
            self._reader.join(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code

    def stderr(self) -> str:
        """What the server has written to stderr so far."""
        return "".join(self._lines)


@dataclass
class ServingResult:
    name: str
    model_id: str = ""
    rows: int = 0
    mismatches: list[Any] = field(default_factory=list)
    skipped: str | None = None  # why there was nothing to compare

    @property
    def passed(self) -> bool:
        return self.skipped is None and not self.mismatches


def reference_body(card: dict[str, Any], folder: Path) -> tuple[dict[str, Any], Any]:
    """The JSON body of the captured payload sample and the training outputs for the same rows."""
    import pandas as pd

    from nb2prod.serve.schema import frame_records, jsonable

    reference = card.get("reference") or {}
    name = reference.get("input")
    payload_spec = card.get("payload") or {}
    if not name or len(payload_spec) != 1:
        raise ServeError(f"{card.get('name')}: the card's reference sample covers {name!r} but the payload is "
                         f"{', '.join(payload_spec) or 'empty'}; serving parity needs one sampled input.")
    frame = pd.read_parquet(folder / reference["payload"])
    outputs = pd.read_parquet(folder / reference["outputs"])
    kind = payload_spec[name].get("kind")
    if kind == "dataframe":
        value: Any = frame_records(frame)
    elif kind == "ndarray" and len(payload_spec[name].get("shape") or [0, 0]) > 1:
        value = jsonable(frame.to_numpy())
    else:
        value = jsonable(frame.iloc[:, 0].to_numpy())
    return {"inputs": {name: value}}, outputs


def _outputs(frame: Any) -> dict[str, Any]:
    """reference_outputs.parquet by output: ``proba[0]``, ``proba[1]``, ... back into one 2-D array."""
    import re

    import numpy as np

    grouped: dict[str, list[str]] = {}
    for column in frame.columns:
        match = re.fullmatch(r"(.+)\[(\d+)\]", str(column))
        grouped.setdefault(match.group(1) if match else str(column), []).append(column)
    return {name: frame[cols[0]].to_numpy() if cols == [name] else np.column_stack([frame[c] for c in cols])
            for name, cols in grouped.items()}


def check_serving(name: str, *, models: str | None = None, rtol: float = 1e-7, atol: float = 0.0,
                  cwd: Path | None = None) -> ServingResult:
    """Serve NAME's production model, post its reference payload, compare the answer."""
    import httpx
    import numpy as np

    from nb2prod.parity.compare import compare
    from nb2prod.train.store import ModelStore, models_dir

    root = models_dir(models)
    store = ModelStore(root)
    model_id = store.production_id(name)
    if model_id is None:
        return ServingResult(name, skipped=f"no production model in {root} (run `nb2prod train --promote`)")
    card = store.card(name, model_id)
    if not (card.get("reference") or {}).get("outputs"):
        return ServingResult(name, model_id=model_id,
                             skipped="the card keeps no training outputs for its reference rows")
    body, expected = reference_body(card, root / name / model_id)
    result = ServingResult(name, model_id=model_id, rows=len(expected))
    with tempfile.TemporaryDirectory(prefix="nb2prod-serve-parity-") as scratch:
        log = str(Path(scratch) / "predictions.jsonl")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH")]))}
        with ServerProcess(name, models=root.resolve(), args=("--model", model_id, "--log", log), env=env, cwd=cwd) as server:
            answer = httpx.post(f"{server.url}/predict", json=body, timeout=120)
        if answer.status_code != 200:
            raise ServeError(f"{name}: the server refused the training payload (HTTP {answer.status_code}): "
                             f"{answer.text[:500]}")
        outputs = answer.json()["outputs"]
    for column, trained in _outputs(expected).items():
        served = outputs.get(column)
        if served is None:
            from nb2prod.parity.results import Mismatch

            result.mismatches.append(Mismatch(target=column, reason="missing from the HTTP answer"))
            continue
        got = np.asarray(served, dtype=trained.dtype if trained.dtype.kind in "fiub" else object)
        found = compare(column, trained, got, rtol=rtol, atol=atol)
        if found is not None:
            result.mismatches.append(found.relabel("training run", "HTTP answer"))
    return result
