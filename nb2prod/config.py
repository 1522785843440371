"""Project defaults from ``[tool.nb2prod]`` in pyproject.toml, validated strictly.

Like black and jupytext, an unknown key is an error that lists the known ones: a typo must not silently
fall back to a default in CI.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2prod.errors import ConfigError

KNOWN_KEYS: dict[str, type | tuple[type, ...]] = {
    "notebooks": list,  # paths or globs used when a command gets no PATH
    "out": str,  # where generated packages go (default "generated")
    "rtol": (int, float),
    "atol": (int, float),
    "parameter_sets": (list, dict),  # [{...}] for every notebook, or {module = [{...}]}
    "timeout": (int, float),  # seconds per notebook cell
    "jobs": int,
    "seed": int,
    "dask": str,
    "models": str,  # the model store `nb2prod train` writes (default "models")
    "serve": dict,  # [tool.nb2prod.serve]: max_body_mb, log_max_mb (nb2prod serve)
}
SERVE_KEYS = {"max_body_mb": 50.0, "log_max_mb": 100.0}  # positive numbers, megabytes


@dataclass(frozen=True)
class Config:
    root: Path  # the folder holding pyproject.toml (or the working directory)
    notebooks: tuple[str, ...] = ("notebooks",)
    out: str = "generated"
    rtol: float = 1e-7
    atol: float = 0.0
    # module name (or "*" for every notebook) -> extra parameter sets to test
    parameter_sets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    timeout: float | None = None
    jobs: int = 1
    seed: int | None = None
    dask: str | None = None
    models: str = "models"
    serve: dict[str, float] = field(default_factory=lambda: dict(SERVE_KEYS))

    @property
    def out_dir(self) -> Path:
        return self.root / self.out

    @property
    def models_dir(self) -> Path:
        return self.root / self.models


def find_pyproject(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(start: Path | None = None) -> Config:
    start = (start or Path.cwd()).resolve()
    pyproject = find_pyproject(start)
    if pyproject is None:
        return Config(root=start)
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot parse it: {err}.", path=str(pyproject)) from None
    table = data.get("tool", {}).get("nb2prod", {})
    unknown = sorted(set(table) - set(KNOWN_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown key(s) in [tool.nb2prod]: {', '.join(unknown)}.",
            path=str(pyproject),
            hint=f"known keys: {', '.join(KNOWN_KEYS)}.",
        )
    for key, value in table.items():
        if not isinstance(value, KNOWN_KEYS[key]) or isinstance(value, bool) and key != "seed":
            raise ConfigError(
                f"[tool.nb2prod] {key} = {value!r} has the wrong type.",
                path=str(pyproject),
                hint=f"expected {_type_names(KNOWN_KEYS[key])}.",
            )
    values = dict(table)
    if "notebooks" in values:
        values["notebooks"] = tuple(values["notebooks"])
    if "parameter_sets" in values:
        values["parameter_sets"] = _parameter_sets(values["parameter_sets"], pyproject)
    if "serve" in values:
        values["serve"] = _serve_table(values["serve"], pyproject)
    return Config(root=pyproject.parent, **values)


def _serve_table(table: dict[str, Any], pyproject: Path) -> dict[str, float]:
    unknown = sorted(set(table) - set(SERVE_KEYS))
    if unknown:
        raise ConfigError(f"unknown key(s) in [tool.nb2prod.serve]: {', '.join(unknown)}.",
                          path=str(pyproject), hint=f"known keys: {', '.join(SERVE_KEYS)}.")
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"[tool.nb2prod.serve] {key} = {value!r} must be a positive number of MB.",
                              path=str(pyproject))
    return {**SERVE_KEYS, **{k: float(v) for k, v in table.items()}}


def _parameter_sets(raw: Any, pyproject: Path) -> dict[str, list[dict[str, Any]]]:
    """``[{alpha = 0.3}]`` applies to every notebook; ``{module = [{...}], ...}`` to one module each."""
    by_module = raw if isinstance(raw, dict) else {"*": raw}
    sets: dict[str, list[dict[str, Any]]] = {}
    for module, entries in by_module.items():
        entries = [entries] if isinstance(entries, dict) else entries
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ConfigError(
                f"[tool.nb2prod] parameter_sets.{module} must be a table or a list of tables of "
                "NAME = VALUE.",
                path=str(pyproject),
                hint='for example: parameter_sets = { diabetes_regression = [{ alpha = 0.3 }] }',
            )
        sets[module] = [dict(e) for e in entries]
    return sets


def _type_names(types: type | tuple[type, ...]) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(t.__name__ for t in types)
