"""Gates: may this model become the production model? (MLflow's ``MetricThreshold``, in TOML.)

Two kinds of rule from ``[tool.nb2prod.gates.<module or "*">]``: an absolute threshold
(``r2 = ">= 0.45"``) and a champion/challenger rule (``r2 = { max_drop = 0.01 }``,
``max_relative_drop``) against the production model's card. The first model has no champion: its
champion rules pass with a note. ``nb2prod test`` (the notebook run's metrics), ``nb2prod train``
(before ``--promote``) and ``nb2prod monitor`` (live metrics against the training metric) all ask
:func:`evaluate`, so the three agree on a word.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2prod.config import GateRule

#: Metric names (or parts of them) where a smaller value is the better model.
_LOWER_IS_BETTER = ("mae", "mse", "rmse", "mape", "loss", "error", "brier", "deviance", "hinge")


@dataclass(frozen=True)
class GateResult:
    """One rule checked against one value."""

    metric: str
    rule: str  # ">= 0.45", "max_drop 0.01", "max_relative_drop 5%"
    value: float | None
    passed: bool
    note: str | None = None
    champion: float | None = None  # the production model's value, when there is one
    champion_label: str = "production model"

    def line(self) -> str:
        """``gate r2 >= 0.45: 0.43, failed; production model 0.47`` (every report prints this)."""
        value = "missing" if self.value is None else _num(self.value)
        text = f"gate {self.metric} {self.rule}: {value}, {'passed' if self.passed else 'failed'}"
        if self.champion is not None:
            text += f"; {self.champion_label} {_num(self.champion)}"
        if self.note:
            text += f" ({self.note})"
        return text

    def as_card(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "rule": self.rule,
            "value": self.value,
            "passed": self.passed,
            "note": self.note,
            "champion": self.champion,
        }


@dataclass(frozen=True)
class GateReport:
    """Every rule for one model; ``passed`` decides promotion."""

    results: tuple[GateResult, ...] = ()

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[GateResult]:
        return [r for r in self.results if not r.passed]

    def lines(self) -> list[str]:
        return [r.line() for r in self.results]

    def as_card(self) -> dict[str, Any]:
        """The ``gates`` entry of card.json (CONTRACT.md)."""
        return {"passed": self.passed, "results": [r.as_card() for r in self.results]}


def rules_for(gates: Mapping[str, Mapping[str, GateRule]], module: str) -> list[tuple[GateRule, bool]]:
    """The rules that apply to MODULE: ``"*"`` first, the module's own table overriding a metric.

    Each comes with whether it was named for this module (a module's own rule on a metric its
    notebook never records fails; a ``"*"`` rule on it is skipped, since it was meant for others).
    """
    merged: dict[str, tuple[GateRule, bool]] = {m: (r, False) for m, r in gates.get("*", {}).items()}
    merged.update({m: (r, True) for m, r in gates.get(module, {}).items()})
    return list(merged.values())


def higher_is_better(rule: GateRule) -> bool:
    """``better`` when the rule says, else from the name: errors and losses go down."""
    if rule.better is not None:
        return rule.better == "higher"
    if rule.op in (">=", ">"):
        return True
    if rule.op in ("<=", "<"):
        return False
    name = rule.metric.lower()
    return not any(part in name for part in _LOWER_IS_BETTER)


def evaluate(
    rules: list[tuple[GateRule, bool]],
    metrics: Mapping[str, Any],
    champion: Mapping[str, Any] | None,
    *,
    champion_label: str = "production model",
) -> GateReport:
    """Check METRICS against every rule; CHAMPION is the production model's metrics (None: none yet)."""
    results: list[GateResult] = []
    for rule, own in rules:
        raw = metrics.get(rule.metric)
        value = _number(raw)
        best = _number(champion.get(rule.metric)) if champion is not None else None
        checks = _checks(rule)
        if value is None:
            if raw is None and not own:
                continue  # a "*" rule about a metric this notebook does not record
            why = "not recorded by this run" if raw is None else f"not a number: {raw!r}"
            results += [
                GateResult(rule.metric, text, None, False, why, best, champion_label)
                for text, _ in checks
            ]
            continue
        for text, check in checks:
            results.append(check(rule, value, champion, best, text, champion_label))
    return GateReport(tuple(results))


def production_metrics(root: Path, name: str) -> dict[str, Any] | None:
    """The champion: the metrics in the production model's card, or None when there is none yet."""
    from nb2prod.train.store import ModelStore

    store = ModelStore(root)
    model_id = store.production_id(name)
    if model_id is None:
        return None
    metrics = store.card(name, model_id).get("metrics")
    return dict(metrics) if isinstance(metrics, dict) else {}


def _checks(rule: GateRule) -> list[tuple[str, Any]]:
    checks: list[tuple[str, Any]] = []
    if rule.op is not None:
        checks.append((f"{rule.op} {_num(rule.threshold)}", _absolute))
    if rule.max_drop is not None:
        checks.append((f"max_drop {_num(rule.max_drop)}", _drop))
    if rule.max_relative_drop is not None:
        checks.append((f"max_relative_drop {rule.max_relative_drop:.0%}", _drop))
    return checks


def _absolute(rule: GateRule, value: float, champion: Any, best: float | None, text: str,
              label: str) -> GateResult:
    ok = {
        ">=": value >= rule.threshold,
        "<=": value <= rule.threshold,
        ">": value > rule.threshold,
        "<": value < rule.threshold,
    }[rule.op]
    return GateResult(rule.metric, text, value, bool(ok), None, best, label)


def _drop(rule: GateRule, value: float, champion: Any, best: float | None, text: str,
          label: str) -> GateResult:
    if champion is None:
        return GateResult(rule.metric, text, value, True, f"no {label} yet: the first model passes",
                          None, label)
    if best is None:
        return GateResult(rule.metric, text, value, True, f"the {label} has no {rule.metric}",
                          None, label)
    drop = best - value if higher_is_better(rule) else value - best
    if text.startswith("max_drop"):
        allowed = rule.max_drop or 0.0
        note = f"drop {_num(drop)}" if drop > 0 else None
    else:
        allowed = (rule.max_relative_drop or 0.0) * abs(best)
        note = f"drop {drop / abs(best):.1%}" if drop > 0 and best else None
    return GateResult(rule.metric, text, value, drop <= allowed + 1e-12, note, best, label)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:  # numpy scalars, 0-d arrays
            value = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
    value = float(value)
    return None if math.isnan(value) else value


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
