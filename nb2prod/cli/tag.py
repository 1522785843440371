"""``nb2prod tag NOTEBOOK [--write]``: the tags nb2prod infers for a notebook with no step tags.

It prints them as a table (cell, tags, why, the cell's first line) and, with ``--write``, writes
them into the notebook's cell metadata, where JupyterLab's and VS Code's tag editors show them,
so the data scientist starts from what ``build`` would do and adjusts it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from nb2prod.cli._shared import handles_errors, make_console

if TYPE_CHECKING:
    from nb2prod.analyse.infer import Inference
    from nb2prod.read.notebook import SourceNotebook
    from nb2prod.read.tags import CellTags


@click.command()
@click.argument("notebook", type=click.Path(dir_okay=False))
@click.option("--write", is_flag=True, help="Write the inferred tags into the notebook (metadata only).")
@handles_errors
def tag(notebook: str, write: bool) -> None:
    """Show the tags nb2prod infers for NOTEBOOK; with --write, write them into it."""
    from nb2prod.analyse import infer
    from nb2prod.analyse.planner import analyse, module_name
    from nb2prod.errors import Nb2ProdError, NotebookError
    from nb2prod.read.notebook import load_notebook

    path = Path(notebook)
    if not path.is_file():
        raise NotebookError("no such file.", path=notebook, hint="give the path of a notebook.")
    nb = load_notebook(path)
    if not infer.needs_inference(nb):
        steps = sorted({c.tags.step for c in nb.cells if c.tags.step})
        click.echo(
            f"{nb.display_path} has step tags ({', '.join(steps)}), so nb2prod infers nothing for "
            "it: explicit tags win. Nothing to write."
        )
        return
    found = infer.infer(nb, module_name(nb.path))
    _table(nb, found)
    if found.summary:
        click.echo(f"{nb.display_path}: inferred {'; '.join(found.summary)}.")
    try:
        analyse(nb)
    except Nb2ProdError as err:
        click.echo(f"{click.style('warning:', fg='yellow')} with these tags, `nb2prod build` "
                   f"stops: {err.message}", err=True)
    if not write:
        click.echo("Run again with --write to write these tags into the notebook (cell metadata "
                   "only: code and outputs stay as they are).")
        return
    from nb2prod.read.tag_writer import write_tags

    changed = write_tags(path, found.tags)
    click.echo(f"Wrote tags into {changed} cell{'s' if changed != 1 else ''} of {nb.display_path}.")


def _table(nb: SourceNotebook, found: Inference) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for column in ("cell", "tags", "why", "code"):
        table.add_column(column, overflow="fold")
    for cell in nb.cells:
        own = _own_tags(cell.tags)
        new = list(found.tags.get(cell.index, ()))
        shown = [*own, *[f"[green]{t}[/]" for t in new if t not in own]]
        first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
        why = found.reasons.get(cell.index, "explicit" if own else "")
        table.add_row(str(cell.index), ", ".join(shown) or "-", escape(why), escape(_short(first)))
    make_console().print(table)


def _own_tags(tags: CellTags) -> list[str]:
    """A cell's explicit tags, in the grammar's canonical spelling."""
    own = [role for role in ("parameters", "imports", "functions", "skip") if getattr(tags, role)]
    own += [f"parity:{v}" for v in tags.parity]
    own += [f"metric:{v}" for v in tags.metrics]
    return own


def _short(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


COMMANDS = (tag,)
