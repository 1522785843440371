"""Parity cases on a Dask distributed cluster: the jobs ``-j N`` runs locally, shipped self-contained.

Each case travels as a :class:`Shipment`: the notebook, its generated version and the data files its
manifest lists, as bytes under paths relative to one base folder. A worker unpacks them into a fresh
temporary folder, runs :func:`nb2prod.parity.harness.run_job` there (its own ``python3`` kernel, its own
interpreter for the pipeline) and sends back the CaseResult and the executed notebook. The client
writes the evidence where a local run would and maps the worker's paths back, so the reports match a
local run's, in the jobs' order.

Whose failure is it? A notebook or pipeline error comes back inside the CaseResult and is final. A
worker that dies mid-case (``KilledWorker``, a lost connection, the task itself erring) gets the case
run once more; a second failure is reported as an execution error naming the workers. The run as a
whole has a deadline, after which unfinished cases are errors: nothing waits forever on a cluster.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nb2prod.errors import ExecutionError, Nb2ProdError, UsageError
from nb2prod.parity._dask_worker import ATTEMPTS, Outcome, RemoteCase, Shipment, run_remote
from nb2prod.parity.job import ParityJob
from nb2prod.parity.results import CaseResult, ParityReport

INSTALL_HINT = "pip install 'nb2prod[dask]'"
DEFAULT_DEADLINE = 3600.0  # seconds for the whole run unless --dask-timeout says otherwise
CONNECT_TIMEOUT = 10  # seconds to reach the scheduler
Warn = Callable[[str], None]


def import_distributed() -> Any:
    """``distributed``, or a usage error that says how to install it (it is an optional extra)."""
    try:
        import distributed
    except ImportError:
        raise UsageError(
            "--dask needs Dask distributed, which is not installed in this environment.",
            hint=f"{INSTALL_HINT} (on this machine and on every worker).",
        ) from None
    return distributed


# --- client side ---------------------------------------------------------------------------------


def pack(job: ParityJob, root: Path, warn: Warn | None = None) -> tuple[Shipment, Path]:
    """The files ``job`` needs on a machine that shares nothing with this one, and their local base.

    The base is the closest folder holding the notebook, the generated folder and every data file
    the notebook reads by a relative path, so those relative paths still work on the worker.
    """
    notebook = job.notebook.resolve()
    out_dir = job.out_dir.resolve()
    version_dir = out_dir / job.name / job.version
    manifest = json.loads((version_dir / "manifest.json").read_text(encoding="utf-8"))
    extra = _data_paths(manifest, notebook, root, warn) + _local_modules(manifest, notebook.parent)
    folders = [notebook.parent, out_dir.parent, *(p.parent for p in extra)]
    base = Path(os.path.commonpath([str(f) for f in folders]))
    files: dict[str, bytes] = {}

    def add(path: Path) -> None:
        files[path.relative_to(base).as_posix()] = path.read_bytes()

    add(notebook)
    for path in [version_dir, *extra]:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and "__pycache__" not in child.parts:
                    add(child)
        else:
            add(path)
    # generated/ and generated/<name>/ as bare packages: only the version that runs is shipped.
    for package in (out_dir, out_dir / job.name):
        files[(package / "__init__.py").relative_to(base).as_posix()] = b""
    rel = Shipment(files, notebook.relative_to(base).as_posix(), out_dir.relative_to(base).as_posix())
    return rel, base


def _data_paths(manifest: dict[str, Any], notebook: Path, root: Path, warn: Warn | None) -> list[Path]:
    """The manifest's data files that exist here and that the notebook reads by a relative path."""
    found: list[Path] = []
    for entry in manifest.get("data_files", []):
        if entry.get("remote") or entry.get("missing"):
            continue
        written = str(entry.get("path", ""))
        if Path(written).expanduser().is_absolute():
            if warn:
                warn(f"{notebook.name} reads {written!r} by an absolute path; it is not shipped to the "
                     "Dask workers and must exist at that path on each of them.")
            continue
        resolved = Path(str(entry.get("resolved", written)))
        candidates = [resolved] if resolved.is_absolute() else [root / resolved]
        candidates.append(notebook.parent / written)
        path = next((c.resolve() for c in candidates if c.exists()), None)
        if path is None:
            if warn:
                warn(f"{notebook.name} reads {written!r}, which the manifest lists but which is not "
                     "here; it is not shipped to the Dask workers.")
            continue
        found.append(path)
    return found


