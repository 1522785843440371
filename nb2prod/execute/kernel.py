"""The kernel side of notebook execution: a papermill engine and an IPC kernel manager.

nb2prod registers papermill engine ``nb2prod``: nbclient's engine, with a notebook manager that
reports each cell start and end to the :class:`Run` (progress bars, the failing cell's index) and a
kernel manager on the IPC transport whose connection file and sockets live in a private runtime folder
per run, and a client that runs nb2prod's hidden cells without IPython history (the user's cells keep
their Jupyter execution counts, so ``Out[13]`` means what it meant). The kernel processes are
recorded so :mod:`nb2prod.execute.engine` can make sure none outlives its run, whatever ended it
(an error, a timeout, a dead kernel, Ctrl-C).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbformat import NotebookNode

ENGINE_NAME = "nb2prod"
SAVE_EVERY = 5.0  # seconds between live saves of the evidence notebook
START_TIMEOUT = 60  # seconds; a cold kernel on a loaded 2-core CI box can take several
DEFAULT_KERNEL = "python3"
SHUTDOWN_WAIT = 2.0  # seconds for a graceful kernel stop: SIGTERM at half, SIGKILL at the end


@dataclass
class Run:
    """State one execution shares with its engine, kernel manager and progress bar."""

    runtime_dir: str  # private: the kernel's connection file and IPC sockets
    env: dict[str, str]  # added to the kernel's environment
    hidden: set[int] = field(default_factory=set)  # injected cells the progress bar skips
    #: cells run without IPython history (nb2prod's own cells, papermill's new parameters cell),
    #: so the user's cells get the execution counts they had in Jupyter (``Out[13]``, ``_13``)
    no_history: set[int] = field(default_factory=set)
    current: int | None = None  # index (in the executed copy) of the cell last started
    abort: bool = False  # a cell was cut short: kill the kernel instead of asking it to stop
    kernels: list[subprocess.Popen[bytes]] = field(default_factory=list)
    progress: Any = None
    task: Any = None
    shown: str = ""  # the notebook as messages name it
    cwd: str | None = None  # where the kernel starts (the notebook's folder)
    user_cell: Any = None  # executed-copy index -> the user's cell index (set by execute)

    @property
    def where(self) -> tuple[str, int | None]:
        """The notebook and the user's cell running now, for Ctrl-C messages."""
        return self.shown, self.user_cell(self.current) if self.user_cell else None

    def add_kernel(self, process: subprocess.Popen[bytes]) -> None:
        """Record a started kernel; kill it at once when everything is being stopped (Ctrl-C)."""
        self.kernels.append(process)
        if _STOPPING.is_set():
            process.kill()

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


_LIVE: dict[int, Run] = {}  # every execution in progress in this process, by id
_LIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()


def track(run: Run) -> None:
    """Register a starting execution, so :func:`stop_all_kernels` can reach its kernel."""
    with _LIVE_LOCK:
        if _STOPPING.is_set():
            raise KeyboardInterrupt
        _LIVE[id(run)] = run


def untrack(run: Run) -> None:
    with _LIVE_LOCK:
        _LIVE.pop(id(run), None)


_TORNADO_LOGGERS = ("tornado", "tornado.general", "tornado.application")


def stop_all_kernels() -> list[tuple[str, int | None]]:
    """Kill every kernel this process runs (Ctrl-C with ``-j N``: worker threads never see the
    KeyboardInterrupt, so their cells must be cut short from outside). Until :func:`resume`, no new
    execution starts. Returns the notebook and cell each execution was at."""
    with _LIVE_LOCK:
        _STOPPING.set()
        runs = list(_LIVE.values())
    # A killed kernel's zmq streams fail in the worker threads' event loops, and tornado logs each
    # failure with a traceback: noise after a Ctrl-C the user asked for.
    for name in _TORNADO_LOGGERS:
        logging.getLogger(name).disabled = True
    for run in runs:
        run.abort = True
        for process in list(run.kernels):
            if process.poll() is None:
                process.kill()
    return [run.where for run in runs]


def resume() -> None:
    """Allow executions again after :func:`stop_all_kernels` (the interrupted batch is over)."""
    _STOPPING.clear()
    for name in _TORNADO_LOGGERS:
        logging.getLogger(name).disabled = False


def choose_kernel(nb: NotebookNode, requested: str | None) -> str:
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


def kernel_log(run: Run) -> str:
    """Where the kernel process's stderr goes: the run's private runtime folder."""
    return os.path.join(run.runtime_dir, "kernel-stderr.log")


