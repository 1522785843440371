"""Commands that execute notebooks: run (papermill, with parameters) and test (parity, reports)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from nb2prod.cli._shared import (
    handles_errors,
    make_console,
    notebook_paths,
    param_file_option,
    param_option,
    param_sets,
    seed_option,
    timeout_option,
)


@click.command()
@click.argument("notebook", type=click.Path(dir_okay=False))
@param_option
@param_file_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Executed notebook (default: runs/<name>/).")
@timeout_option
@seed_option
@handles_errors
def run(
    notebook: str,
    parameters: tuple[tuple[str, str], ...],
    parameters_file: str | None,
    output: str | None,
    timeout: float | None,
    seed: int | None,
) -> None:
    """Execute NOTEBOOK with papermill and keep the executed copy as evidence."""
    from nb2prod.execute.run import run_notebook

    if seed is None:  # [tool.nb2prod] seed, as `nb2prod test` reads it
        from nb2prod.config import load_config

        seed = load_config().seed
    sets = param_sets(parameters, parameters_file) or [("defaults", {})]
    console = make_console(stderr=True)
    for set_id, raw in sets:
        result = run_notebook(
            Path(notebook),
            raw,
            output=Path(output) if output and len(sets) == 1 else None,
            timeout=timeout,
            seed=seed,
            progress=console.is_terminal,
        )
        click.echo(
            f"{result.display}: ran {result.cells} cells with {set_id} in {result.duration:.1f}s "
            f"-> {result.output}"
        )


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@param_option
@param_file_option
@click.option("--rtol", type=float, default=None, help="Relative tolerance for floats (default 1e-7).")
@click.option("--atol", type=float, default=None, help="Absolute tolerance for floats (default 0).")
@click.option("--junit-xml", type=click.Path(dir_okay=False), help="Write a JUnit XML report for CI.")
@click.option("--report", "html", type=click.Path(dir_okay=False), help="Write a self-contained HTML report.")
@click.option("--summary", type=click.Path(dir_okay=False), help="Write a Markdown summary (CI job summary).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Cases to run at once.")
@click.option("--out", type=click.Path(file_okay=False), help="Generated folder (default: generated/).")
@timeout_option
@seed_option
@click.option("--dask", "dask", metavar="ADDRESS", default=None,
              help="Run the cases on this Dask scheduler, e.g. tcp://host:8786 ('' runs locally).")
@click.option("--dask-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds the whole --dask run may take (default 3600); unfinished cases are errors.")
@click.option("--serve", "serve", is_flag=True, default=False,
              help="Also serve each production model over HTTP and compare its answer (needs nb2prod[serve]).")
@click.option("--models", type=click.Path(file_okay=False), default=None,
              help="Model store for --serve (default: [tool.nb2prod] models, else models/).")
@handles_errors
def test(
    paths: tuple[str, ...],
    parameters: tuple[tuple[str, str], ...],
    parameters_file: str | None,
    rtol: float | None,
    atol: float | None,
    junit_xml: str | None,
    html: str | None,
    summary: str | None,
    jobs: int | None,
    out: str | None,
    timeout: float | None,
    seed: int | None,
    dask: str | None,
    dask_timeout: float | None,
    serve: bool = False,
    models: str | None = None,
) -> None:
    """Prove each notebook's generated pipeline predicts what the notebook predicts."""
    from nb2prod.config import load_config
    from nb2prod.parity.harness import plan_jobs, run_parity
    from nb2prod.report.formats import print_console, write_junit, write_markdown
    from nb2prod.report.html_report import write_html

    config = load_config()
    address = config.dask if dask is None else dask
    run = _dask_runner(address, dask_timeout, config.root) if address else run_parity
    out_dir = Path(out) if out else config.out_dir
    cases, stale = plan_jobs(
        notebook_paths(paths),
        out_dir=out_dir,
        runs_dir=config.root / "runs",
        param_sets=param_sets(parameters, parameters_file),
        sets_by_module=config.parameter_sets,
    )
    console = make_console()
    progress = _progress(make_console(stderr=True))
    with progress or _nothing():
        report = run(
            cases,
            stale=stale,
            rtol=config.rtol if rtol is None else rtol,
            atol=config.atol if atol is None else atol,
            timeout=timeout if timeout is not None else config.timeout,
            seed=seed if seed is not None else config.seed,
            workers=jobs or config.jobs,
            progress=progress or False,
        )
        report.cases.extend(_round_trip_cases(cases, report, timeout or config.timeout, seed or config.seed))
    print_console(report, console)
    for path, write in ((junit_xml, write_junit), (html, write_html), (summary, write_markdown)):
        if path:
            write(report, Path(path))
            console.print(f"wrote {path}")
    code = report.exit_code
    if serve:
        code = max(code, _serving_parity(cases, models, config, rtol, atol, console))
    sys.exit(code)


def _serving_parity(cases: Any, models: str | None, config: Any, rtol: float | None,
                    atol: float | None, console: Any) -> int:
    """``--serve``: each notebook's production model over HTTP against its training outputs."""
    from nb2prod.serve.parity import check_serving

    failed = 0
    for name in dict.fromkeys(case.name for case in cases):
        result = check_serving(name, models=models, rtol=config.rtol if rtol is None else rtol,
                               atol=config.atol if atol is None else atol)
        if result.skipped:
            console.print(f"serve {name}: skipped, {result.skipped}")
        elif result.passed:
            console.print(f"serve {name}: passed, model {result.model_id}, {result.rows} rows over HTTP "
                          "equal the training run's outputs")
        else:
            failed = 1
            console.print(f"serve {name}: FAILED, model {result.model_id}")
            for mismatch in result.mismatches:
                console.print(mismatch.describe(), markup=False)
    return failed


def _dask_runner(address: str, deadline: float | None, root: Path) -> Callable[..., Any]:
    """A stand-in for run_parity that sends the cases to a Dask scheduler (``-j`` does not apply)."""
    from nb2prod.parity.distributed import import_distributed, run_parity_dask

    import_distributed()  # says how to install it before anything runs
    console = make_console(stderr=True)

    def warn(text: str) -> None:
        from rich.markup import escape

        console.print(f"[yellow]warning:[/] {escape(text)}", soft_wrap=True)

    def run(jobs: Any, **options: Any) -> Any:
        keep = ("stale", "rtol", "atol", "timeout", "seed", "progress")
        return run_parity_dask(
            jobs, address=address, root=root, deadline=deadline, warn=warn,
            **{k: v for k, v in options.items() if k in keep},
        )

    return run


def _progress(console: Any) -> Any:
    """One rich progress bar per notebook execution, on a terminal only (CI logs stay clean)."""
    if not console.is_terminal:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    )


def _nothing() -> Any:
    from contextlib import nullcontext

    return nullcontext()



def _round_trip_cases(jobs: Any, report: Any, timeout: float | None, seed: int | None) -> list[Any]:
    """Per notebook with inference steps: its own models, saved and reloaded, predict what it did."""
    import time

    from nb2prod.train.notebook_roundtrip import round_trip_cases

    started = time.perf_counter()
    cases = round_trip_cases(jobs, rtol=report.rtol, atol=report.atol, timeout=timeout, seed=seed)
    report.duration += time.perf_counter() - started
    return cases


COMMANDS = (run, test)
