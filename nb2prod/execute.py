"""Run a notebook with papermill (and, re-exported, a generated pipeline in a fresh process).

Parity needs a variable's value *right after* a given cell, not at the end of the notebook, so
hidden capture cells go after those cells; they pickle the value into a private directory and are
stripped from the executed notebook kept as evidence. Errors come back as ExecutionError with the
cell index of the user's notebook, never of the copy that ran. papermill, nbclient, jupyter_client
and rich load only inside these functions.
"""

from __future__ import annotations

import copy
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nb2prod._pipeline_runner import PipelineProcess, run_pipeline, start_pipeline
from nb2prod.errors import ExecutionError, Nb2ProdError, UsageError

__all__ = ["Execution", "PipelineProcess", "execute_notebook", "run_pipeline", "start_pipeline"]

if TYPE_CHECKING:
    from nbformat import NotebookNode
    from rich.progress import Progress

CAPTURE_TAG = "nb2prod-capture"
SEED_TAG = "nb2prod-seed"
PARAMETERS_TAG = "parameters"
KALE_PARAMETERS_TAG = "pipeline-parameters"
ENGINE_NAME = "nb2prod"
START_TIMEOUT = 60  # seconds; a cold kernel on a loaded 2-core CI box can take several
DEFAULT_KERNEL = "python3"
SHUTDOWN_WAIT = 2.0  # seconds for a graceful kernel stop: SIGTERM at half, SIGKILL at the end


@dataclass
class Execution:
    """An executed notebook and the values captured right after their cells."""

    output: NotebookNode
    output_path: Path | None
    values: dict[str, Any]
    missing: list[str]
    duration: float


@dataclass
class _Slot:
    """Where a cell of the executed copy came from: ``cell`` (the user's), or something injected."""

    kind: str  # "cell", "capture", "seed", "parameters"
    index: int | None  # the user's cell index (for "capture": the captured cell)


@dataclass
class _Run:
    """State one execution shares with its engine, kernel manager and progress bar."""

    runtime_dir: str  # private: the kernel's connection file and IPC sockets
    env: dict[str, str]  # added to the kernel's environment
    hidden: set[int] = field(default_factory=set)  # injected cells the progress bar skips
    current: int | None = None  # index (in the executed copy) of the cell last started
    abort: bool = False  # a cell was cut short: kill the kernel instead of asking it to stop
    kernels: list[subprocess.Popen[bytes]] = field(default_factory=list)
    progress: Any = None
    task: Any = None

    def cell_started(self, index: int | None) -> None:
        self.current = index

    def cell_ended(self, index: int | None) -> None:
        from nbclient.exceptions import CellExecutionError

        # papermill calls this from a `finally`: an exception in flight that is not a cell's own
        # error (timeout, dead kernel, Ctrl-C) means the kernel may be mid-cell.
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, CellExecutionError):
            self.abort = True
        if self.progress is not None and index not in self.hidden:
            self.progress.advance(self.task)


def _hidden_cell(source: str, tag: str, key: str) -> NotebookNode:
    import nbformat

    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [tag]
    cell.metadata["nb2prod"] = {key: True}
    cell.metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
    return cell


def _capture_source(var: str, base: Path) -> str:
    """A cell pickling ``var`` to ``base.pkl`` (atomically), or noting it missing or unpicklable."""
    return f"""\
# nb2prod: capture {var!r} after the cell above (hidden; removed from the executed notebook)
def _nb2prod_capture(name, base):
    import os, pickle
    ns = globals()
    if name not in ns:
        open(base + ".missing", "w").close()
        return
    try:
        with open(base + ".tmp", "wb") as fh:
            pickle.dump(ns[name], fh, protocol=5)
        os.replace(base + ".tmp", base + ".pkl")
    except Exception as exc:
        with open(base + ".error", "w") as fh:
            fh.write(f"{{type(exc).__name__}}: {{exc}}")
_nb2prod_capture({var!r}, {str(base)!r})
del _nb2prod_capture
"""


def _seed_source(seed: int) -> str:
    return f"""\
# nb2prod: --seed {seed} (hidden; removed from the executed notebook)
def _nb2prod_seed(seed):
    import random
    random.seed(seed)
    try:
        import numpy
    except ImportError:
        return
    numpy.random.seed(seed)
_nb2prod_seed({seed})
del _nb2prod_seed
"""