def kernel_log_tail(run: Run, lines: int = 5) -> str:
    """The last lines the kernel process wrote to its stderr ("" when it wrote nothing)."""
    try:
        with open(kernel_log(run), encoding="utf-8", errors="replace") as handle:
            return "\n".join(handle.read().strip().splitlines()[-lines:])
    except OSError:
        return ""


def kernel_manager_class(run: Run) -> type:
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

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            # The kernel process's own stderr (ipykernel and tornado logs, C-level prints; not the
            # cells' output, which goes into the notebook) stays out of nb2prod's output; a dead
            # kernel's error quotes its end (kernel_log_tail).
            with open(kernel_log(run), "ab") as log:
                kw.setdefault("stderr", log)
                await super()._async_launch_kernel(kernel_cmd, **kw)

        async def _async_post_start_kernel(self, **kw: Any) -> None:
            process = getattr(self.provisioner, "process", None)
            if process is not None:
                run.add_kernel(process)
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


def register_engine() -> None:
    """Register papermill engine ``nb2prod``: NBClientEngine whose manager reports each cell."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
    from papermill.exceptions import PapermillException
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    try:
        papermill_engines.get_engine(ENGINE_NAME)
        return
    except PapermillException:
        pass

    class Manager(NotebookExecutionManager):
        def __init__(self, nb: Any, run: Run, **kw: Any) -> None:
            super().__init__(nb, progress_bar=False, **kw)
            self.run = run

        def save(self, **kw: Any) -> None:
            # papermill rewrites the whole output notebook at every cell start and end (about a
            # second per small notebook); a live copy at most SAVE_EVERY seconds old is enough, as
            # papermill writes the final (or failed) notebook itself when the run ends.
            if (self.now() - self.last_save_time).total_seconds() >= SAVE_EVERY:
                super().save(**kw)

        def cell_start(self, cell: Any, cell_index: int | None = None, **kw: Any) -> None:
            self.run.cell_started(cell_index)
            super().cell_start(cell, cell_index, **kw)

        def cell_complete(self, cell: Any, cell_index: int | None = None, **kw: Any) -> None:
            self.run.cell_ended(cell_index)
            super().cell_complete(cell, cell_index, **kw)

    class Client(PapermillNotebookClient):
        def __init__(self, nb_man: Any, run: Run, **kw: Any) -> None:
            super().__init__(nb_man, **kw)
            self.nb2prod_run = run

        def execute_cell(self, cell: Any, cell_index: int, execution_count: int | None = None,
                         store_history: bool = True) -> Any:
            store_history = store_history and cell_index not in self.nb2prod_run.no_history
            return super().execute_cell(cell, cell_index, execution_count, store_history)

    class Engine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(  # type: ignore[override]
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: float | None = None,
            nb2prod_run: Run | None = None,
            **kwargs: Any,
        ) -> Any:
            # papermill's NBClientEngine.execute_managed_notebook, with a client that runs
            # nb2prod's hidden cells without storing history
            kwargs = remove_args(["input_path"], **kwargs)
            final = merge_kwargs(
                remove_args(["timeout", "startup_timeout"], **kwargs),
                timeout=execution_timeout or kwargs.get("timeout"),
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            return Client(nb_man, nb2prod_run or Run("", {}), **final).execute()

        @classmethod
        def execute_notebook(  # type: ignore[override]
            cls,
            nb: Any,
            kernel_name: str,
            output_path: str | None = None,
            progress_bar: bool = False,
            log_output: bool = False,
            autosave_cell_every: int = 30,
            nb2prod_run: Run | None = None,
            **kwargs: Any,
        ) -> Any:
            run = nb2prod_run or Run("", {})
            if nb2prod_run is not None:
                kwargs.setdefault("kernel_manager_class", kernel_manager_class(run))
            if run.cwd:  # the kernel's own cwd: papermill's cwd= would chdir the whole process
                kwargs.setdefault("resources", {"metadata": {"path": run.cwd}})
            nb_man = Manager(
                nb,
                run,
                output_path=output_path,
                log_output=log_output,
                autosave_cell_every=autosave_cell_every,
            )
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(
                    nb_man, kernel_name, log_output=log_output, nb2prod_run=run, **kwargs
                )
            finally:
                nb_man.notebook_complete()
            return nb_man.nb

    papermill_engines.register(ENGINE_NAME, Engine)


def short_tmp() -> str | None:
    """IPC socket paths must fit in ~107 bytes; a long $TMPDIR would not leave room."""
    return "/tmp" if len(tempfile.gettempdir()) > 60 and os.path.isdir("/tmp") else None


def quiet_papermill_logger() -> None:
    """papermill and nbclient log errors we re-raise as ExecutionError; keep Python's last-resort
    handler from printing them a second time. A logging config the caller set up still sees them."""
    import logging

    logger = logging.getLogger("papermill")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
