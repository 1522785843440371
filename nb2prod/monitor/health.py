"""Service health from the log: load, rejected and failed requests, latency per hour.

Rejected requests (4xx) are the callers' mistakes, failed ones (5xx) the model's; both are counted
against ``max_error_rate`` separately, since a jump in either means something changed upstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nb2prod.config import MonitorSettings
from nb2prod.monitor.logs import Prediction


@dataclass
class HourHealth:
    hour: str  # "2026-12-02 03:00" UTC
    requests: int
    rejected: int
    failed: int
    p50: float | None
    p95: float | None
    p99: float | None


@dataclass
class Health:
    status: str  # ok | unhealthy | no traffic
    requests: int = 0
    ok: int = 0
    rejected: int = 0
    failed: int = 0
    rows: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    hours: list[HourHealth] = field(default_factory=list)  # per hour (JSON, Markdown)
    chart: list[HourHealth] = field(default_factory=list)  # per bucket of ``chart_width`` (HTML)
    chart_width: str = "hour"
    problems: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # the most common error texts

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status, "requests": self.requests, "ok": self.ok,
            "rejected": self.rejected, "failed": self.failed, "rows": self.rows,
            "latency_ms": {"p50": self.p50, "p95": self.p95, "p99": self.p99},
            "problems": self.problems, "errors": self.errors,
            "hours": [vars(h) for h in self.hours],
        }


def health(predictions: list[Prediction], settings: MonitorSettings) -> Health:
    if not predictions:
        return Health("no traffic")
    result = Health("ok", requests=len(predictions))
    by_hour: dict[str, list[Prediction]] = {}
    errors: dict[str, int] = {}
    for p in predictions:
        by_hour.setdefault(p.time.strftime("%Y-%m-%d %H:00"), []).append(p)
        if p.status != "ok" and p.error:
            text = p.error.splitlines()[0][:120]
            errors[text] = errors.get(text, 0) + 1
    result.ok = sum(p.status == "ok" for p in predictions)
    result.rejected = sum(p.status == "rejected" for p in predictions)
    result.failed = sum(p.status == "failed" for p in predictions)
    result.rows = sum(p.rows for p in predictions if p.status == "ok")
    result.p50, result.p95, result.p99 = _percentiles(predictions)
    result.errors = dict(sorted(errors.items(), key=lambda kv: -kv[1])[:5])
    result.hours = _grouped(by_hour)
    seconds, result.chart_width = bucket_width([p.time for p in predictions])
    by_bucket: dict[str, list[Prediction]] = {}
    for p in predictions:
        by_bucket.setdefault(bucket(p.time, seconds), []).append(p)
    result.chart = _grouped(by_bucket)
    for word, count in (("failed", result.failed), ("rejected", result.rejected)):
        rate = count / result.requests
        if rate > settings.max_error_rate:
            result.problems.append(
                f"{word} requests {count} of {result.requests} ({rate:.1%}) > max_error_rate "
                f"{settings.max_error_rate:.1%}"
            )
    if result.p95 is not None and result.p95 > settings.max_p95_ms:
        result.problems.append(f"latency p95 {result.p95:.0f} ms > max_p95_ms {settings.max_p95_ms:g}")
    if result.problems:
        result.status = "unhealthy"
    return result


def _grouped(groups: dict[str, list[Prediction]]) -> list[HourHealth]:
    return [
        HourHealth(key, len(group), sum(p.status == "rejected" for p in group),
                   sum(p.status == "failed" for p in group), *_percentiles(group))
        for key, group in sorted(groups.items())
    ]


def _percentiles(predictions: list[Prediction]) -> tuple[float | None, float | None, float | None]:
    import numpy as np

    values = [p.latency_ms for p in predictions if p.latency_ms is not None]
    if not values:
        return None, None, None
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return float(p50), float(p95), float(p99)


_WIDTHS = ((1, "second"), (10, "10 seconds"), (60, "minute"), (300, "5 minutes"), (900, "15 minutes"), (3600, "hour"),
           (6 * 3600, "6 hours"), (86400, "day"))


def bucket_width(times: list[Any]) -> tuple[int, str]:
    """The finest of second ... day that puts the span into at most 48 buckets (for charts)."""
    if not times:
        return 3600, "hour"
    span = (max(times) - min(times)).total_seconds()
    for seconds, word in _WIDTHS:
        if span / seconds <= 48:
            return seconds, word
    return _WIDTHS[-1]


def bucket(when: Any, seconds: int) -> str:
    """``2026-12-02 03:15`` for the bucket that holds WHEN (UTC)."""
    from datetime import UTC, datetime

    start = int(when.timestamp()) // seconds * seconds
    return datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M:%S")
