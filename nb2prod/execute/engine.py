"""Run a notebook with papermill (and, re-exported, a generated pipeline in a fresh process).

Parity needs a variable's value *right after* a given cell, not at the end of the notebook, so
hidden capture cells go after those cells; they pickle the value into a private directory and are
stripped from the executed notebook kept as evidence. Errors come back as ExecutionError with the
cell index of the user's notebook, never of the copy that ran. papermill, nbclient, jupyter_client
and rich load only inside these functions.
"""

from __future__ import annotations

import copy
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nb2prod.errors import ExecutionError, Interrupted, Nb2ProdError, UsageError
from nb2prod.execute.captures import capture_source, load_captures, verified_pickle
from nb2prod.execute.kernel import (
    DEFAULT_KERNEL,
    ENGINE_NAME,
    START_TIMEOUT,
    Run,
    choose_kernel,
    kernel_log_tail,
    quiet_papermill_logger,
    register_engine,
    short_tmp,
    stop_all_kernels,
    track,
    untrack,
)
from nb2prod.execute.pipeline_runner import PipelineProcess, run_pipeline, start_pipeline
from nb2prod.read.notebook import INJECTED_TAG

__all__ = [
    "Execution",
    "PipelineProcess",
    "execute_notebook",
    "run_pipeline",
    "start_pipeline",
    "verified_pickle",
]

if TYPE_CHECKING:
    from nbformat import NotebookNode
    from rich.progress import Progress

    from nb2prod.execute.workdir import WorkDir

CAPTURE_TAG = "nb2prod-capture"
SEED_TAG = "nb2prod-seed"
ARGV_TAG = "nb2prod-argv"
WORKDIR_TAG = "nb2prod-workdir"
PARAMETERS_TAG = "parameters"
KALE_PARAMETERS_TAG = "pipeline-parameters"


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

    kind: str  # "cell", "capture", "seed", "workdir", "argv", "parameters" (papermill's, replacing
    # the notebook's injected cell), "new parameters" (papermill's, a cell Jupyter never ran)
    index: int | None  # the user's cell index (for "capture": the captured cell)


def _hidden_cell(source: str, tag: str, key: str) -> NotebookNode:
    import nbformat

    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [tag]
    cell.metadata["nb2prod"] = {key: True}
    cell.metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
    return cell


def _seed_source(seed: int) -> str:
    """A hidden first cell: ``nb2prod.execute._seeding`` run in a namespace of its own."""
    code = (Path(__file__).with_name("_seeding.py")).read_text(encoding="utf-8")
    return (
        f"# nb2prod: --seed {seed} (hidden; removed from the executed notebook)\n"
        f"exec(compile({code!r}, 'nb2prod-seed', 'exec'), _nb2prod_ns := {{}})\n"
        f"_nb2prod_ns['seed_everything']({seed})\n"
        "del _nb2prod_ns\n"
    )


def _argv_source(script: Path) -> str:
    """A hidden first cell for a plain script: ``sys.argv`` as ``python script.py`` sets it, so an
    ``argparse`` parser sees no arguments rather than the kernel's ``-f kernel.json``."""
    return (
        "# nb2prod: sys.argv as `python script.py` (hidden; removed from the executed notebook)\n"
        f"__import__('sys').argv = [{str(script)!r}]\n"
    )