def _prepare(
    nb: NotebookNode,
    params: dict[str, Any],
    captures: list[tuple[int, str]],
    capture_root: Path,
    seed: int | None,
    parameters_cell: int | None,
) -> tuple[NotebookNode, list[_Slot]]:
    """Copy ``nb``; tag its parameters cell; add seed, capture and papermill's parameters cells."""
    import nbformat
    from papermill.parameterize import parameterize_notebook

    work = nbformat.v4.upgrade(copy.deepcopy(nb))
    work.metadata.setdefault("papermill", {})
    after: dict[int, list[int]] = {}
    for k, (index, _) in enumerate(captures):
        after.setdefault(index, []).append(k)

    for cell in work.cells:  # papermill reads cell.metadata.tags unguarded
        cell.metadata.setdefault("tags", [])
    tags = [set(c.metadata.tags) for c in work.cells]
    if parameters_cell is None and not any(PARAMETERS_TAG in t for t in tags):
        kale = [i for i, t in enumerate(tags) if KALE_PARAMETERS_TAG in t]
        parameters_cell = kale[0] if kale else None
    if parameters_cell is not None:
        for i, cell in enumerate(work.cells):
            old = list(cell.metadata.get("tags", []))
            new = [t for t in old if t != PARAMETERS_TAG]
            new += [PARAMETERS_TAG] if i == parameters_cell else []
            if new != old:
                cell.metadata["tags"] = new

    cells: list[NotebookNode] = []
    slots: dict[int, _Slot] = {}

    def add(cell: NotebookNode, slot: _Slot) -> None:
        cells.append(cell)
        slots[id(cell)] = slot

    if seed is not None:
        add(_hidden_cell(_seed_source(seed), SEED_TAG, "seed"), _Slot("seed", None))
    for i, cell in enumerate(work.cells):
        add(cell, _Slot("cell", i))
        for k in after.get(i, []):
            source = _capture_source(captures[k][1], capture_root / str(k))
            add(_hidden_cell(source, CAPTURE_TAG, "capture"), _Slot("capture", i))
    work.cells = cells

    has_injected = any("injected-parameters" in t for t in tags)
    if params or has_injected:  # replace a stale injected cell even when no parameters are given
        work = parameterize_notebook(work, params, kernel_name=DEFAULT_KERNEL, language="python")
    order = [slots.get(id(cell), _Slot("parameters", None)) for cell in work.cells]
    return work, order


def _kernel_name(nb: NotebookNode, requested: str | None) -> str:
    """The notebook's kernel when it is installed here, else ``python3`` (this interpreter).

    A kernelspec name saved on a laptop ("Python (churn)") rarely exists on CI; parity compares
    against a pipeline run by this interpreter anyway, which is what ``python3`` runs.
    """
    if requested:
        return requested
    name = (nb.metadata.get("kernelspec") or {}).get("name")
    if not name or name == DEFAULT_KERNEL:
        return DEFAULT_KERNEL
    from jupyter_client.kernelspec import KernelSpecManager

    return name if name in KernelSpecManager().find_kernel_specs() else DEFAULT_KERNEL


def _kernel_manager_class(run: _Run) -> type:
    """An AsyncKernelManager on the IPC transport with its files in ``run.runtime_dir``.

    IPC keeps ipykernel from printing "Kernel is running over TCP without encryption", needs no
    network, and keeps connection files out of the user's Jupyter runtime directory.
    """
    from jupyter_client import AsyncKernelManager

    class Nb2ProdKernelManager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kw: Any) -> Any:
            self.transport = "ipc"
            self.cache_ports = False
            self.connection_file = os.path.join(run.runtime_dir, "kernel.json")
            self.ip = os.path.join(run.runtime_dir, "k")
            # ipykernel 7 sometimes hangs flushing IOPub after its shutdown reply; SIGTERM it after
            # 1 s instead of jupyter_client's 2.5 s (a clean stop takes 0.2-0.4 s).
            self.shutdown_wait_time = SHUTDOWN_WAIT
            if run.env:
                kw["env"] = {**(kw.get("env") or os.environ), **run.env}
            return await super()._async_pre_start_kernel(**kw)

        async def _async_post_start_kernel(self, **kw: Any) -> None:
            process = getattr(self.provisioner, "process", None)
            if process is not None:
                run.kernels.append(process)
            await super()._async_post_start_kernel(**kw)

        async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            # A graceful stop of a kernel stuck in a cell makes ipykernel print a traceback.
            await super().shutdown_kernel(now=now or run.abort, restart=restart)

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client sends SIGINT before every shutdown; an idle kernel then logs
            # "KeyboardInterrupt caught in kernel" and may take seconds to exit.
            if not getattr(self, "shutting_down", False):
                await super()._async_interrupt_kernel()

    return Nb2ProdKernelManager


