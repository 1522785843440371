"""The ``nb2prod`` command: a thin click group; each command parses, delegates and prints.

One module per command group registers its ``COMMANDS`` here: ``build`` (build and the versions on
disk), ``parity`` (run, test), ``tag`` (tag). Heavy libraries load inside the commands, so ``nb2prod --help`` stays fast.
"""

from __future__ import annotations

import click

from nb2prod import __version__
from nb2prod.cli import build, parity, serve, tag, train
from nb2prod.cli import monitor as monitor_cli


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nb2prod")
def cli() -> None:
    """Turn tagged Jupyter notebooks into versioned pipeline modules, and prove they match."""


for _module in (build, parity, train, serve, monitor_cli, tag):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    import signal

    from nb2prod.cli._shared import exit_now_if_done, on_sigterm

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        cli(prog_name="nb2prod")
    except SystemExit as done:
        exit_now_if_done(done.code)
        raise