def _prepare(
    nb: NotebookNode,
    params: dict[str, Any],
    captures: list[tuple[int, str]],
    capture_root: Path,
    seed: int | None,
    parameters_cell: int | None,
    key: str = "",
    workdir: WorkDir | None = None,
    shown: set[str] | frozenset[str] = frozenset(),
    script: Path | None = None,
) -> tuple[NotebookNode, list[_Slot]]:
    """Copy ``nb``; tag its parameters cell; add seed, capture and papermill's parameters cells
    (and, for a plain ``script``, the cell that sets ``sys.argv``)."""
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

    if workdir is not None:
        add(_hidden_cell(workdir.hook_source(), WORKDIR_TAG, "workdir"), _Slot("workdir", None))
    if seed is not None:
        add(_hidden_cell(_seed_source(seed), SEED_TAG, "seed"), _Slot("seed", None))
    if script is not None and (nb.metadata.get("nb2prod") or {}).get("plain_script"):
        add(_hidden_cell(_argv_source(script), ARGV_TAG, "argv"), _Slot("argv", None))
    for i, cell in enumerate(work.cells):
        add(cell, _Slot("cell", i))
        for k in after.get(i, []):
            var = captures[k][1]
            source = capture_source(var, capture_root / str(k), key, var in shown)
            add(_hidden_cell(source, CAPTURE_TAG, "capture"), _Slot("capture", i))
    work.cells = cells

    has_injected = any(INJECTED_TAG in t for t in tags)
    if params or has_injected:  # replace a stale injected cell even when no parameters are given
        from nb2prod.read.notebook import injected_values

        # papermill drops the old injected cell: keep its values (Ploomber's), under the given ones
        params = {**injected_values(work), **params}
        work = parameterize_notebook(work, params, kernel_name=DEFAULT_KERNEL, language="python")
    papermills = _Slot("parameters" if has_injected else "new parameters", None)
    order = [slots.get(id(cell), papermills) for cell in work.cells]
    return work, order


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
    workdir: WorkDir | None = None,
    shown: set[str] | frozenset[str] = frozenset(),
) -> Execution:
    """Execute ``nb`` (read from ``path``) with papermill, capturing ``(cell, var)`` values.

    ``progress`` is True (own rich bar on stderr), False (silent), or a caller's rich ``Progress``
    that gets one task per notebook. ``seed`` seeds ``random`` and ``numpy.random`` in a hidden
    first cell and sets PYTHONHASHSEED in the kernel's environment. ``parameters_cell`` names the
    user's parameters cell when the caller's tag parser found one papermill would not
    (``#| parameters``). ``workdir`` is this run's own working folder (``nb2prod.execute.workdir``):
    the kernel starts there, with writes through its links to the notebook's folder made private. A name in ``shown`` is captured as the value its cell shows (its
    last expression, from IPython's ``Out``), not from the kernel's variables.
    """
    import papermill

    for cell, var in captures:
        if not var.isidentifier() or not 0 <= cell < len(nb.cells):
            raise UsageError(f"cannot capture {var!r} after cell {cell}.", path=str(path))
    if seed is not None and not 0 <= seed <= 2**32 - 1:
        raise UsageError(f"--seed must be between 0 and 4294967295, got {seed}.")
    register_engine()
    quiet_papermill_logger()
    path = Path(path).resolve()
    output_path = Path(output_path).resolve() if output_path is not None else None
    capture_dir.mkdir(parents=True, exist_ok=True)
    capture_root = Path(tempfile.mkdtemp(prefix="nb2prod-capture-", dir=capture_dir))  # 0700
    key = secrets.token_hex(32)  # this run's secret: only files carrying its HMAC are unpickled
    env = {"PYTHONHASHSEED": str(seed)} if seed is not None else {}
    run = Run(tempfile.mkdtemp(prefix="nb2prod-k", dir=short_tmp()), env)
    own_progress = None
    start = time.perf_counter()
    try:
        from nb2prod.read.notebook import display_path

        run.shown = display_path(path)
        run.cwd = str(workdir.root if workdir is not None else path.parent)
        track(run)
        work, order = _prepare(
            nb, params, captures, capture_root, seed, parameters_cell, key, workdir, shown, path
        )
        run.user_cell = lambda index: _user_cell(nb, order, index)[0]
        run.hidden = {i for i, s in enumerate(order) if s.kind in ("seed", "capture", "workdir", "argv")}
        # nb2prod's cells, and a parameters cell papermill adds, did not run in Jupyter
        run.no_history = run.hidden | {i for i, s in enumerate(order) if s.kind == "new parameters"}
        if progress is True:
            own_progress = progress = _new_progress()
            own_progress.start()
        if progress is not False and progress is not None:
            run.progress = progress
            run.task = progress.add_task(path.name, total=len(order) - len(run.hidden))
        name = choose_kernel(nb, kernel_name)
        try:
            out = papermill.execute_notebook(
                work,
                str(output_path) if output_path else None,
                engine_name=ENGINE_NAME,
                kernel_name=name,
                language="python",
                cwd=None,  # papermill would chdir this whole process (racing other threads)
                execution_timeout=timeout,
                start_timeout=START_TIMEOUT,
                progress_bar=False,
                nb2prod_run=run,
            )
        except KeyboardInterrupt:
            raise Interrupted(*run.where) from None
        except Exception as err:
            mapped = _map_error(err, nb, order, run, path=path, timeout=timeout, kernel=name)
            if mapped is None:
                raise
            raise mapped from None
        values, missing = load_captures(capture_root, captures, nb, path, key)
        out = _strip_injected(out)
        if output_path is not None:
            from papermill.iorw import write_ipynb

            write_ipynb(out, str(output_path))
        return Execution(out, output_path, values, missing, time.perf_counter() - start)
    except BaseException:
        _clean_output_file(output_path)
        raise
    finally:
        untrack(run)
        if own_progress is not None:
            own_progress.stop()
        for process in run.kernels:  # nbclient stops its kernel; this is the belt to its braces
            if process.poll() is None:
                process.kill()
                process.wait(10)
        shutil.rmtree(capture_root, ignore_errors=True)
        shutil.rmtree(run.runtime_dir, ignore_errors=True)


def stop_everything() -> Interrupted:
    """Ctrl-C with several cases at once: kill every kernel and pipeline this process started.

    Worker threads never receive the KeyboardInterrupt; their kernels and pipelines die instead,
    so each worker finishes at once and the pool can be shut down. Returns the error to raise,
    naming a notebook cell that was running. Call :func:`nb2prod.execute.kernel.resume` when done.
    """
    from nb2prod.execute.pipeline_runner import kill_all

    running = stop_all_kernels()
    kill_all()
    running.sort(key=lambda w: w[1] is None)  # a running cell first
    named = [f"{shown}, cell {cell}" if cell is not None else shown for shown, cell in running[1:]]
    shown, cell = running[0] if running else ("nb2prod test", None)
    return Interrupted(shown, cell, tuple(named))


def _map_error(
    err: Exception, nb: NotebookNode, order: list[_Slot], run: Run, **where: Any
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
        said = kernel_log_tail(run)
        reason = f"the kernel died; its last words on stderr:\n{said}" if said else "the kernel died"
        return ExecutionError(reason, hint=hint, **at)
    if isinstance(err, CellTimeoutError):
        reason = f"cell exceeded the --timeout of {where['timeout']:g} seconds"
        return ExecutionError(reason, hint="raise --timeout, or make the cell faster.", **at)
    if isinstance(err, RuntimeError) and run.current is None:  # "Kernel didn't respond in 60s"
        return ExecutionError(f"the kernel did not start: {err}", path=path)
    return None


def _new_progress() -> Progress:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("cells"),
        TimeElapsedColumn(), console=Console(stderr=True),
    )
