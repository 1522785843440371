"""What every command shares: the console, error handling, the common options, where things are.

Errors a user can fix (``Nb2ProdError``) are shown as one paragraph with their exit code, never as a
traceback (click's ``exit_code`` habit). Only click is imported here; heavy libraries load inside commands.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from nb2prod.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, Nb2ProdError

F = TypeVar("F", bound=Callable[..., Any])

_terminated = False  # set by the SIGTERM handler: a cancelled CI job, not a Ctrl-C


def on_sigterm(signum: int, frame: Any) -> None:
    """A cancelled CI job sends SIGTERM: take Ctrl-C's path, so kernels and pipelines are stopped."""
    global _terminated
    _terminated = True
    raise KeyboardInterrupt



_skip_teardown = False


def skip_teardown() -> None:
    """Let ``nb2prod`` end without tearing the interpreter down once this command is done: a build
    of a hundred notebooks holds their syntax trees, and freeing them object by object at exit took
    a tenth of the build. Only the console script acts on it (``main``); everything is on disk and
    both streams are flushed first."""
    global _skip_teardown
    _skip_teardown = True


def exit_now_if_done(code: object) -> None:
    """``os._exit(code)`` when the command asked for it (:func:`skip_teardown`), else nothing."""
    if not _skip_teardown:
        return
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


def make_console(stderr: bool = False) -> Any:
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


def resolve_out_dir(out: str | None) -> Path:
    from nb2prod.config import load_config

    return Path(out) if out else load_config().out_dir


def notebook_paths(paths: tuple[str, ...]) -> list[Path]:
    if paths:
        return [Path(p) for p in paths]
    from nb2prod.config import load_config

    config = load_config()
    return [config.root / p for p in config.notebooks]


param_option = click.option(
    "-p",
    "--parameter",
    "parameters",
    nargs=2,
    multiple=True,
    metavar="NAME VALUE",
    help="Set a parameter (repeatable); typed like the parameters cell's default.",
)
param_file_option = click.option(
    "-f",
    "--parameters-file",
    type=click.Path(dir_okay=False),
    help="YAML: one mapping, a list of mappings, or 'sets: {name: mapping}' (each set is a case).",
)
timeout_option = click.option(
    "--timeout", type=float, default=None, help="Seconds a notebook cell (or the pipeline) may take."
)
seed_option = click.option(
    "--seed", type=int, default=None, help="Seed random, numpy.random and PYTHONHASHSEED on both sides."
)


def param_sets(parameters: tuple[tuple[str, str], ...], parameters_file: str | None) -> list[Any]:
    from nb2prod.execute.params import load_param_sets, param_id

    sets = load_param_sets(parameters_file) if parameters_file else []
    if parameters:
        given = dict(parameters)
        if sets:  # -p overrides what the file says, in every set
            sets = [(set_id, {**values, **given}) for set_id, values in sets]
        else:
            sets = [(param_id(given), given)]
    return sets



def raise_unknown_module(package: Path) -> None:
    from nb2prod.errors import VersionError

    others = sorted(p.parent.name for p in package.parent.glob("*/CURRENT"))
    raise VersionError(
        f"no generated module {package.name!r} in {package.parent}.",
        hint=f"known modules: {', '.join(others)}." if others else "run `nb2prod build` first.",
    )