def _register_engine() -> None:
    """Register papermill engine ``nb2prod``: NBClientEngine whose manager reports each cell."""
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
    from papermill.exceptions import PapermillException

    try:
        papermill_engines.get_engine(ENGINE_NAME)
        return
    except PapermillException:
        pass

    class Manager(NotebookExecutionManager):
        def __init__(self, nb: Any, run: _Run, **kw: Any) -> None:
            super().__init__(nb, progress_bar=False, **kw)
            self.run = run

        def cell_start(self, cell: Any, cell_index: int | None = None, **kw: Any) -> None:
            self.run.cell_started(cell_index)
            super().cell_start(cell, cell_index, **kw)

        def cell_complete(self, cell: Any, cell_index: int | None = None, **kw: Any) -> None:
            self.run.cell_ended(cell_index)
            super().cell_complete(cell, cell_index, **kw)

    class Engine(NBClientEngine):
        @classmethod
        def execute_notebook(  # type: ignore[override]
            cls,
            nb: Any,
            kernel_name: str,
            output_path: str | None = None,
            progress_bar: bool = False,
            log_output: bool = False,
            autosave_cell_every: int = 30,
            nb2prod_run: _Run | None = None,
            **kwargs: Any,
        ) -> Any:
            run = nb2prod_run or _Run("", {})
            if nb2prod_run is not None:
                kwargs.setdefault("kernel_manager_class", _kernel_manager_class(run))
            nb_man = Manager(
                nb,
                run,
                output_path=output_path,
                log_output=log_output,
                autosave_cell_every=autosave_cell_every,
            )
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            finally:
                nb_man.notebook_complete()
            return nb_man.nb

    papermill_engines.register(ENGINE_NAME, Engine)


def _strip_injected(nb: NotebookNode) -> NotebookNode:
    """Drop the hidden seed and capture cells so the evidence looks like the user's notebook."""
    nb.cells = [c for c in nb.cells if not (c.metadata.get("nb2prod") or {})]
    return nb


def _clean_output_file(output_path: Path | None) -> None:
    import nbformat

    if output_path is not None and output_path.is_file():
        nb = nbformat.read(output_path, as_version=4)
        nbformat.write(_strip_injected(nb), output_path)


def _user_cell(nb: NotebookNode, order: list[_Slot], index: int | None) -> tuple[Any, Any]:
    """The user's cell index and source for a cell index of the executed copy."""
    slot = order[index] if index is not None and 0 <= index < len(order) else None
    if slot is None or slot.index is None:
        return None, None
    return slot.index, nb.cells[slot.index].source


def _load_captures(
    root: Path, captures: list[tuple[int, str]], nb: NotebookNode, path: Path
) -> tuple[dict[str, Any], list[str]]:
    """Unpickle what the capture cells wrote into ``root``, a directory this call created."""
    values: dict[str, Any] = {}
    missing: list[str] = []
    for k, (cell, var) in enumerate(captures):
        base = root / str(k)
        pkl, error = base.with_suffix(".pkl"), base.with_suffix(".error")
        where = {"path": str(path), "cell": cell, "source": nb.cells[cell].source}
        if base.with_suffix(".missing").is_file():
            missing.append(var)
        elif error.is_file():
            raise ExecutionError(
                f"could not capture '{var}': {error.read_text()}",
                hint="parity and metric values must pickle (numbers, arrays, DataFrames, ...).",
                **where,
            )
        elif pkl.is_file() and not pkl.is_symlink() and pkl.stat().st_uid == os.getuid():
            try:
                with pkl.open("rb") as fh:
                    values[var] = pickle.load(fh)
            except Exception as exc:
                raise ExecutionError(
                    f"could not load the captured value of '{var}': {type(exc).__name__}: {exc}",
                    hint="classes defined in the notebook itself cannot be unpickled outside it.",
                    **where,
                ) from None
        else:
            raise ExecutionError(f"'{var}' was not captured (no capture cell ran).", **where)
    return values, missing


