"""Commands over the model store: train, models, promote, status."""

from __future__ import annotations

import json
import sys

import click

from nb2prod.cli._shared import (
    handles_errors,
    make_console,
    notebook_paths,
    param_file_option,
    param_option,
    param_sets,
    resolve_out_dir,
    seed_option,
    timeout_option,
)

models_option = click.option(
    "--models",
    "models_root",
    type=click.Path(file_okay=False),
    help="Model store (default: [tool.nb2prod] models, else models/).",
)
out_option = click.option(
    "--out", type=click.Path(file_okay=False), help="Generated folder (default: generated/)."
)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@param_option
@param_file_option
@models_option
@out_option
@click.option("--promote", is_flag=True, help="Make the new model the production model when its checks pass.")
@click.option("--rtol", type=float, default=None, help="Round-trip relative tolerance (default 1e-7).")
@click.option("--atol", type=float, default=None, help="Round-trip absolute tolerance (default 0).")
@seed_option
@timeout_option
@handles_errors
def train(
    paths: tuple[str, ...],
    parameters: tuple[tuple[str, str], ...],
    parameters_file: str | None,
    models_root: str | None,
    out: str | None,
    promote: bool,
    rtol: float | None,
    atol: float | None,
    seed: int | None,
    timeout: float | None,
) -> None:
    """Train the current version of each notebook: save its models, card and round-trip result."""
    from nb2prod.config import load_config
    from nb2prod.errors import ModelError
    from nb2prod.read.notebook import find_notebooks
    from nb2prod.train.store import ModelStore, models_dir
    from nb2prod.train.training import train as run_train

    config = load_config()
    store = ModelStore(models_dir(models_root))
    out_dir = resolve_out_dir(out)
    sets = param_sets(parameters, parameters_file) or [("defaults", {})]
    failed = False
    notebooks = find_notebooks(notebook_paths(paths))
    trainable = [nb for nb in notebooks if _saves_models(nb, out_dir, len(notebooks) == 1)]
    if not trainable:
        raise ModelError(
            "none of these notebooks' current versions saves a model (no 'model:VAR' tags).",
            path=", ".join(paths) or None,
            hint="tag the cell that fits the model 'model:VAR' and the prediction step 'inference', "
            "then `nb2prod build`.",
        )
    for notebook in trainable:
        for _set_id, values in sets:
            result = run_train(
                notebook, values, out_dir=out_dir, store=store, promote=promote,
                rtol=config.rtol if rtol is None else rtol, atol=config.atol if atol is None else atol,
                seed=seed if seed is not None else config.seed, timeout=timeout or config.timeout,
                config=config,
            )
            failed |= not result.passed
            _report(result, promote)
    sys.exit(1 if failed else 0)


def _saves_models(notebook: object, out_dir: object, alone: bool) -> bool:
    """Whether to train ``notebook``: one named alone always is (train says why it cannot); in a
    folder, notebooks whose current version tags no model are skipped, saying so. Stale code is
    trained as it stands, with a warning (``nb2prod status`` and ``build --check`` fail on it)."""
    from nb2prod.analyse.planner import module_name
    from nb2prod.store.versions import current_version, read_manifest

    package = out_dir / module_name(notebook)  # type: ignore[operator, arg-type]
    version = current_version(package)
    if not alone and (version is None or not read_manifest(package, version).get("models")):
        click.echo(f"skipped {notebook}: its current version saves no model (no 'model:' tags).", err=True)
        return False
    stale = _staleness(notebook, out_dir) if version else None
    if stale:
        click.echo(f"warning: {notebook}: generated code is stale ({stale}); training {version} as "
                   "built. Run `nb2prod build` to train the notebook as it is now.", err=True)
    return True


def _staleness(notebook: object, out_dir: object) -> str | None:
    from nb2prod.store.build import Prepared, prepare
    from nb2prod.store.versions import staleness

    (item,) = prepare([notebook], out_dir)  # type: ignore[list-item, arg-type]
    return staleness(out_dir, item.plan, item.code_hash) if isinstance(item, Prepared) else None  # type: ignore[arg-type]


