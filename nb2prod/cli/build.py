"""Commands over generated code: build, and the versions on disk (versions, rollback, diff, verify)."""

from __future__ import annotations

import sys

import click

from nb2prod.cli._shared import (
    handles_errors,
    make_console,
    notebook_paths,
    raise_unknown_module,
    resolve_out_dir,
    skip_teardown,
)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (default: generated/).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if generated code is stale or missing.")
@click.option("--strict", is_flag=True, help="Unseeded randomness in exported code is an error (exit 2).")
@click.option("--explain", is_flag=True,
              help="Write nothing; show each notebook cell by cell: kept or dropped, and why.")
@handles_errors
def build(paths: tuple[str, ...], out: str | None, check: bool, strict: bool, explain: bool) -> None:
    """Build each tagged notebook under PATHS into a versioned pipeline module."""
    if explain:
        _explain(paths)
        return
    from nb2prod.store.build import build as run_build

    report = run_build(notebook_paths(paths), resolve_out_dir(out), check=check, strict=strict)
    from nb2prod.report.build_listing import TABLE_ROWS, print_rows, print_warnings

    print_warnings(report.warnings)
    print_rows(report, make_console() if len(report.rows) <= TABLE_ROWS else None)
    skip_teardown()
    sys.exit(report.exit_code)


def _explain(paths: tuple[str, ...]) -> None:
    """Each notebook cell by cell; when its analysis fails, the cells' roles, then the error."""
    from pathlib import Path

    from nb2prod.analyse import infer
    from nb2prod.analyse.planner import analyse, module_name
    from nb2prod.errors import Nb2ProdError
    from nb2prod.read.notebook import load_notebook
    from nb2prod.report.build_listing import explain, explain_roles

    for path in notebook_paths(paths):
        nb = load_notebook(Path(path))
        found = infer.infer(nb, module_name(nb.path)) if infer.needs_inference(nb) and nb.cells else None
        try:
            plan = analyse(nb)
        except Nb2ProdError:
            click.echo("\n".join(explain_roles(nb, found)))
            raise
        click.echo("\n".join(explain(plan, found)))


@click.command()
@click.argument("name")
@click.option("--out", type=click.Path(file_okay=False), help="Generated folder (default: generated/).")
@handles_errors
def versions(name: str, out: str | None) -> None:
    """List the versions of generated module NAME."""
    from nb2prod.store.versions import current_version, list_versions, read_manifest

    package = resolve_out_dir(out) / name
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
    make_console().print(table)


@click.command()
@click.argument("name")
@click.argument("version")
@click.option("--out", type=click.Path(file_okay=False), help="Generated folder (default: generated/).")
@click.option("--models", "models_root", type=click.Path(file_okay=False),
              help="Model store (default: [tool.nb2prod] models, else models/).")
@handles_errors
def rollback(name: str, version: str, out: str | None, models_root: str | None) -> None:
    """Make an older VERSION of module NAME current again, and its newest model the production
    model (nothing is deleted)."""
    from nb2prod.store.versions import current_version, list_versions, point_current

    package = resolve_out_dir(out) / name
    if not list_versions(package):
        raise_unknown_module(package)
    before = current_version(package)
    point_current(package, version)
    click.echo(f"{name}: current version is now {current_version(package)} (was {before}).")
    from nb2prod.train.store import ModelStore, models_dir, rollback_production

    click.echo(rollback_production(ModelStore(models_dir(models_root)), name, current_version(package)))


@click.command()
@click.argument("name")
@click.argument("old")
@click.argument("new")
@click.option("--out", type=click.Path(file_okay=False), help="Generated folder (default: generated/).")
@handles_errors
def diff(name: str, old: str, new: str, out: str | None) -> None:
    """Show what changed in module NAME from version OLD to NEW (e.g. v1 v2, or 1 current)."""
    from nb2prod.store.history import diff_versions
    from nb2prod.store.versions import list_versions

    package = resolve_out_dir(out) / name
    if not list_versions(package):
        raise_unknown_module(package)
    result = diff_versions(package, old, new)
    console = make_console()
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


@click.command()
@click.argument("out", required=False, type=click.Path(file_okay=False))
@handles_errors
def verify(out: str | None) -> None:
    """Check that no generated version was edited by hand: re-hash every file its manifest lists."""
    from nb2prod.store.history import verify as run_verify

    report = run_verify(resolve_out_dir(out))
    for repaired in report.repaired:
        click.echo(f"finished an interrupted switch: {repaired}", err=True)
    for problem in report.problems:
        click.echo(str(problem))
    click.echo(report.summary)
    sys.exit(report.exit_code)



COMMANDS = (build, versions, rollback, diff, verify)