def execute_notebook(
    nb: NotebookNode,
    *,
    path: Path,
    params: dict[str, Any],
    output_path: Path | None,
    captures: list[tuple[int, str]],
    capture_dir: Path,
    timeout: float | None = None,
    kernel_name: str | None = None,
    progress: bool | Progress = True,
    seed: int | None = None,
    parameters_cell: int | None = None,
) -> Execution:
    """Execute ``nb`` (read from ``path``) with papermill, capturing ``(cell, var)`` values.

    ``progress`` is True (own rich bar on stderr), False (silent), or a caller's rich ``Progress``
    that gets one task per notebook. ``seed`` seeds ``random`` and ``numpy.random`` in a hidden
    first cell and sets PYTHONHASHSEED in the kernel's environment. ``parameters_cell`` names the
    user's parameters cell when the caller's tag parser found one papermill would not
    (``#| parameters``).
    """
    import papermill

    for cell, var in captures:
        if not var.isidentifier() or not 0 <= cell < len(nb.cells):
            raise UsageError(f"cannot capture {var!r} after cell {cell}.", path=str(path))
    if seed is not None and not 0 <= seed <= 2**32 - 1:
        raise UsageError(f"--seed must be between 0 and 4294967295, got {seed}.")
    _register_engine()
    _quiet_papermill_logger()
    path = Path(path).resolve()
    output_path = Path(output_path).resolve() if output_path is not None else None
    capture_dir.mkdir(parents=True, exist_ok=True)
    capture_root = Path(tempfile.mkdtemp(prefix="nb2prod-capture-", dir=capture_dir))
    env = {"PYTHONHASHSEED": str(seed)} if seed is not None else {}
    run = _Run(tempfile.mkdtemp(prefix="nb2prod-k", dir=_short_tmp()), env)
    own_progress = None
    start = time.perf_counter()
    try:
        work, order = _prepare(nb, params, captures, capture_root, seed, parameters_cell)
        run.hidden = {i for i, s in enumerate(order) if s.kind in ("seed", "capture")}
        if progress is True:
            own_progress = progress = _new_progress()
            own_progress.start()
        if progress is not False and progress is not None:
            run.progress = progress
            run.task = progress.add_task(path.name, total=len(order) - len(run.hidden))
        name = _kernel_name(nb, kernel_name)
        try:
            out = papermill.execute_notebook(
                work,
                str(output_path) if output_path else None,
                engine_name=ENGINE_NAME,
                kernel_name=name,
                language="python",
                cwd=str(path.parent),
                execution_timeout=timeout,
                start_timeout=START_TIMEOUT,
                progress_bar=False,
                nb2prod_run=run,
            )
        except Exception as err:
            mapped = _map_error(err, nb, order, run, path=path, timeout=timeout, kernel=name)
            if mapped is None:
                raise
            raise mapped from None
        values, missing = _load_captures(capture_root, captures, nb, path)
        out = _strip_injected(out)
        if output_path is not None:
            from papermill.iorw import write_ipynb

            write_ipynb(out, str(output_path))
        return Execution(out, output_path, values, missing, time.perf_counter() - start)
    except BaseException:
        _clean_output_file(output_path)
        raise
    finally:
        if own_progress is not None:
            own_progress.stop()
        for process in run.kernels:  # nbclient stops its kernel; this is the belt to its braces
            if process.poll() is None:
                process.kill()
                process.wait(10)
        shutil.rmtree(capture_root, ignore_errors=True)
        shutil.rmtree(run.runtime_dir, ignore_errors=True)


def _map_error(
    err: Exception, nb: NotebookNode, order: list[_Slot], run: _Run, **where: Any
) -> Nb2ProdError | None:
    """papermill's and nbclient's failures in the user's coordinates; None for anything else."""
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    path = str(where["path"])
    if isinstance(err, NoSuchKernel):
        return UsageError(
            f"no Jupyter kernel named '{where['kernel']}' is installed.",
            path=path,
            hint="install ipykernel in this environment or pass another kernel name.",
        )
    failing = err.cell_index if isinstance(err, PapermillExecutionError) else run.current
    cell, source = _user_cell(nb, order, failing)
    at = {"path": path, "cell": cell, "source": source}
    if isinstance(err, PapermillExecutionError):
        reason = f"{err.ename}: {err.evalue}"
        return ExecutionError(reason, ename=err.ename, evalue=err.evalue, **at)
    if isinstance(err, DeadKernelError):
        hint = "the cell may have run out of memory, crashed in C code or called os._exit()."
        return ExecutionError("the kernel died", hint=hint, **at)
    if isinstance(err, CellTimeoutError):
        reason = f"cell exceeded the --timeout of {where['timeout']:g} seconds"
        return ExecutionError(reason, hint="raise --timeout, or make the cell faster.", **at)
    if isinstance(err, RuntimeError) and run.current is None:  # "Kernel didn't respond in 60s"
        return ExecutionError(f"the kernel did not start: {err}", path=path)
    return None


def _short_tmp() -> str | None:
    """IPC socket paths must fit in ~107 bytes; a long $TMPDIR would not leave room."""
    return "/tmp" if len(tempfile.gettempdir()) > 60 and os.path.isdir("/tmp") else None


def _quiet_papermill_logger() -> None:
    """papermill and nbclient log errors we re-raise as ExecutionError; keep Python's last-resort
    handler from printing them a second time. A logging config the caller set up still sees them."""
    import logging

    logger = logging.getLogger("papermill")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


def _new_progress() -> Progress:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("cells"),
        TimeElapsedColumn(), console=Console(stderr=True),
    )
