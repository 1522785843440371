"""Live quality: the card's metrics recomputed on ``/feedback`` outcomes joined by request id.

The card's ``metric_functions`` say which function computed each metric from which truth and
prediction (train recorded them); without them a table maps common metric names to
scikit-learn functions. Only ``sklearn.metrics`` functions are imported from a card: a card is a
file on disk, and what it names is imported. The live value is then judged by the gates (absolute
rules, and champion rules with the model's own training metric as the champion), or, for a metric
no gate names, by ``max_relative_drop`` against the training metric.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from typing import Any

from nb2prod.config import GateRule, MonitorSettings
from nb2prod.monitor.health import bucket_width
from nb2prod.train.gates import GateResult, evaluate, higher_is_better

#: name -> (sklearn.metrics function, keyword arguments)
_KNOWN: dict[str, tuple[str, dict[str, Any]]] = {
    "r2": ("r2_score", {}),
    "mae": ("mean_absolute_error", {}),
    "mse": ("mean_squared_error", {}),
    "rmse": ("root_mean_squared_error", {}),
    "mape": ("mean_absolute_percentage_error", {}),
    "median_ae": ("median_absolute_error", {}),
    "explained_variance": ("explained_variance_score", {}),
    "accuracy": ("accuracy_score", {}),
    "acc": ("accuracy_score", {}),
    "balanced_accuracy": ("balanced_accuracy_score", {}),
    "f1": ("f1_score", {"average": "macro"}),
    "f1_macro": ("f1_score", {"average": "macro"}),
    "precision": ("precision_score", {"average": "macro", "zero_division": 0}),
    "recall": ("recall_score", {"average": "macro", "zero_division": 0}),
}
_BOOTSTRAP = 400
_TAIL = 5.0  # percent: a failed gate must also fail at the bootstrap's optimistic 95th percentile
_PREFIXES = ("test_", "val_", "valid_", "eval_")
_SUFFIXES = ("_score", "_test")


@dataclass
class MetricQuality:
    """One metric, live against training."""

    metric: str
    training: float | None
    live: float | None
    function: str | None
    gates: list[GateResult] = field(default_factory=list)
    over_time: list[tuple[str, float, int]] = field(default_factory=list)  # (bucket, value, rows)
    note: str | None = None

    @property
    def failed(self) -> bool:
        return any(not g.passed for g in self.gates)

    def as_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "training": self.training, "live": self.live,
            "function": self.function, "failed": self.failed, "note": self.note,
            "gates": [g.as_card() | {"line": g.line()} for g in self.gates],
            "over_time": [{"start": h, "value": v, "rows": n} for h, v, n in self.over_time],
        }


@dataclass
class Quality:
    status: str  # ok | degraded | not enough data | no feedback
    rows: int  # predicted rows with a known outcome
    requests: int
    metrics: list[MetricQuality] = field(default_factory=list)
    reason: str = ""
    unmatched_feedback: int = 0  # feedback whose request id is not in the logs read
    width: str = "hour"  # of each point of MetricQuality.over_time

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "rows": self.rows, "requests": self.requests,
                "reason": self.reason, "over_time_bucket": self.width, "unmatched_feedback": self.unmatched_feedback,
                "metrics": [m.as_json() for m in self.metrics]}


def metric_function(card: dict[str, Any], metric: str) -> tuple[Any, str, str | None] | None:
    """(callable, its dotted name, the output it reads or None) for METRIC, or None."""
    spec = (card.get("metric_functions") or {}).get(metric) or {}
    dotted = spec.get("function")
    if isinstance(dotted, str) and dotted.startswith("sklearn.metrics."):
        module, _, name = dotted.rpartition(".")
        try:
            return getattr(importlib.import_module(module), name), dotted, spec.get("prediction")
        except (ImportError, AttributeError):
            pass
    key = metric.lower()
    for prefix in _PREFIXES:
        key = key.removeprefix(prefix)
    for suffix in _SUFFIXES:
        key = key.removesuffix(suffix)
    if key not in _KNOWN:
        return None
    name, kwargs = _KNOWN[key]
    import sklearn.metrics

    function = getattr(sklearn.metrics, name)

    def call(truth: Any, prediction: Any) -> float:
        return float(function(truth, prediction, **kwargs))

    return call, f"sklearn.metrics.{name}", spec.get("prediction")


def live_quality(
    card: dict[str, Any],
    outputs: Any,
    keys: Any,
    feedback: dict[str, list[Any]],
    rules: list[tuple[GateRule, bool]],
    settings: MonitorSettings,
) -> Quality:
    """Join outcomes to predicted rows, recompute each card metric, judge it."""
    import pandas as pd

    joined = _join(keys, feedback)
    known = set(keys["request_id"]) if len(keys) else set()
    unmatched = sum(1 for r in feedback if r not in known)
    rows = int(joined.notna().sum())
    requests = len({r for r in feedback if r in known})
    quality = Quality("ok", rows, requests, unmatched_feedback=unmatched)
    if not feedback or rows == 0:
        quality.status = "no feedback"
        quality.reason = "no /feedback outcome matches a logged prediction"
        return quality
    if rows < settings.min_feedback_rows:
        quality.status = "not enough data"
        quality.reason = f"{rows} rows with outcomes, fewer than min_feedback_rows {settings.min_feedback_rows}"
        return quality
    mask = joined.notna().to_numpy()
    truth = joined[mask].tolist()
    times = pd.to_datetime(keys["time"][mask], utc=True)
    seconds, quality.width = bucket_width([times.min(), times.max()])
    hours = times.dt.floor(f"{seconds}s").dt.strftime("%Y-%m-%d %H:%M:%S").tolist()
    training = card.get("metrics") or {}
    gated = {rule.metric: (rule, own) for rule, own in rules}
    for metric in training:
        found = metric_function(card, metric)
        if found is None:
            quality.metrics.append(MetricQuality(metric, _num(training[metric]), None, None,
                                                 note="no known way to recompute it from outcomes"))
            continue
        function, dotted, target = found
        column = target if target in outputs.columns else (outputs.columns[0] if len(outputs.columns) else None)
        if column is None:
            continue
        predicted = outputs[column][mask].tolist()
        result = MetricQuality(metric, _num(training[metric]), None, dotted)
        try:
            result.live = float(function(truth, predicted))
        except (ValueError, TypeError) as err:
            result.note = f"cannot compute: {err}"
            quality.metrics.append(result)
            continue
        result.over_time = _over_time(function, truth, predicted, hours)
        rule = gated.get(metric, (GateRule(metric, max_relative_drop=settings.max_relative_drop), True))
        report = evaluate([rule], {metric: result.live}, training, champion_label="training")
        result.gates = [_within_noise(g, rule[0], function, truth, predicted) for g in report.results]
        quality.metrics.append(result)
    failed = [m for m in quality.metrics if m.failed]
    if failed:
        quality.status = "degraded"
        quality.reason = "; ".join(g.line() for m in failed for g in m.gates if not g.passed)
    return quality


def _within_noise(gate: GateResult, rule: GateRule, function: Any, truth: list[Any],
                  predicted: list[Any]) -> GateResult:
    """A failed gate stands only if the metric's optimistic bound fails it too.

    The bound is the 95th (or 5th, for lower-is-better) percentile of a seeded bootstrap of
    the live rows: a few hundred outcomes measure a metric to a few percent, and a gate that
    fails by less than that would page people about noise.
    """
    import numpy as np

    if gate.passed or gate.value is None:
        return gate
    rng = np.random.default_rng(0)
    truth_a, predicted_a = np.asarray(truth, dtype=object), np.asarray(predicted, dtype=object)
    values = []
    for _ in range(_BOOTSTRAP):
        pick = rng.integers(0, len(truth_a), len(truth_a))
        try:
            values.append(float(function(truth_a[pick].tolist(), predicted_a[pick].tolist())))
        except (ValueError, TypeError):
            continue
    if len(values) < _BOOTSTRAP // 2:
        return gate
    higher = higher_is_better(rule)
    bound = float(np.percentile(values, 100 - _TAIL if higher else _TAIL))
    again = evaluate([(rule, True)], {rule.metric: bound},
                     {rule.metric: gate.champion} if gate.champion is not None else None,
                     champion_label=gate.champion_label)
    low, high = np.percentile(values, [_TAIL, 100 - _TAIL])
    interval = f"{100 - 2 * _TAIL:g}% interval {low:.4g} to {high:.4g} on {len(truth)} rows"
    if any(not g.passed for g in again.results if g.rule == gate.rule):
        return replace(gate, note=f"{gate.note}; {interval}" if gate.note else interval)
    return replace(gate, passed=True, note=f"within sampling noise: {interval}")


def _join(keys: Any, feedback: dict[str, list[Any]]) -> Any:
    """The outcome of each predicted row (NaN where no feedback or the lengths disagree)."""
    import pandas as pd

    values = []
    for request_id, position in zip(keys["request_id"], keys["position"], strict=True) if len(keys) else []:
        outcome = feedback.get(request_id)
        ok = outcome is not None and position < len(outcome) and outcome[position] is not None
        values.append(outcome[position] if ok else None)
    return pd.Series(values, dtype=object)


def _over_time(function: Any, truth: list[Any], predicted: list[Any], hours: list[str]) -> list[tuple[str, float, int]]:
    groups: dict[str, tuple[list[Any], list[Any]]] = {}
    for t, p, h in zip(truth, predicted, hours, strict=True):
        groups.setdefault(h, ([], []))
        groups[h][0].append(t)
        groups[h][1].append(p)
    points = []
    for hour in sorted(groups):
        t, p = groups[hour]
        if len(t) < 2:
            continue
        try:
            points.append((hour, float(function(t, p)), len(t)))
        except (ValueError, TypeError):
            continue
    return points


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None