def _report(result: object, promote: bool) -> None:
    card = result.card  # type: ignore[attr-defined]
    metrics = ", ".join(f"{k} = {_number(v)}" for k, v in card["metrics"].items()) or "no metrics"
    click.echo(
        f"{card['name']}: model {card['model_id']} from {card['code']['version']} ({metrics}) "
        f"saved in {result.folder}"  # type: ignore[attr-defined]
    )
    trip = card["round_trip"]
    click.echo(f"  round trip: {'passed' if trip['passed'] else 'FAILED: ' + str(trip['reason'])}")
    for line in result.gate_lines:  # type: ignore[attr-defined]
        click.echo(f"  {line}")
    if result.promoted:  # type: ignore[attr-defined]
        before = result.previous  # type: ignore[attr-defined]
        click.echo(f"  promoted: PRODUCTION is now {card['model_id']}" + (f" (was {before})" if before else ""))
    elif promote:
        click.echo("  not promoted: " + ("the round trip failed" if not trip["passed"] else "the gates failed"))


def _number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@click.command()
@click.argument("name")
@models_option
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@handles_errors
def models(name: str, models_root: str | None, as_json: bool) -> None:
    """List the models of NAME: id, code version, created, metrics, data hashes, production."""
    from nb2prod.errors import ModelError
    from nb2prod.train.store import ModelStore, models_dir

    store = ModelStore(models_dir(models_root))
    ids = store.model_ids(name)
    if not ids:
        raise ModelError(f"no models of {name!r} in {store.root}.", hint=f"run `nb2prod train` on the notebook of {name!r}.")
    production = store.production_id(name)
    rows = []
    for model_id in ids:
        card = store.card(name, model_id)
        rows.append({
            "model_id": model_id,
            "code_version": card["code"]["version"],
            "created": card["created"],
            "metrics": card["metrics"],
            "data_files": [{"path": d["path"], "sha256": d.get("sha256")} for d in card["data_files"]],
            "round_trip": card["round_trip"]["passed"],
            "production": model_id == production,
        })
    if as_json:
        click.echo(json.dumps({"name": name, "production": production, "models": rows}, indent=2))
        return
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for column in ("model id", "code", "created", "metrics", "data sha256", "round trip", "production"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["model_id"], row["code_version"], row["created"][:19] + "Z",
            ", ".join(f"{k}={_number(v)}" for k, v in row["metrics"].items()),
            ", ".join(f"{d['path']} {(d['sha256'] or 'missing')[:12]}" for d in row["data_files"]) or "—",
            "passed" if row["round_trip"] else "FAILED",
            "*" if row["production"] else "",
        )
    make_console().print(table)


@click.command()
@click.argument("name")
@click.argument("model_id")
@models_option
@handles_errors
def promote(name: str, model_id: str, models_root: str | None) -> None:
    """Make MODEL_ID the production model of NAME."""
    from nb2prod.train.store import ModelStore, models_dir

    store = ModelStore(models_dir(models_root))
    before = store.promote(name, model_id)
    click.echo(f"{name}: PRODUCTION is now {model_id}" + (f" (was {before})." if before else "."))


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@models_option
@out_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON (for machines).")
@handles_errors
def status(paths: tuple[str, ...], models_root: str | None, out: str | None, as_json: bool) -> None:
    """Code, parameter, data and model freshness of each notebook; exit 1 when a rebuild or
    retrain is due (a scheduled CI job retrains then)."""
    from nb2prod.config import load_config
    from nb2prod.read.notebook import find_notebooks
    from nb2prod.train.status import notebook_status, print_statuses
    from nb2prod.train.store import ModelStore, models_dir

    config = load_config()
    store = ModelStore(models_dir(models_root))
    out_dir = resolve_out_dir(out)
    statuses = [
        notebook_status(path, out_dir=out_dir, store=store, root=config.root)
        for path in find_notebooks(notebook_paths(paths))
    ]
    due = any(not s.ok for s in statuses)
    if as_json:
        click.echo(json.dumps({"due": due, "notebooks": [s.as_json() for s in statuses]}, indent=2, default=repr))
    else:
        print_statuses(statuses, make_console())
    sys.exit(1 if due else 0)


COMMANDS = (train, models, promote, status)
