"""``nb2prod bundle``: one folder that serves the model anywhere Python runs, or as a container.

The folder holds the generated version that trained the model (and only that one, made current), the
model folder with its card, a copy of nb2prod itself (serving needs ``nb2prod.serve`` and the store,
and nb2prod need not be on the target's index), ``requirements.txt`` pinned to the versions installed
here (the pipeline's imports, the card's packages and the server's stack, with their dependencies),
``serve.py`` (also ``python DIR``) and a ``Dockerfile``. It is staged beside ``--out`` and renamed
into place, so a failed bundle leaves nothing.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from nb2prod.errors import ServeError

# What the serving path imports besides the pipeline's own packages.
SERVER_STACK = ("fastapi", "uvicorn", "uvloop", "httptools", "orjson", "prometheus-client", "pydantic", "skops",
                "numpy", "pandas", "click", "filelock", "rich")


@dataclass
class Bundle:
    out: Path
    model_id: str
    version: str
    requirements: int


def write_bundle(name: str, out: Path, models: str | None = None, model_id: str | None = None) -> Bundle:
    from nb2prod.serve.server import ServeOptions
    from nb2prod.train.store import ModelStore, models_dir

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ServeError(f"--out {out} already exists and is not empty.",
                         hint="choose a new folder; a bundle never writes over files.")
    root = models_dir(models)
    store = ModelStore(root)
    model_id = model_id or store.production_id(name)
    if model_id is None:
        raise ServeError(f"{name!r} has no production model in {root}.",
                         hint=f"pass --model ID, or promote one with `nb2prod promote {name} ID`.")
    store.verify(name, model_id)
    card = store.card(name, model_id)
    code = card["code"]
    version = code["version"]
    generated = Path(code.get("out_dir") or "generated")
    source_version = generated / name / version
    if not source_version.is_dir():
        raise ServeError(f"{source_version} is missing: the code version that trained {model_id}.",
                         hint="run the bundle from the project root (where generated/ is).")
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        _copy_code(stage, generated, name, version)
        shutil.copytree(root / name / model_id, stage / "models" / name / model_id,
                        ignore=shutil.ignore_patterns("logs"))
        (stage / "models" / name / "PRODUCTION").write_text(model_id + "\n")
        import nb2prod

        shutil.copytree(Path(nb2prod.__file__).parent, stage / "nb2prod",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        pins = requirements(source_version / "requirements.txt", card.get("packages") or {})
        (stage / "requirements.txt").write_text(
            f"# {name} model {model_id} (code {version}): pinned to what trained and served it here.\n"
            + "".join(f"{pin}\n" for pin in pins))
        (stage / "serve.py").write_text(_serve_py(name, model_id, version, ServeOptions(name=name)))
        (stage / "__main__.py").write_text('"""``python DIR``: the same as ``python DIR/serve.py``."""\n\n'
                                           "import runpy\nimport os\n\nrunpy.run_path(os.path.join("
                                           "os.path.dirname(os.path.abspath(__file__)), 'serve.py'), "
                                           "run_name='__main__')\n")
        (stage / "Dockerfile").write_text(_dockerfile())
        # Its own project root: the card's generated/ and models/ resolve here, wherever it is put.
        (stage / "pyproject.toml").write_text(
            f'# Written by `nb2prod bundle`: this folder is the project root of {name}\'s server.\n'
            '[tool.nb2prod]\nout = "generated"\nmodels = "models"\n')
        (stage / ".dockerignore").write_text("**/__pycache__\nmodels/*/logs\n")
        stage.chmod(0o755)
        if out.exists():
            out.rmdir()
        stage.rename(out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return Bundle(out=out, model_id=model_id, version=version, requirements=len(pins))


def _copy_code(stage: Path, generated: Path, name: str, version: str) -> None:
    from nb2prod.store.versions import pointer_files

    package = stage / "generated" / name
    shutil.copytree(generated / name / version, package / version,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(generated / "__init__.py", stage / "generated" / "__init__.py")
    for file, text in pointer_files(package, version).items():
        (package / file).write_text(text)


def _dist_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0]


def requirements(pipeline_requirements: Path, packages: dict[str, str]) -> list[str]:
    """``name==version`` for the pipeline's imports, the card's packages and the server, with deps."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    roots: list[str] = []
    if pipeline_requirements.is_file():
        roots += [_dist_name(line) for line in pipeline_requirements.read_text().splitlines()
                  if line.strip() and not line.startswith("#")]
    roots += list(packages) + list(SERVER_STACK)
    environment = {**default_environment(), "extra": ""}
    pins: dict[str, str] = {}
    todo = list(roots)
    while todo:
        wanted = todo.pop()
        try:
            dist = metadata.distribution(wanted)
        except metadata.PackageNotFoundError:
            continue  # an optional part of the stack (uvloop on Windows) or a stdlib name
        key = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        if key in pins:
            continue
        pins[key] = dist.version
        for raw in dist.requires or []:
            requirement = Requirement(raw)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                todo.append(requirement.name)
    return [f"{key}=={version}" for key, version in sorted(pins.items())]


def _serve_py(name: str, model_id: str, version: str, defaults: object) -> str:
    return f'''"""Serve {name} model {model_id} (code {version}); written by `nb2prod bundle`.

    pip install -r requirements.txt
    python serve.py --port 8000 [--host 0.0.0.0] [--workers 2] [--token-env NB2PROD_TOKEN] [--log FILE]
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.chdir(HERE)  # the card names generated/ relative to the project root: here

from nb2prod.serve.server import ServeOptions, serve  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8000)
parser.add_argument("--workers", type=int, default=1)
parser.add_argument("--token-env", default=os.environ.get("NB2PROD_TOKEN_ENV"))
parser.add_argument("--log", default=None, help="default models/{name}/logs/predictions.jsonl")
parser.add_argument("--max-body-mb", type=float, default=50.0)
parser.add_argument("--log-max-mb", type=float, default=100.0)
args = parser.parse_args()
try:
    serve(ServeOptions(name={name!r}, models=os.path.join(HERE, "models"), model_id={model_id!r},
                       host=args.host, port=args.port, workers=args.workers, log=args.log,
                       token_env=args.token_env, max_body_mb=args.max_body_mb,
                       log_max_mb=args.log_max_mb, project=HERE),
          announce=lambda text: print(text, flush=True))
except Exception as err:
    if hasattr(err, "exit_code"):  # nb2prod's own errors: one paragraph, no traceback
        print(f"Error: {{err}}", file=sys.stderr)
        sys.exit(err.exit_code)
    raise
'''


def _dockerfile() -> str:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"""# Written by `nb2prod bundle`.  docker build -t model . && docker run -p 8000:8000 -e NB2PROD_TOKEN=... model
FROM python:{python}-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system --create-home nb2prod && chown -R nb2prod /app/models
USER nb2prod
ENV NB2PROD_TOKEN_ENV=NB2PROD_TOKEN
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
CMD ["python", "serve.py", "--host", "0.0.0.0", "--port", "8000"]
"""
