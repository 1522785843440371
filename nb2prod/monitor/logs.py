"""Read the serving prediction logs back: rotated files, ``--since``, and lines that are not records.

A log is written while a server runs and may be cut mid-line (a killed server, a full disk, a copy
taken during a write). Such lines are skipped and counted, never a crash: a monitoring job that
fails on one bad byte watches nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nb2prod.errors import UsageError

_STATUSES = ("ok", "rejected", "failed")
_SHOWN_SKIPS = 5


@dataclass
class Prediction:
    """One ``"kind": "prediction"`` line."""

    request_id: str
    time: datetime
    model_id: str | None
    status: str  # ok | rejected | failed
    rows: int
    payload: dict[str, Any] | None
    outputs: dict[str, Any] | None
    latency_ms: float | None
    error: str | None


@dataclass
class LogData:
    """Every usable record of the log files, oldest first, and what was skipped."""

    files: list[Path] = field(default_factory=list)
    predictions: list[Prediction] = field(default_factory=list)
    feedback: dict[str, list[Any]] = field(default_factory=dict)  # request id -> outcome
    feedback_times: dict[str, datetime] = field(default_factory=dict)
    skipped: int = 0
    skipped_examples: list[str] = field(default_factory=list)  # "file:line: reason", a few
    before_since: int = 0  # records older than --since

    def skip(self, path: Path, number: int, reason: str) -> None:
        self.skipped += 1
        if len(self.skipped_examples) < _SHOWN_SKIPS:
            self.skipped_examples.append(f"{path.name}:{number}: {reason}")


def rotated(log: Path) -> list[Path]:
    """LOG and its rotated predecessors (``LOG.1`` newest ... ``LOG.N`` oldest), oldest first."""
    pattern = re.compile(re.escape(log.name) + r"\.(\d+)$")
    older = []
    if log.parent.is_dir():
        for path in log.parent.iterdir():
            match = pattern.match(path.name)
            if match and path.is_file():
                older.append((int(match.group(1)), path))
    files = [p for _, p in sorted(older, reverse=True)]
    return files + ([log] if log.is_file() else [])


def parse_since(text: str | None) -> datetime | None:
    """``2026-12-01`` or ``2026-12-01T06:00`` (UTC unless an offset is given)."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since {text!r} is not a date.",
            hint="use an ISO date or time, e.g. --since 2026-12-01 or --since 2026-12-01T06:00Z.",
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def read_logs(logs: list[Path], since: datetime | None = None) -> LogData:
    """Each log with its rotations, parsed; unusable lines counted in ``skipped``."""
    data = LogData()
    for log in logs:
        files = rotated(log)
        if not files:
            raise UsageError(
                f"no prediction log at {log}.",
                hint="pass --log FILE (the file `nb2prod serve` writes), or serve the model first.",
            )
        data.files += files
    for path in data.files:
        _read_file(path, since, data)
    data.predictions.sort(key=lambda p: p.time)
    return data


def _read_file(path: Path, since: datetime | None, data: LogData) -> None:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                why = err.msg if isinstance(err, json.JSONDecodeError) else "not UTF-8"
                truncated = not raw.endswith(b"\n")
                data.skip(path, number, "truncated line" if truncated else f"not JSON ({why})")
                continue
            reason = _use(record, since, data)
            if reason:
                data.skip(path, number, reason)


def _use(record: Any, since: datetime | None, data: LogData) -> str | None:
    """Add RECORD to DATA; return why it cannot be used, or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    kind = record.get("kind")
    request_id = record.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        return "no request_id"
    when = _time(record.get("time"))
    if when is None:
        return "no valid time"
    if since is not None and when < since:
        data.before_since += 1
        return None
    if kind == "feedback":
        if "outcome" not in record:
            return "feedback without outcome"
        outcome = record["outcome"]
        data.feedback[request_id] = outcome if isinstance(outcome, list) else [outcome]
        data.feedback_times[request_id] = when
        return None
    if kind != "prediction":
        return f"unknown kind {kind!r}"
    status = record.get("status")
    if status not in _STATUSES:
        return f"unknown status {status!r}"
    payload, outputs = record.get("payload"), record.get("outputs")
    if status == "ok" and (not isinstance(payload, dict) or not isinstance(outputs, dict)):
        return "ok prediction without payload or outputs"
    latency = record.get("latency_ms")
    rows = record.get("rows")
    data.predictions.append(
        Prediction(
            request_id=request_id,
            time=when,
            model_id=record.get("model_id") if isinstance(record.get("model_id"), str) else None,
            status=status,
            rows=rows if isinstance(rows, int) and not isinstance(rows, bool) else 0,
            payload=payload if isinstance(payload, dict) else None,
            outputs=outputs if isinstance(outputs, dict) else None,
            latency_ms=float(latency) if isinstance(latency, (int, float)) else None,
            error=record.get("error") if isinstance(record.get("error"), str) else None,
        )
    )
    return None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
