"""``nb2prod monitor``: the serving logs against the production model's card; exit 1 to retrain."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from nb2prod.cli._shared import handles_errors


@click.command()
@click.argument("name")
@click.option("--models", "models", type=click.Path(file_okay=False), default=None,
              help="Models folder (default: [tool.nb2prod] models, else models/).")
@click.option("--log", "logs", type=click.Path(dir_okay=False), multiple=True,
              help="Prediction log (repeatable; rotated .1, .2, ... are read too). "
                   "Default: models/NAME/logs/predictions.jsonl.")
@click.option("--since", default=None, help="Only records at or after this UTC date or time.")
@click.option("--report", "html", type=click.Path(dir_okay=False), help="Write a self-contained HTML report.")
@click.option("--summary", type=click.Path(dir_okay=False), help="Write a Markdown summary (CI job summary).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON on stdout.")
@click.option("--export-inputs", type=click.Path(dir_okay=False),
              help="Write the logged payloads (with outcomes where known) as a parquet file.")
@handles_errors
def monitor(
    name: str,
    models: str | None,
    logs: tuple[str, ...],
    since: str | None,
    html: str | None,
    summary: str | None,
    as_json: bool,
    export_inputs: str | None,
) -> None:
    """Drift, live quality and health of NAME's production model; exit 1 when it is time to retrain."""
    from nb2prod.config import load_config
    from nb2prod.monitor.logs import parse_since
    from nb2prod.monitor.run import monitor as run_monitor
    from nb2prod.monitor.run import write_json
    from nb2prod.monitor.summary import console_lines, write_markdown
    from nb2prod.train.gates import rules_for
    from nb2prod.train.store import models_dir

    config = load_config()
    root = models_dir(models)
    report = run_monitor(
        name, root, [Path(p) for p in logs] or None, since=parse_since(since),
        settings=config.monitor, rules=rules_for(config.gates, name),
    )
    out = sys.stderr if as_json else sys.stdout
    for line in console_lines(report):
        click.echo(line, file=out)
    if html:
        from nb2prod.monitor.report_html import write_html

        write_html(report, Path(html))
        click.echo(f"wrote {html}", file=out)
    if summary:
        write_markdown(report, Path(summary))
        click.echo(f"wrote {summary}", file=out)
    if export_inputs:
        from nb2prod.monitor.export import export_inputs as export

        rows = export(report, Path(export_inputs))
        click.echo(f"wrote {export_inputs} ({rows} rows)", file=out)
    if as_json:
        click.echo(write_json(report, None))
    sys.exit(report.exit_code)


COMMANDS = (monitor,)