def _local_modules(manifest: dict[str, Any], folder: Path) -> list[Path]:
    """Helper modules next to the notebook that the code imports (no installed distribution has them)."""
    found = []
    for name, version in manifest.get("packages", {}).items():
        if version is None:
            for candidate in (folder / f"{name}.py", folder / name):
                if candidate.is_file() or (candidate / "__init__.py").is_file():
                    found.append(candidate.resolve())
    return found


def run_parity_dask(
    jobs: Sequence[ParityJob],
    *,
    address: str,
    root: Path,
    stale: Sequence[CaseResult] = (),
    rtol: float = 1e-7,
    atol: float = 0.0,
    timeout: float | None = None,
    seed: int | None = None,
    deadline: float | None = None,
    progress: Any = False,
    warn: Warn | None = None,
) -> ParityReport:
    """Run every job on the Dask scheduler at ``address``; cases come back in the jobs' order.

    ``deadline`` bounds the whole run (default one hour); it also caps each cell on the workers when
    no ``timeout`` is given, so a cancelled case does not keep a worker busy forever.
    """
    distributed = import_distributed()
    started = time.perf_counter()
    report = ParityReport(cases=list(stale), rtol=rtol, atol=atol)
    deadline = DEFAULT_DEADLINE if deadline is None else deadline
    options = {"rtol": rtol, "atol": atol, "timeout": deadline if timeout is None else timeout,
               "seed": seed}
    packed: dict[tuple[Path, str], tuple[Shipment, Path]] = {}
    bases: list[Path] = []
    remotes: list[RemoteCase] = []
    topic = f"nb2prod-{uuid.uuid4().hex}"
    for index, job in enumerate(jobs):
        key = (job.notebook, job.version)
        if key not in packed:
            packed[key] = pack(job, root, warn)
        shipment, base = packed[key]
        bases.append(base)
        remotes.append(RemoteCase(job, shipment, topic, index, options))
    if jobs:
        client = _connect(distributed, address)
        try:
            cases = _run(distributed, client, remotes, bases, deadline, progress, warn, address)
        finally:
            client.close()
        report.cases.extend(cases)
    report.duration = time.perf_counter() - started
    return report


def _connect(distributed: Any, address: str) -> Any:
    from distributed.comm import get_address_host_port

    try:
        get_address_host_port(address)  # a malformed address fails here, not in a Client's __del__
        return distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as err:
        raise UsageError(
            f"cannot reach the Dask scheduler at {address!r}: {err}",
            hint="start one with `dask scheduler` and workers with `dask worker ADDRESS`, or fix "
            "--dask / [tool.nb2prod] dask (e.g. tcp://127.0.0.1:8786).",
        ) from None


def _run(
    distributed: Any,
    client: Any,
    remotes: list[RemoteCase],
    bases: list[Path],
    deadline: float,
    progress: Any,
    warn: Warn | None,
    address: str,
) -> list[CaseResult]:
    """Submit, wait, retry worker failures once, stop at the deadline; one case per job, in order."""
    results: list[CaseResult | None] = [None] * len(remotes)
    tries = [0] * len(remotes)
    pending: dict[Any, int] = {}
    task = progress.add_task(f"{len(remotes)} cases on {address}", total=len(remotes)) if progress else None
    if warn and not client.scheduler_info().get("workers"):
        warn(f"the Dask scheduler at {address} has no workers yet; waiting for some "
             f"(at most the --dask-timeout of {deadline:g} seconds).")

    def submit(index: int) -> Any:
        tries[index] += 1
        name = remotes[index].job.name
        key = f"nb2prod-{name}-{index}-{tries[index]}-{remotes[index].topic[-8:]}"
        future = client.submit(run_remote, remotes[index], key=key, pure=False)
        pending[future] = index
        return future

    finished = distributed.as_completed(
        [submit(index) for index in range(len(remotes))], loop=client.loop, timeout=deadline
    )
    try:
        for future in finished:
            index = pending.pop(future)
            case = _settle(client, future, remotes[index], bases[index], tries[index])
            if case is None:
                finished.add(submit(index))
                continue
            results[index] = case
            if task is not None:
                progress.advance(task)
    except TimeoutError:
        pass
    finally:
        for future in pending:
            future.cancel()
    for index, case in enumerate(results):
        if case is None:
            starts = _starts(client, remotes[index])
            where = f"it was running on {starts[-1]}" if starts else "it never started (no free worker)"
            results[index] = failed_case(
                remotes[index].job,
                f"did not finish within the --dask-timeout of {deadline:g} seconds; {where}",
                "raise --dask-timeout, add workers, or set --timeout so a stuck cell fails by itself.",
            )
    return [case for case in results if case is not None]


