"""The worker side of ``nb2prod test --dask``: unpack one case's files and run it there.

Imported by the Dask workers (which must have nb2prod installed) to run :func:`run_remote`, and by
the client for the plain data that travels between them. Dask itself is imported only inside the
task, so this module loads without it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2prod import __version__
from nb2prod.errors import Nb2ProdError, UsageError
from nb2prod.parity.job import ParityJob
from nb2prod.parity.results import CaseResult

ATTEMPTS = 2  # the first run and one retry, when the worker (not the notebook) failed
EVIDENCE_DIR = "_evidence"


@dataclass(frozen=True)
class Shipment:
    """The files one notebook's cases need on a worker, keyed by POSIX path relative to a base."""

    files: dict[str, bytes]
    notebook: str  # where the notebook is, relative to the base
    out_dir: str  # where the generated folder is, relative to the base


@dataclass(frozen=True)
class RemoteCase:
    """One task: the job as planned on the client, its files, and how to run and report it."""

    job: ParityJob
    shipment: Shipment
    topic: str  # the run's event topic: each attempt logs its start there
    index: int
    options: dict[str, Any]  # run_job's keyword arguments
    client_version: str = __version__


@dataclass
class Outcome:
    """What a worker sends back: a case and its executed notebook, a usage error, or a refusal."""

    worker: str
    case: CaseResult | None = None
    evidence: dict[str, bytes] = field(default_factory=dict)  # evidence files by relative path
    evidence_dir: str = ""  # where the worker wrote them
    workdir: str = ""
    error: Nb2ProdError | None = None  # a usage error: the run stops, as it would locally
    lost_on: list[str] = field(default_factory=list)  # workers that died running this case before


def run_remote(remote: RemoteCase) -> Outcome:
    """Unpack the case's files into a fresh folder and run it there (this runs on a worker)."""
    from distributed import get_client, get_worker

    from nb2prod.parity.harness import run_job

    worker = get_worker()
    me = str(worker.address)
    if remote.client_version != __version__:
        return Outcome(me, error=UsageError(
            f"the Dask worker {me} runs nb2prod {__version__}, this machine {remote.client_version}.",
            hint="install the same nb2prod version on the workers.",
        ))
    before = [m["worker"] for _, m in get_client().get_events(remote.topic) if m.get("index") == remote.index]
    if len(before) >= ATTEMPTS:  # the scheduler re-ran a case whose workers died: retry once only
        return Outcome(me, lost_on=before)
    worker.log_event(remote.topic, {"index": remote.index, "worker": me})
    with _workdir() as workdir:
        for rel, data in remote.shipment.files.items():
            target = (workdir / rel).resolve()
            if not target.is_relative_to(workdir):
                return Outcome(me, error=UsageError(f"refusing to unpack {rel!r} outside {workdir}."))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        job = remote.job
        evidence = workdir / EVIDENCE_DIR / job.name / job.evidence.name
        here = dataclasses.replace(
            job,
            notebook=workdir / remote.shipment.notebook,
            out_dir=workdir / remote.shipment.out_dir,
            evidence=evidence,
        )
        try:
            case = run_job(here, progress=False, **remote.options)
        except Nb2ProdError as err:
            return Outcome(me, workdir=str(workdir), error=err)
        folder = evidence.parent  # this case's own: the evidence and any re-run of it
        kept = {  # the executed notebooks, and the files each side wrote (``<stem>-files/<side>/``)
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in (sorted(folder.rglob("*")) if folder.is_dir() else [])
            if p.is_file() and not p.is_symlink()
        }
        return Outcome(me, case=case, evidence=kept, evidence_dir=str(folder), workdir=str(workdir))


class _Cases:
    """This worker process's running cases, and the folders to remove when none is running."""

    running = 0
    home = ""
    done: list[Path] = []
    lock = threading.Lock()


@contextmanager
def _workdir() -> Iterator[Path]:
    """A fresh folder for one case, removed once no case runs in this worker process.

    papermill changes the process's working directory for each notebook and restores it after;
    with several threads per worker those changes interleave, so a folder is only deleted (and the
    process moved back home) when no other case could be standing in it. Folders that a killed
    worker left behind are swept then too.
    """
    with _Cases.lock:
        if not _Cases.running:
            _Cases.home = os.getcwd()
        _Cases.running += 1
    path = Path(tempfile.mkdtemp(prefix=f"nb2prod-dask-{os.getpid()}-")).resolve()
    try:
        yield path
    finally:
        with _Cases.lock:
            _Cases.running -= 1
            _Cases.done.append(path)
            if not _Cases.running:
                os.chdir(_Cases.home)
                for done in [*_Cases.done, *_orphans(path.parent)]:
                    shutil.rmtree(done, ignore_errors=True)
                _Cases.done.clear()


def _orphans(folder: Path) -> list[Path]:
    """Case folders of worker processes that no longer exist (killed mid-case)."""
    found = []
    for path in folder.glob("nb2prod-dask-*-*"):
        pid = path.name.split("-")[2]
        if pid.isdigit():
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                found.append(path)
            except PermissionError:  # alive, someone else's
                pass
    return found
