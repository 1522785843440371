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
from nb2prod.errors import EXIT_INTERRUPTED, Nb2ProdError

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
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)

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
@handles_errors
def build(paths: tuple[str, ...], out: str | None, check: bool) -> None:
    """Build each tagged notebook under PATHS into a versioned pipeline module."""
    from nb2prod.build import build as run_build

    report = run_build(_paths(paths), _out_dir(out), check=check)
    console = _console()
    for warning in report.warnings:
        _console(stderr=True).print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    from rich.table import Table

    table = Table(title=None, show_edge=False, header_style="bold")
    for column in ("notebook", "module", "steps", "parameters", "parity", "version", "status"):
        table.add_column(column)
    for row in report.rows:
        style = "red" if row.status.startswith("stale") else "green" if row.status in ("new", "updated") else ""
        table.add_row(
            row.notebook,
            row.name,
            " → ".join(row.steps),
            ", ".join(row.parameters) or "-",
            ", ".join(row.parity) or "-",
            row.version or "-",
            f"[{style}]{row.status}[/]" if style else row.status,
        )
    console.print(table)
    if check:
        stale = report.stale
        console.print(
            f"{len(stale)} of {len(report.rows)} generated modules are stale; run `nb2prod build`."
            if stale
            else f"All {len(report.rows)} generated modules are current."
        )
    sys.exit(report.exit_code)


@cli.command()
@click.argument("name")
@click.option("--out", type=click.Path(file_okay=False), help="Generated folder (default: generated/).")
@handles_errors
def versions(name: str, out: str | None) -> None:
    """List the versions of generated module NAME."""
    from nb2prod.versions import current_version, list_versions, read_manifest

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
    from nb2prod.versions import current_version, list_versions, point_current

    package = _out_dir(out) / name
    if not list_versions(package):
        raise_unknown_module(package)
    before = current_version(package)
    point_current(package, version)
    click.echo(f"{name}: current version is now {version} (was {before}).")


def raise_unknown_module(package: Path) -> None:
    from nb2prod.errors import VersionError

    others = sorted(p.parent.name for p in package.parent.glob("*/CURRENT"))
    raise VersionError(
        f"no generated module {package.name!r} in {package.parent}.",
        hint=f"known modules: {', '.join(others)}." if others else "run `nb2prod build` first.",
    )


def main() -> None:
    cli(prog_name="nb2prod")
