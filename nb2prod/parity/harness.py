"""The parity harness: each notebook x parameter set runs twice, as a notebook and as its pipeline.

For every case the generated pipeline starts in a fresh process first, then papermill executes the
notebook with the same parameters, capturing every ``parity:`` and ``metric:`` value right after its
cell; the two sides run at the same time and their values are compared (``compare.py``). Generated
code that is stale or missing fails its notebook without running anything: parity with old code
proves nothing.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from nb2prod.errors import ExecutionError
from nb2prod.parity.job import DEFAULT_SETS, ParamSet, ParityJob, TargetSpec
from nb2prod.parity.results import CaseResult, Mismatch, ParityReport, TargetResult
from nb2prod.read.notebook import directive_parameters_cell, mark_runs_folder


def plan_jobs(
    paths: Iterable[Path],
    *,
    out_dir: Path,
    runs_dir: Path,
    param_sets: Sequence[ParamSet] | None = None,
    sets_by_module: dict[str, list[dict[str, Any]]] | None = None,
    root: Path | None = None,
) -> tuple[list[ParityJob], list[CaseResult]]:
    """Jobs for every current notebook x parameter set, and failed cases for stale notebooks.

    ``param_sets`` (from ``-p`` or ``-f``) replace the defaults; ``sets_by_module`` (from the
    project config, keyed by module name or ``*``) add to them.
    """
    from nb2prod.execute.params import param_hash, param_id, resolve
    from nb2prod.store.build import BuildRow, prepare
    from nb2prod.store.versions import current_version, read_manifest, staleness

    jobs: list[ParityJob] = []
    stale: list[CaseResult] = []
    for item in prepare(paths, out_dir, root):
        if isinstance(item, BuildRow):
            name, display, path = item.name, item.notebook, _source_path(item.notebook, root)
            reason = None
        else:
            plan = item.plan
            name, display, path = plan.name, plan.notebook.display_path, plan.notebook.path
            reason = staleness(out_dir, plan, item.code_hash)
        package = out_dir / name
        version = current_version(package)
        if reason is not None or version is None:
            stale.append(_stale_case(display, name, version, _never_built(reason, package)))
            continue
        manifest = read_manifest(package, version)
        defaults = {k: v["default"] for k, v in manifest["parameters"].items()}
        targets = tuple(
            TargetSpec(t["name"], kind, t["cell"], bool(t.get("expression")))
            for key, kind in (("parity_targets", "parity"), ("metrics", "metric"))
            for t in manifest.get(key, [])
        )
        sets = list(param_sets) if param_sets else [*DEFAULT_SETS]
        if not param_sets and sets_by_module:
            extra = sets_by_module.get("*", []) + sets_by_module.get(name, [])
            sets += [(param_id(entry), entry) for entry in extra]
        for set_id, raw in sets:
            params = resolve(raw, defaults, source=display)
            jobs.append(
                ParityJob(
                    notebook=path,
                    display=display,
                    name=name,
                    version=version,
                    out_dir=out_dir,
                    targets=targets,
                    param_id=set_id,
                    params=params,
                    evidence=runs_dir / name / f"parity-{param_hash(params)}.ipynb",
                )
            )
    return jobs, stale


def _never_built(reason: str | None, package: Path) -> str:
    """"never built" names the folder it looked in: a project built with ``--out`` elsewhere
    is found only when ``test`` gets the same ``--out`` (or ``[tool.nb2prod] out`` says it)."""
    if reason is not None and reason != "never built":
        return reason
    return (
        f"never built: no {package.name}/CURRENT in {package.parent}; if it was built with "
        "--out DIR elsewhere, pass the same --out to `nb2prod test` (or set [tool.nb2prod] out)"
    )


def _source_path(display: str, root: Path | None) -> Path:
    path = Path(display)
    return path if path.is_absolute() else (root or Path.cwd()) / path


def _stale_case(display: str, name: str, version: str | None, reason: str) -> CaseResult:
    fix = "run `nb2prod build` and commit generated/"
    case = CaseResult(notebook=display, name=name, version=version, param_id="build", params={})
    case.targets.append(
        TargetResult(
            name="generated code",
            kind="parity",
            cell=None,
            mismatch=Mismatch(target="generated code", reason=f"stale: {reason}; {fix}"),
        )
    )
    return case


def run_job(
    job: ParityJob,
    *,
    rtol: float = 1e-7,
    atol: float = 0.0,
    timeout: float | None = None,
    seed: int | None = None,
    progress: Any = False,
    diagnose: bool = True,
) -> CaseResult:
    """Run one case: the pipeline in a fresh process while the notebook executes; compare.

    On a mismatch (and with ``diagnose``) the notebook executes once more with the same parameters
    and seed: when it disagrees with itself the case is "not reproducible", not "diverged".
    """
    from nb2prod.execute.engine import execute_notebook
    from nb2prod.execute.pipeline_runner import start_pipeline
    from nb2prod.parity.compare import compare, plot_points, summarize
    from nb2prod.read.notebook import read_notebook_node

    case = CaseResult(
        notebook=job.display,
        name=job.name,
        version=job.version,
        param_id=job.param_id,
        params=job.params,
        evidence=str(job.evidence),
    )
    private = Path(tempfile.mkdtemp(prefix="nb2prod-parity-"))  # mode 0700: captures live here
    pipeline = None
    sides = _Sides(job)
    try:
        nb = read_notebook_node(job.notebook)
        parameters_cell = directive_parameters_cell(nb)
        job.evidence.parent.mkdir(parents=True, exist_ok=True)
        mark_runs_folder(job.evidence.parent.parent)  # runs/<name>/parity-….ipynb
        sides.read(nb)
        pipeline = start_pipeline(
            job.out_dir,
            job.module,
            job.params,
            cwd=job.notebook.parent,
            capture_path=private / "pipeline.pkl",
            timeout=timeout,
            seed=seed,
            workdir=sides.new("pipeline"),
        )

        def execute(output: Path) -> Any:
            """This case's notebook, executed with its parameters, seed and captures."""
            side = "notebook" if output == job.evidence else "rerun"
            return execute_notebook(
                nb,
                path=job.notebook,
                params=job.params,
                output_path=output,
                captures=[(t.cell, t.name) for t in job.targets],
                shown={t.name for t in job.targets if t.expression},
                capture_dir=private,
                timeout=timeout,
                progress=progress,
                seed=seed,
                parameters_cell=parameters_cell,
                workdir=sides.new(side),
            )

        try:
            executed = execute(job.evidence)
        except ExecutionError as err:
            err.path = job.display
            case.error = err
            return case
        case.timings["notebook"] = executed.duration
        try:
            produced = pipeline.wait()
        except ExecutionError as err:
            case.error = _locate_in_notebook(err, job)
            return case
        case.timings["pipeline"] = pipeline.duration or 0.0
        started = time.perf_counter()
        for target in job.targets:
            case.targets.append(
                _compare_target(target, executed.values, produced, rtol, atol, compare, summarize, plot_points)
            )
            if target.kind == "metric" and target.name in executed.values:
                case.metrics[target.name] = _jsonable(executed.values[target.name])
        case.timings["compare"] = time.perf_counter() - started
        if diagnose and _comparable_failure(case, executed.values, produced):
            from nb2prod.parity.reproducibility import run_again

            run_again(case, job, execute, executed.values, rtol=rtol, atol=atol, seed=seed)
        return case
    finally:
        if pipeline is not None:
            pipeline.kill()
        shutil.rmtree(private, ignore_errors=True)
        case.written_files = sides.collect()


