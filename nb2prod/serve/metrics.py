"""Prometheus metrics of the server: requests by route and status, latency, rows predicted.

With ``--workers N`` every worker is its own process, so the counters use prometheus-client's
multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` is set by the parent before the workers start (the
library reads it when it is imported), each worker writes its values to memory-mapped files there,
and ``/metrics`` in any worker sums them all.
"""

from __future__ import annotations

import os
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The server's counters, labelled with the model id so a dashboard sees a model change."""

    def __init__(self, model_id: str) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.model_id = model_id
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "nb2prod_requests", "HTTP requests answered, by route and status code.",
            ["route", "status", "model_id"], registry=self.registry,
        )
        self.latency = Histogram(
            "nb2prod_request_latency_seconds", "Time from request to answer, by route.",
            ["route", "model_id"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.rows = Counter(
            "nb2prod_rows_predicted", "Rows the model predicted.", ["model_id"], registry=self.registry,
        )
        self._rows = self.rows.labels(model_id)

    def observe(self, route: str, status: int, seconds: float, rows: int = 0) -> None:
        self.requests.labels(route, str(status), self.model_id).inc()
        self.latency.labels(route, self.model_id).observe(seconds)
        if rows:
            self._rows.inc(rows)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type; all workers' values in multiprocess mode."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self.multiprocess:
            from prometheus_client import multiprocess

            registry: Any = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = self.registry
        return generate_latest(registry), CONTENT_TYPE_LATEST

