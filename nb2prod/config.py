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
    "gates": dict,  # [tool.nb2prod.gates.<module or "*">] metric = ">= 0.45" | { max_drop = 0.01 }
    "monitor": dict,  # [tool.nb2prod.monitor] drift, quality and health thresholds
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
    # module name (or "*") -> metric -> its gate rule (see GateRule)
    gates: dict[str, dict[str, GateRule]] = field(default_factory=dict)
    monitor: MonitorSettings = field(default_factory=lambda: MonitorSettings())

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
    if "gates" in values:
        values["gates"] = _gates(values["gates"], pyproject)
    if "monitor" in values:
        values["monitor"] = _monitor(values["monitor"], pyproject)
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


# -- gates and monitoring -------------------------------------------------------------------------
_GATE_KEYS = ("rule", "max_drop", "max_relative_drop", "better")
_GATE_OPS = (">=", "<=", ">", "<")


@dataclass(frozen=True)
class GateRule:
    """One metric's gate: an absolute threshold and/or how far it may fall behind the champion.

    ``better`` says which way is good ("higher" or "lower"); None lets the gate guess from the name.
    """

    metric: str
    op: str | None = None  # ">=", "<=", ">" or "<" (with ``threshold``)
    threshold: float | None = None
    max_drop: float | None = None  # absolute, against the production model's metric
    max_relative_drop: float | None = None  # a fraction of the production model's metric
    better: str | None = None


@dataclass(frozen=True)
class MonitorSettings:
    """``[tool.nb2prod.monitor]``: when ``nb2prod monitor`` calls drift, quality or health a failure.

    Defaults were measured: 200 seeded logs drawn from the reference distribution (10 numeric and 2
    categorical columns) raise a false alarm in at most 5% of them (tests/unit/monitor).
    """

    ks_pvalue: float = 0.01  # a numeric column drifted when KS p < this (Bonferroni over columns) ...
    psi: float = 0.2  # ... and its population stability index is at least this
    chi2_pvalue: float = 0.01  # a categorical column drifted when chi-squared p < this (Bonferroni)
    min_rows: int = 100  # fewer logged rows than this: "not enough data", no verdict
    max_error_rate: float = 0.05  # failed (5xx) or rejected (4xx) share of requests
    max_p95_ms: float = 500.0  # latency
    min_feedback_rows: int = 30  # fewer joined outcomes: quality says "not enough data"
    max_relative_drop: float = 0.1  # live metric vs training metric, when no gate names the metric
    psi_bins: int = 10


_MONITOR_TYPES: dict[str, type | tuple[type, ...]] = {
    "ks_pvalue": (int, float),
    "psi": (int, float),
    "chi2_pvalue": (int, float),
    "min_rows": int,
    "max_error_rate": (int, float),
    "max_p95_ms": (int, float),
    "min_feedback_rows": int,
    "max_relative_drop": (int, float),
    "psi_bins": int,
}


def _monitor(raw: dict[str, Any], pyproject: Path) -> MonitorSettings:
    unknown = sorted(set(raw) - set(_MONITOR_TYPES))
    if unknown:
        raise ConfigError(
            f"unknown key(s) in [tool.nb2prod.monitor]: {', '.join(unknown)}.",
            path=str(pyproject),
            hint=f"known keys: {', '.join(_MONITOR_TYPES)}.",
        )
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, _MONITOR_TYPES[key]) or value < 0:
            raise ConfigError(
                f"[tool.nb2prod.monitor] {key} = {value!r} must be a non-negative "
                f"{_type_names(_MONITOR_TYPES[key])}.",
                path=str(pyproject),
            )
    if raw.get("psi_bins", 10) < 2:
        raise ConfigError("[tool.nb2prod.monitor] psi_bins must be at least 2.", path=str(pyproject))
    return MonitorSettings(**{k: float(v) if isinstance(v, float) else v for k, v in raw.items()})


def _gates(raw: dict[str, Any], pyproject: Path) -> dict[str, dict[str, GateRule]]:
    """``{module: {metric: ">= 0.45" | {max_drop = 0.01, ...}}}`` into :class:`GateRule` objects."""
    example = 'for example: [tool.nb2prod.gates."*"] r2 = ">= 0.45", mae = { max_drop = 2.0 }'
    gates: dict[str, dict[str, GateRule]] = {}
    for module, metrics in raw.items():
        if not isinstance(metrics, dict):
            raise ConfigError(
                f"[tool.nb2prod.gates] {module} must be a table of metric = rule.",
                path=str(pyproject),
                hint=example,
            )
        gates[module] = {
            metric: _gate_rule(f"gates.{module}.{metric}", metric, rule, pyproject, example)
            for metric, rule in metrics.items()
        }
    return gates


def _gate_rule(where: str, metric: str, rule: Any, pyproject: Path, example: str) -> GateRule:
    def bad(reason: str) -> ConfigError:
        return ConfigError(f"[tool.nb2prod] {where} = {rule!r}: {reason}", path=str(pyproject), hint=example)

    table = {"rule": rule} if isinstance(rule, str) else rule
    if not isinstance(table, dict):
        raise bad('a rule is a string like ">= 0.45" or a table like { max_drop = 0.01 }.')
    unknown = sorted(set(table) - set(_GATE_KEYS))
    if unknown:
        raise bad(f"unknown key(s) {', '.join(unknown)}; known keys: {', '.join(_GATE_KEYS)}.")
    op = threshold = None
    if "rule" in table:
        text = table["rule"]
        match = isinstance(text, str) and next((o for o in _GATE_OPS if text.strip().startswith(o)), None)
        if not match:
            raise bad(f"the rule must start with one of {', '.join(_GATE_OPS)} and a number.")
        try:
            threshold = float(text.strip()[len(match):])
        except ValueError:
            raise bad(f"{text.strip()[len(match):].strip()!r} is not a number.") from None
        op = match
    drops = {}
    for key in ("max_drop", "max_relative_drop"):
        value = table.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise bad(f"{key} must be a non-negative number.")
        drops[key] = None if value is None else float(value)
    better = table.get("better")
    if better not in (None, "higher", "lower"):
        raise bad('better must be "higher" or "lower".')
    if op is None and drops["max_drop"] is None and drops["max_relative_drop"] is None:
        raise bad("the table names no rule, max_drop or max_relative_drop.")
    return GateRule(metric, op, threshold, drops["max_drop"], drops["max_relative_drop"], better)