def _settle(client: Any, future: Any, remote: RemoteCase, base: Path, tries: int) -> CaseResult | None:
    """The finished future's case; None when the worker failed and the case deserves a retry."""
    job = remote.job
    if future.status == "finished":
        outcome: Outcome = future.result()
        if outcome.error is not None:
            raise _relocated(outcome.error, outcome.workdir, base)
        if outcome.lost_on:
            return failed_case(
                job,
                f"the Dask worker running this case died {len(outcome.lost_on)} times "
                f"({', then '.join(outcome.lost_on)}); nb2prod retried it once and gave up",
                _DIED_HINT,
            )
        assert outcome.case is not None
        return _localize(outcome, job, base)
    try:
        err: BaseException | None = future.exception(timeout=CONNECT_TIMEOUT)
    except Exception as exc:  # the scheduler lost the future, or the connection to it
        err = exc
    starts = _starts(client, remote)
    if max(tries, len(starts)) < ATTEMPTS:
        return None
    on = f" (on {', then '.join(starts)})" if starts else ""
    what = f"{type(err).__name__}: {err}" if err is not None else f"the task was {future.status}"
    return failed_case(
        job, f"running this case on Dask failed {max(tries, len(starts))} times{on}: {what}", _DIED_HINT
    )


_DIED_HINT = (
    "the notebook did not raise: a Dask worker dies when it runs out of memory, is killed or shut "
    "down, or lacks nb2prod and the notebook's packages; check the worker logs."
)


def _starts(client: Any, remote: RemoteCase) -> list[str]:
    """The workers that started this case so far, in order (each attempt logs an event)."""
    try:
        events = client.get_events(remote.topic)
    except Exception:  # the scheduler is gone: we only know what we submitted
        return []
    return [msg["worker"] for _, msg in events if msg.get("index") == remote.index]


def failed_case(job: ParityJob, reason: str, hint: str) -> CaseResult:
    """An error case for a job that produced no result of its own."""
    case = CaseResult(
        notebook=job.display, name=job.name, version=job.version, param_id=job.param_id,
        params=job.params,
    )
    case.error = ExecutionError(reason, path=job.display, hint=hint)
    return case


def _localize(outcome: Outcome, job: ParityJob, base: Path) -> CaseResult:
    """Write the evidence where a local run would; point the case's paths at this machine."""
    case = outcome.case
    assert case is not None
    here = job.evidence.parent.resolve()
    import shutil

    from nb2prod.read.notebook import mark_runs_folder

    mark_runs_folder(here.parent)

    for folder in {name.split("/")[0] for name in outcome.evidence if "/" in name}:
        if folder.endswith("-files") and not folder.startswith("."):  # a previous run's files
            shutil.rmtree(here / folder, ignore_errors=True)
    for name, data in outcome.evidence.items():  # papermill records output_path; tracebacks name files
        if name.endswith(".ipynb") and "/" not in name:  # the files the sides wrote stay as written
            for theirs, ours in ((outcome.evidence_dir, here), (outcome.workdir, base)):
                data = data.replace(theirs.encode(), str(ours).encode()) if theirs else data
        target = (here / name).resolve()
        if not target.is_relative_to(here):
            continue  # a worker does not choose where this machine writes
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    for item in dataclasses.fields(case):  # evidence, rerun_evidence, ...
        value = getattr(case, item.name)
        if outcome.evidence_dir and isinstance(value, str) and value.startswith(outcome.evidence_dir):
            setattr(case, item.name, str(job.evidence.parent) + value[len(outcome.evidence_dir):])
    if case.error is not None:
        case.error = _relocated(case.error, outcome.workdir, base)  # type: ignore[assignment]
    return case


def _relocated(err: Nb2ProdError, workdir: str, base: Path) -> Nb2ProdError:
    """The same error with the worker's temporary folder replaced by the local base folder."""
    if workdir:
        for attr in ("reason", "path", "hint", "source", "evalue"):
            value = getattr(err, attr, None)
            if isinstance(value, str) and workdir in value:
                setattr(err, attr, value.replace(workdir, str(base)))
        Exception.__init__(err, err.message)
    return err