class _Sides:
    """The working folders of one case's sides (``nb2prod.execute.workdir``), and their evidence."""

    def __init__(self, job: ParityJob) -> None:
        from nb2prod.execute import workdir

        self.job = job
        self.on = workdir.enabled()
        self.folders: dict[str, Any] = {}
        self.copies: tuple[str, ...] = ()

    def read(self, nb: Any) -> None:
        """Note the existing files the notebook writes from C code: they are copied, not linked."""
        if self.on:
            from nb2prod.execute.workdir import c_level_outputs

            sources = [c.source for c in nb.cells if c.cell_type == "code"]
            self.copies = c_level_outputs(sources, self.job.notebook.parent.resolve())

    def new(self, side: str) -> Any:
        """A fresh mirror of the notebook's folder for ``side`` (None when isolation is off)."""
        if not self.on:
            return None
        from nb2prod.execute.workdir import mirror

        evidence = self.job.evidence.parent
        self.folders[side] = mirror(
            self.job.notebook.parent, parent=evidence, label=side, exclude=(evidence,),
            copies=self.copies,
        )
        return self.folders[side]

    def collect(self) -> str | None:
        """Move what each side wrote next to the executed notebook; the folder, if any was kept."""
        from nb2prod.execute.workdir import collect, discard

        dest = files_evidence(self.job.evidence)
        shutil.rmtree(dest, ignore_errors=True)  # this case's previous run: not this run's evidence
        kept: list[str] = []
        for side, work in self.folders.items():
            try:
                kept += collect(work, dest / side)
            except OSError:  # a full disk, say: the verdict stands, the evidence is what was moved
                discard(work)
        return str(dest) if kept else None


def files_evidence(evidence: Path) -> Path:
    """Where the files each side wrote are kept: ``<evidence stem>-files/<side>/``."""
    return evidence.with_name(f"{evidence.stem}-files")


def _comparable_failure(case: CaseResult, first: dict[str, Any], produced: dict[str, Any]) -> bool:
    """A target both sides defined differs: a second notebook run can tell code from chance."""
    from nb2prod.execute.pipeline_runner import Uncaptured

    return any(
        t.name in first and t.name in produced
        and not isinstance(first[t.name], Uncaptured) and not isinstance(produced[t.name], Uncaptured)
        for t in case.failures
    )


