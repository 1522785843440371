"""``nb2prod monitor NAME``: the logs against the production model's card, and one verdict.

One :class:`MonitorReport` owns the findings and the exit code (black's ``report.py`` habit): the
console, Markdown, JSON and HTML writers all read it. Exit 1 names what passed its threshold (a
drifted column, a degraded metric, failed requests, slow answers) so a scheduled CI job can start
``nb2prod train``; "not enough data" is said, and is not a failure.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nb2prod.config import GateRule, MonitorSettings
from nb2prod.errors import EXIT_CHECK_FAILED, EXIT_OK, UsageError
from nb2prod.monitor.drift import ColumnDrift, compare_frames
from nb2prod.monitor.frames import input_name, live_rows
from nb2prod.monitor.health import Health, health
from nb2prod.monitor.logs import LogData, read_logs
from nb2prod.monitor.quality import Quality, live_quality


@dataclass
class MonitorReport:
    name: str
    model_id: str
    card: dict[str, Any]
    settings: MonitorSettings
    logs: LogData
    since: datetime | None
    input_drift: list[ColumnDrift] = field(default_factory=list)
    output_drift: list[ColumnDrift] = field(default_factory=list)
    quality: Quality | None = None
    health: Health | None = None
    other_models: int = 0  # logged requests answered by another model id (not judged)
    unusable: int = 0  # ok requests whose payload does not have the card's shape
    live: Any = None  # frames.LiveRows, for --export-inputs
    created: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    @property
    def findings(self) -> list[str]:
        """Everything that passed its threshold, one line each, naming the column or metric."""
        lines = [f"input drift in column {d.column!r}: {d.reason}" for d in self.input_drift if d.drifted]
        lines += [f"output drift in {d.column!r}: {d.reason}" for d in self.output_drift if d.drifted]
        if self.quality is not None and self.quality.status == "degraded":
            for metric in self.quality.metrics:
                lines += [f"quality of {metric.metric!r} degraded: live {g.line()}"
                          for g in metric.gates if not g.passed]
        if self.health is not None:
            lines += [f"health: {p}" for p in self.health.problems]
        return lines

    @property
    def notes(self) -> list[str]:
        """What was not judged, and why."""
        notes = []
        thin = [d.column for d in self.input_drift + self.output_drift if d.status == "not enough data"]
        if thin:
            first = next(d for d in self.input_drift + self.output_drift if d.status == "not enough data")
            notes.append(f"drift: not enough data for {', '.join(thin)} ({first.reason})")
        if self.quality is not None and self.quality.status in ("not enough data", "no feedback"):
            notes.append(f"quality: {self.quality.status} ({self.quality.reason})")
        if self.logs.skipped:
            notes.append(f"{self.logs.skipped} log line(s) skipped: {'; '.join(self.logs.skipped_examples)}")
        if self.other_models:
            notes.append(f"{self.other_models} request(s) answered by other models were not judged")
        if self.unusable:
            notes.append(f"{self.unusable} ok request(s) had a payload unlike the card's and were left out")
        return notes

    @property
    def exit_code(self) -> int:
        return EXIT_CHECK_FAILED if self.findings else EXIT_OK

    @property
    def verdict(self) -> str:
        return "RETRAIN" if self.findings else "OK"

    def as_json(self) -> dict[str, Any]:
        return {
            "format": 1,
            "name": self.name,
            "model_id": self.model_id,
            "created": self.created,
            "since": self.since.isoformat() if self.since else None,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "findings": self.findings,
            "notes": self.notes,
            "logs": {
                "files": [str(p) for p in self.logs.files],
                "predictions": len(self.logs.predictions),
                "feedback": len(self.logs.feedback),
                "skipped_lines": self.logs.skipped,
                "skipped_examples": self.logs.skipped_examples,
                "before_since": self.logs.before_since,
                "other_models": self.other_models,
            },
            "input_drift": [d.as_json() for d in self.input_drift],
            "output_drift": [d.as_json() for d in self.output_drift],
            "quality": self.quality.as_json() if self.quality else None,
            "health": self.health.as_json() if self.health else None,
        }


def production_card(root: Path, name: str) -> tuple[str, dict[str, Any], Path]:
    """(model id, card, model folder) of NAME's production model, verified against its card: drift
    measured against an edited reference sample would be a verdict about nothing."""
    from nb2prod.train.store import ModelStore

    store = ModelStore(root)
    model_id = store.production_id(name)
    if model_id is None:
        raise UsageError(
            f"{name!r} has no production model in {root}.",
            hint=f"train and promote one first: nb2prod train notebooks/{name}.ipynb --promote.",
        )
    store.verify(name, model_id)  # ArtefactTampered (exit 1) names the file
    return model_id, store.card(name, model_id), store.folder(name, model_id)


def monitor(
    name: str,
    root: Path,
    logs: list[Path] | None,
    *,
    since: datetime | None,
    settings: MonitorSettings,
    rules: list[tuple[GateRule, bool]],
) -> MonitorReport:
    import pandas as pd

    model_id, card, folder = production_card(root, name)
    data = read_logs(logs or [root / name / "logs" / "predictions.jsonl"], since)
    mine = [p for p in data.predictions if p.model_id in (None, model_id)]
    report = MonitorReport(name, model_id, card, settings, data, since,
                           other_models=len(data.predictions) - len(mine))
    report.health = health(mine, settings)
    live = live_rows(card, mine)
    report.live, report.unusable = live, live.unusable
    reference = card.get("reference") or {}
    payload_file = folder / (reference.get("payload") or "reference.parquet")
    outputs_file = folder / reference["outputs"] if reference.get("outputs") else None
    if payload_file.is_file():
        report.input_drift = compare_frames(_read(payload_file, input_name(card)), live.inputs, settings)
    if outputs_file is not None and outputs_file.is_file():
        ref_out = pd.read_parquet(outputs_file)
        report.output_drift = compare_frames(ref_out, live.outputs, settings) if len(live.outputs.columns) else []
    report.quality = live_quality(card, live.outputs, live.keys, data.feedback, rules, settings)
    return report


def _read(path: Path, name: str | None) -> Any:
    import pandas as pd

    frame = pd.read_parquet(path)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _finite(value: Any) -> Any:
    """NaN and infinities as null: JSON has no NaN, and CI tools reading this file would choke."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_json(report: MonitorReport, path: Path | None) -> str:
    text = json.dumps(_finite(report.as_json()), indent=2, default=str, allow_nan=False)
    if path is not None:
        path.write_text(text + "\n", encoding="utf-8")
    return text
