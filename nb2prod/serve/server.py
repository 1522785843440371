"""Start uvicorn on the production model: verify, load, bind, announce, serve until SIGTERM.

The artefact is verified against its card and loaded in this process before anything listens, so a
tampered model stops ``serve`` with exit 1 and a model that cannot load stops it with its reason.
With ``--workers N`` uvicorn's supervisor spawns N processes that share the bound socket; each one
re-reads the options from ``NB2PROD_SERVE_OPTIONS`` (never the token itself: the name of the
variable that holds it) and loads the model again. SIGTERM drains the in-flight requests, closes the
logs and exits 0.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nb2prod.errors import UsageError

OPTIONS_ENV = "NB2PROD_SERVE_OPTIONS"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class ServeOptions:
    name: str
    models: str | None = None  # --models DIR, else [tool.nb2prod] models, else models/
    model_id: str | None = None  # --model ID, else models/<name>/PRODUCTION
    host: str = "127.0.0.1"
    port: int = 8000  # 0 picks a free port, announced on stdout
    workers: int = 1
    log: str | None = None  # default models/<name>/logs/predictions.jsonl
    token_env: str | None = None
    max_body_mb: float = 50.0
    log_max_mb: float = 100.0
    project: str | None = None  # where generated/ is (the project root); default: from the config


def serve_defaults() -> dict[str, float]:
    """``[tool.nb2prod.serve]``: ``max_body_mb``, ``log_max_mb`` (validated by ``nb2prod.config``)."""
    from nb2prod.config import load_config

    return load_config().serve


def token_from(options: ServeOptions) -> str | None:
    if not options.token_env:
        return None
    token = os.environ.get(options.token_env, "").strip()
    if not token:
        raise UsageError(
            f"--token-env {options.token_env}: that environment variable is not set or empty.",
            hint=f"export {options.token_env}=<a long random secret>, e.g. `export {options.token_env}=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')`.",
        )
    return token


def load_model(options: ServeOptions) -> tuple[Any, Path]:
    """Verify and load the model ``serve`` will use; also where its store is."""
    from nb2prod.train.store import ModelStore, models_dir

    root = models_dir(options.models)
    store = ModelStore(root)
    model_id = options.model_id or store.production_id(options.name)
    if model_id is None:
        from nb2prod.errors import ServeError

        known = store.model_ids(options.name) if (root / options.name).is_dir() else []
        raise ServeError(
            f"{options.name!r} has no production model in {root}.",
            hint=(f"promote one of {', '.join(known)} with `nb2prod promote {options.name} ID`, or pass --model ID."
                  if known else f"train one first: `nb2prod train notebooks/{options.name}.ipynb --promote`."),
        )
    store.verify(options.name, model_id)  # ArtefactTampered, exit 1, names the file
    return store.load(options.name, model_id), root


def log_path(options: ServeOptions, root: Path) -> Path:
    return Path(options.log) if options.log else root / options.name / "logs" / "predictions.jsonl"


def build_app(options: ServeOptions, model: Any, root: Path) -> Any:
    from nb2prod.serve.app import AppSettings, create_app
    from nb2prod.serve.log import PredictionLog

    log = PredictionLog(log_path(options, root), max_bytes=int(options.log_max_mb * 2**20))
    settings = AppSettings(token=token_from(options), max_body_bytes=int(options.max_body_mb * 2**20), log=log)
    return create_app(model, settings)


def worker_app() -> Any:
    """The app factory each ``--workers`` process imports (uvicorn ``factory=True``)."""
    options = ServeOptions(**json.loads(os.environ[OPTIONS_ENV]))
    if options.project:
        os.chdir(options.project)
    model, root = load_model(options)
    return build_app(options, model, root)


def serve(options: ServeOptions, announce: Any = print, warn: Any = None) -> None:
    """Serve until SIGTERM or Ctrl-C; ``announce`` gets the one line saying where."""
    import uvicorn

    warn = warn or (lambda text: print(f"warning: {text}", file=sys.stderr, flush=True))
    token = token_from(options)
    if options.host not in LOOPBACK and token is None:
        warn(f"serving on {options.host} with no --token-env: anyone who can reach this port can "
             "call the model and read its metadata.")
    model, root = load_model(options)
    card = model.card
    options.model_id = str(card["model_id"])  # the workers serve this one even if PRODUCTION moves
    options.models = str(root)
    options.project = options.project or os.getcwd()
    common = dict(host=options.host, port=options.port, log_level="warning", access_log=False,
                  timeout_graceful_shutdown=10, server_header=False,
                  timeout_keep_alive=75)  # longer than a load balancer's idle timeout (60 s)
    if options.workers > 1:
        config = uvicorn.Config("nb2prod.serve.server:worker_app", factory=True,
                                workers=options.workers, **common)
    else:
        config = uvicorn.Config(build_app(options, model, root), **common)
    try:
        sock = config.bind_socket()
    except SystemExit:  # uvicorn has logged why (address in use, no such address) and exits 1
        from nb2prod.errors import ServeError

        raise ServeError(f"cannot listen on {options.host}:{options.port}.",
                         hint="choose another --port (0 picks a free one) or stop what holds it.") from None
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    announce(f"serving {options.name} model {card['model_id']} (code {card['code']['version']}) on "
             f"http://{shown}:{port} with {options.workers} worker(s); prediction log "
             f"{log_path(options, root)}")
    # uvicorn drains the requests in flight on SIGTERM, then re-raises it: a clean stop, exit 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    if options.workers <= 1:
        uvicorn.Server(config).run(sockets=[sock])
        return
    from uvicorn.supervisors import Multiprocess

    from nb2prod.serve.metrics import MULTIPROC_ENV

    metrics_dir = tempfile.mkdtemp(prefix="nb2prod-metrics-")
    os.environ[MULTIPROC_ENV] = metrics_dir
    os.environ[OPTIONS_ENV] = json.dumps(asdict(options))
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        os.environ.pop(MULTIPROC_ENV, None)
        os.environ.pop(OPTIONS_ENV, None)
