"""The ``nb2prod`` command: a thin click group; each command parses, delegates and prints.

Errors a user can fix (``Nb2ProdError``) are shown as one paragraph with their exit code, never as a
traceback. Heavy libraries load inside the commands, so ``nb2prod --help`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from nb2prod import __version__
from nb2prod.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, Nb2ProdError

F = TypeVar("F", bound=Callable[..., Any])


def _console(stderr: bool = False) -> Any:
    """A rich console; when piped (CI logs), wide enough that tables do not fold."""
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, width=160)
    return console


def handles_errors(command: F) -> F:
    """Turn nb2prod's errors into a clean message and exit code (click's ``exit_code`` habit)."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except Nb2ProdError as err:
            click.echo(f"Error: {err.message}", err=True)
            sys.exit(err.exit_code)
        except KeyboardInterrupt as err:
            word = "Terminated" if _terminated else "Interrupted"
            click.echo(f"{word}: {err}" if str(err) else f"{word}.", err=True)
            sys.exit(EXIT_TERMINATED if _terminated else EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def _out_dir(out: str | None) -> Path:
    from nb2prod.config import load_config

    return Path(out) if out else load_config().out_dir


def _paths(paths: tuple[str, ...]) -> list[Path]:
    if paths:
        return [Path(p) for p in paths]
    from nb2prod.config import load_config

    config = load_config()
    return [config.root / p for p in config.notebooks]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nb2prod")
def cli() -> None:
    """Turn tagged Jupyter notebooks into versioned pipeline modules, and prove they match."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (default: generated/).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if generated code is stale or missing.")
@click.option("--strict", is_flag=True, help="Unseeded randomness in exported code is an error (exit 2).")
@handles_errors
def build(paths: tuple[str, ...], out: str | None, check: bool, strict: bool) -> None:
    """Build each tagged notebook under PATHS into a versioned pipeline module."""
    from nb2prod.store.build import build as run_build

    report = run_build(_paths(paths), _out_dir(out), check=check, strict=strict)
    from nb2prod.report.build_listing import TABLE_ROWS, print_rows, print_warnings

    print_warnings(report.warnings)
    print_rows(report, _console() if len(report.rows) <= TABLE_ROWS else None)
    sys.exit(report.exit_code)


_param_option = click.option(
    "-p",
    "--parameter",
    "parameters",
    nargs=2,
    multiple=True,
    metavar="NAME VALUE",
    help="Set a parameter (repeatable); typed like the parameters cell's default.",
)
_param_file_option = click.option(
    "-f",
    "--parameters-file",
    type=click.Path(dir_okay=False),
    help="YAML: one mapping, a list of mappings, or 'sets: {name: mapping}' (each set is a case).",
)
_timeout_option = click.option(
    "--timeout", type=float, default=None, help="Seconds a notebook cell (or the pipeline) may take."
)
_seed_option = click.option(
    "--seed", type=int, default=None, help="Seed random, numpy.random and PYTHONHASHSEED on both sides."
)


def _param_sets(parameters: tuple[tuple[str, str], ...], parameters_file: str | None) -> list[Any]:
    from nb2prod.execute.params import load_param_sets, param_id

    sets = load_param_sets(parameters_file) if parameters_file else []
    if parameters:
        given = dict(parameters)
        if sets:  # -p overrides what the file says, in every set
            sets = [(set_id, {**values, **given}) for set_id, values in sets]
        else:
            sets = [(param_id(given), given)]
    return sets


@cli.command()
@click.argument("notebook", type=click.Path(dir_okay=False))
@_param_option
@_param_file_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Executed notebook (default: runs/<name>/).")
@_timeout_option
@_seed_option
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
    sets = _param_sets(parameters, parameters_file) or [("defaults", {})]
    console = _console(stderr=True)
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


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@_param_option
@_param_file_option
@click.option("--rtol", type=float, default=None, help="Relative tolerance for floats (default 1e-7).")
@click.option("--atol", type=float, default=None, help="Absolute tolerance for floats (default 0).")
@click.option("--junit-xml", type=click.Path(dir_okay=False), help="Write a JUnit XML report for CI.")
@click.option("--report", "html", type=click.Path(dir_okay=False), help="Write a self-contained HTML report.")
@click.option("--summary", type=click.Path(dir_okay=False), help="Write a Markdown summary (CI job summary).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Cases to run at once.")
@click.option("--out", type=click.Path(file_okay=False), help="Generated folder (default: generated/).")
@_timeout_option
@_seed_option
@click.option("--dask", "dask", metavar="ADDRESS", default=None,
              help="Run the cases on this Dask scheduler, e.g. tcp://host:8786 ('' runs locally).")
@click.option("--dask-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds the whole --dask run may take (default 3600); unfinished cases are errors.")
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
        _paths(paths),
        out_dir=out_dir,
        runs_dir=config.root / "runs",
        param_sets=_param_sets(parameters, parameters_file),
        sets_by_module=config.parameter_sets,
    )
    console = _console()
    progress = _progress(_console(stderr=True))
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
    print_console(report, console)
    for path, write in ((junit_xml, write_junit), (html, write_html), (summary, write_markdown)):
        if path:
            write(report, Path(path))
            console.print(f"wrote {path}")
    sys.exit(report.exit_code)


def _dask_runner(address: str, deadline: float | None, root: Path) -> Callable[..., Any]:
    """A stand-in for run_parity that sends the cases to a Dask scheduler (``-j`` does not apply)."""
    from nb2prod.parity.distributed import import_distributed, run_parity_dask

    import_distributed()  # says how to install it before anything runs
    console = _console(stderr=True)

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


@cli.command()
@click.argument("name")
@click.option("--out", type=click.Path(file_okay=False), help="Generated folder (default: generated/).")
@handles_errors
def versions(name: str, out: str | None) -> None:
    """List the versions of generated module NAME."""
    from nb2prod.store.versions import current_version, list_versions, read_manifest

    package = _out_dir(out) / name
    found = list_versions(package)
    if not found:
        raise_unknown_module(package)
    from rich.table import Table

    current = current_version(package)
    table = Table(show_edge=False, header_style="bold")
    for column in ("version", "created", "source sha256", "code sha256", "current"):
        table.add_column(column)
    for version in found:
        manifest = read_manifest(package, version)
        table.add_row(
            version,
            manifest.get("created", "?"),
            manifest.get("source_sha256", "?")[:12],
            manifest.get("code_sha256", "?")[:12],
            "*" if version == current else "",
        )
    _console().print(table)


@cli.command()
@click.argument("name")
@click.argument("version")
@click.option("--out", type=click.Path(file_okay=False), help="Generated folder (default: generated/).")
@handles_errors
def rollback(name: str, version: str, out: str | None) -> None:
    """Make an older VERSION of module NAME current again (nothing is deleted)."""
    from nb2prod.store.versions import current_version, list_versions, point_current

    package = _out_dir(out) / name
    if not list_versions(package):
        raise_unknown_module(package)
    before = current_version(package)
    point_current(package, version)
    click.echo(f"{name}: current version is now {current_version(package)} (was {before}).")


@cli.command()
@click.argument("name")
@click.argument("old")
@click.argument("new")
@click.option("--out", type=click.Path(file_okay=False), help="Generated folder (default: generated/).")
@handles_errors
def diff(name: str, old: str, new: str, out: str | None) -> None:
    """Show what changed in module NAME from version OLD to NEW (e.g. v1 v2, or 1 current)."""
    from nb2prod.store.history import diff_versions
    from nb2prod.store.versions import list_versions

    package = _out_dir(out) / name
    if not list_versions(package):
        raise_unknown_module(package)
    result = diff_versions(package, old, new)
    console = _console()
    console.print(f"[bold]{name}: {result.old} -> {result.new}[/]")
    if result.identical:
        console.print("No differences.")
        return
    for change in result.changes:
        console.print(f"  {change}", markup=False)
    if result.code and console.is_terminal:
        from rich.syntax import Syntax

        console.print(Syntax(result.code, "diff", theme="ansi_dark", background_color="default"))
    elif result.code:
        click.echo(result.code, nl=False)


@cli.command()
@click.argument("out", required=False, type=click.Path(file_okay=False))
@handles_errors
def verify(out: str | None) -> None:
    """Check that no generated version was edited by hand: re-hash every file its manifest lists."""
    from nb2prod.store.history import verify as run_verify

    report = run_verify(_out_dir(out))
    for repaired in report.repaired:
        click.echo(f"finished an interrupted switch: {repaired}", err=True)
    for problem in report.problems:
        click.echo(str(problem))
    click.echo(report.summary)
    sys.exit(report.exit_code)


def raise_unknown_module(package: Path) -> None:
    from nb2prod.errors import VersionError

    others = sorted(p.parent.name for p in package.parent.glob("*/CURRENT"))
    raise VersionError(
        f"no generated module {package.name!r} in {package.parent}.",
        hint=f"known modules: {', '.join(others)}." if others else "run `nb2prod build` first.",
    )


_terminated = False


def _on_sigterm(signum: int, frame: Any) -> None:
    """A cancelled CI job sends SIGTERM: take Ctrl-C's path, so kernels and pipelines are stopped."""
    global _terminated
    _terminated = True
    raise KeyboardInterrupt


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _on_sigterm)
    cli(prog_name="nb2prod")
