"""Commands that put a model in front of consumers: serve (HTTP) and bundle (a deployable folder)."""

from __future__ import annotations

import sys

import click

from nb2prod.cli._shared import handles_errors

models_option = click.option(
    "--models", type=click.Path(file_okay=False), default=None,
    help="Model store (default: [tool.nb2prod] models, else models/).",
)


@click.command()
@click.argument("name")
@models_option
@click.option("--model", "model_id", default=None, help="Serve this model id instead of PRODUCTION.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port; 0 picks a free one (printed).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.option("--log", "log", type=click.Path(dir_okay=False), default=None,
              help="Prediction log (default models/<name>/logs/predictions.jsonl).")
@click.option("--token-env", metavar="VAR", default=None,
              help="Require 'Authorization: Bearer $VAR' on every route but /health.")
@click.option("--max-body-mb", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Largest request body (default 50, [tool.nb2prod.serve] max_body_mb).")
@click.option("--log-max-mb", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Rotate the prediction log past this size (default 100).")
@handles_errors
def serve(name: str, models: str | None, model_id: str | None, host: str, port: int, workers: int,
          log: str | None, token_env: str | None, max_body_mb: float | None,
          log_max_mb: float | None) -> None:
    """Serve NAME's production model over HTTP: /predict, /feedback, /health, /metadata, /metrics."""
    from nb2prod.serve.server import ServeOptions, serve_defaults
    from nb2prod.serve.server import serve as run_server

    defaults = serve_defaults()
    options = ServeOptions(
        name=name, models=models, model_id=model_id, host=host, port=port, workers=workers, log=log,
        token_env=token_env, max_body_mb=max_body_mb or defaults.get("max_body_mb", 50.0),
        log_max_mb=log_max_mb or defaults.get("log_max_mb", 100.0),
    )
    run_server(options, announce=lambda text: click.echo(text) or sys.stdout.flush())
    click.echo("stopped.", err=True)


@click.command()
@click.argument("name")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True, help="Folder to write.")
@models_option
@click.option("--model", "model_id", default=None, help="Bundle this model id instead of PRODUCTION.")
@handles_errors
def bundle(name: str, out: str, models: str | None, model_id: str | None) -> None:
    """Write a deployable folder: generated code, model, pinned requirements, serve.py, Dockerfile."""
    from pathlib import Path

    from nb2prod.serve.bundle import write_bundle

    result = write_bundle(name, Path(out), models=models, model_id=model_id)
    click.echo(f"wrote {result.out}: {name} model {result.model_id} (code {result.version}), "
               f"{result.requirements} pinned requirements")
    click.echo(f"  run: pip install -r {result.out}/requirements.txt && python {result.out}/serve.py --port 8000")


COMMANDS = (serve, bundle)
