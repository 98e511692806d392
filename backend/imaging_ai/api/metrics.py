"""Prometheus metrics: request rates and latencies (by route template, never by id), predictions by
autonomy level, and, read at scrape time (`Monitoring.operational_counts`), training jobs, worklist depth
and levels."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from imaging_ai.services.trust.monitoring import OperationalCounts

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "imaging_ai_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=REGISTRY
)
LATENCY = Histogram(
    "imaging_ai_http_request_duration_seconds",
    "Time to answer, by route.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
PREDICTIONS = Counter(
    "imaging_ai_predictions",
    "Predictions made, by level and whether they were final at once.",
    ["task", "level", "final"],
    registry=REGISTRY,
)
TRAINING_JOBS = Gauge("imaging_ai_training_jobs", "Training jobs by status.", ["status"], registry=REGISTRY)
WORKLIST = Gauge("imaging_ai_worklist_depth", "Cases waiting for a clinician.", ["task"], registry=REGISTRY)
LEVEL = Gauge(
    "imaging_ai_autonomy_level",
    "Level in force (0 supervised, 1 semi, 2 autonomous).",
    ["task", "site"],
    registry=REGISTRY,
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def observe_prediction(task: str, level: str, final: bool) -> None:
    PREDICTIONS.labels(task, level, "true" if final else "false").inc()


def render_metrics(counts: OperationalCounts) -> tuple[bytes, str]:
    TRAINING_JOBS.clear()
    for status, count in counts.training_jobs.items():
        TRAINING_JOBS.labels(status).set(count)
    WORKLIST.clear()
    for task, count in counts.worklist_depth.items():
        WORKLIST.labels(task).set(count)
    LEVEL.clear()
    for (task, site), level in counts.levels.items():
        LEVEL.labels(task, site).set(level)
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