def _compare_target(
    target: TargetSpec,
    notebook_values: dict[str, Any],
    pipeline_values: dict[str, Any],
    rtol: float,
    atol: float,
    compare: Any,
    summarize: Any,
    plot_points: Any,
) -> TargetResult:
    missing = [side for side, values in (("notebook", notebook_values), ("pipeline", pipeline_values))
               if target.name not in values]
    if missing:
        return TargetResult(
            target.name,
            target.kind,  # type: ignore[arg-type]
            target.cell,
            Mismatch(target.name, f"not defined in the {' or the '.join(missing)} after cell {target.cell}"),
        )
    a, b = notebook_values[target.name], pipeline_values[target.name]
    from nb2prod.execute.pipeline_runner import Uncaptured

    lost = [v.reason for v in (a, b) if isinstance(v, Uncaptured)]
    if lost:
        fix = "; make the target a value that pickles (numbers, arrays, frames, fitted models)"
        return TargetResult(
            target.name,
            target.kind,  # type: ignore[arg-type]
            target.cell,
            Mismatch(target.name, f"cannot be compared: {'; '.join(lost)}{fix}"),
        )
    return TargetResult(
        target.name,
        target.kind,  # type: ignore[arg-type]
        target.cell,
        compare(target.name, a, b, rtol=rtol, atol=atol),
        summarize(a),
        summarize(b),
        plot_points(a, b),
    )


def _locate_in_notebook(err: ExecutionError, job: ParityJob) -> ExecutionError:
    """Map a pipeline.py line back to the notebook cell it came from (the ``# cell N`` marks)."""
    pipeline = job.out_dir / job.name / job.version / "pipeline.py"
    cell = None
    if err.line is not None and pipeline.is_file():
        from nb2prod.generate.codegen import cell_of_line

        cell = cell_of_line(pipeline, err.line)
    where = f"{job.out_dir.name}/{job.name}/{job.version}/pipeline.py, line {err.line}"
    return ExecutionError(
        f"{err.reason} (at {where}" + (f", generated from notebook cell {cell})" if cell is not None else ")"),
        path=job.display,
        cell=cell,
        hint=err.hint or f"reproduce it with `python -m {job.out_dir.name}.{job.name}`.",
        source=err.source,
        ename=err.ename,
        evalue=err.evalue,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except (ValueError, TypeError):
            pass
    return repr(value)


def run_parity(
    jobs: Sequence[ParityJob],
    *,
    stale: Sequence[CaseResult] = (),
    rtol: float = 1e-7,
    atol: float = 0.0,
    timeout: float | None = None,
    seed: int | None = None,
    workers: int = 1,
    progress: Any = False,
) -> ParityReport:
    """Run every job (``workers`` at a time); cases come back in the jobs' order."""
    started = time.perf_counter()
    report = ParityReport(cases=list(stale), rtol=rtol, atol=atol)

    def one(job: ParityJob) -> CaseResult:
        return run_job(job, rtol=rtol, atol=atol, timeout=timeout, seed=seed, progress=progress)

    with _pipeline_zygote(jobs, seed):
        if workers <= 1 or len(jobs) <= 1:
            report.cases.extend(one(job) for job in jobs)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(one, job) for job in jobs]
                try:
                    report.cases.extend(f.result() for f in futures)
                except KeyboardInterrupt:  # only this thread sees Ctrl-C: stop the workers' processes
                    from nb2prod.execute.engine import stop_everything
                    from nb2prod.execute.kernel import resume

                    pool.shutdown(wait=False, cancel_futures=True)
                    interrupted = stop_everything()
                    pool.shutdown(wait=True)
                    resume()
                    raise interrupted from None
    report.duration = time.perf_counter() - started
    return report


def _pipeline_zygote(jobs: Sequence[ParityJob], seed: int | None) -> Any:
    """With several cases, pipelines fork from one interpreter that imported their libraries once.

    Each case still runs in its own new process (see ``nb2prod.execute.zygote``); one case gains nothing.
    """
    from contextlib import nullcontext

    if len(jobs) <= 1:
        return nullcontext()
    from nb2prod.execute.pipeline_runner import zygote_for
    from nb2prod.execute.zygote import imported_modules

    modules: dict[str, None] = {}
    for job in jobs:
        pipeline = job.out_dir / job.name / job.version / "pipeline.py"
        local = [job.notebook.parent, job.out_dir.resolve().parent]
        modules.update(dict.fromkeys(imported_modules(pipeline, local)))
    folders = {job.notebook.parent for job in jobs}
    cwd = folders.pop() if len(folders) == 1 else jobs[0].out_dir.resolve().parent
    return zygote_for(list(modules), cwd=cwd, seed=seed)
