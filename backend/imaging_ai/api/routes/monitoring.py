"""Monitoring: a task's performance over time, and Prometheus metrics of the service."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from imaging_ai.api.deps import MonitoringDep
from imaging_ai.api.metrics import render_metrics
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.monitoring import (
    Calibration,
    MetricsSeriesPublic,
    ReliabilityBinPublic,
    TaskMetrics,
)
from imaging_ai.api.schemas.text import Text
from imaging_ai.api.security import PUBLIC, requires
from imaging_ai.services.accounts.identity import Permission

router = APIRouter(tags=["monitoring"])


@router.get(
    "/api/v1/tasks/{task}/metrics",
    summary="Performance over time",
    description=(
        "Per site and per model version, per day or per N predictions: volume, automatic answers, "
        "verdicts, agreement, sensitivity and specificity (Wilson 95% intervals), calibration error and "
        "input drift (PSI)."
    ),
    dependencies=[requires(Permission.READ)],
    responses=error_responses(404, 422),
)
def task_metrics(
    task: Text,
    monitoring: MonitoringDep,
    bucket: Literal["day", "cases"] = "day",
    cases_per_bucket: Annotated[int, Query(ge=10, le=10_000)] = 100,
    site: Annotated[Text | None, Query(max_length=128)] = None,
    version: Annotated[Text | None, Query(max_length=128)] = None,
) -> TaskMetrics:
    series = monitoring.series(
        task, bucket=bucket, cases_per_bucket=cases_per_bucket, site=site, version=version
    )
    return TaskMetrics(task=task, bucket=bucket, series=[MetricsSeriesPublic.of(s) for s in series])


@router.get(
    "/api/v1/tasks/{task}/calibration",
    summary="Reliability diagram",
    description="Mean confidence against clinicians' agreement per confidence bin, on the reviewed cases of "
    "the active version (or `version`), at one site or all.",
    dependencies=[requires(Permission.READ)],
    responses=error_responses(404, 422),
)
def task_calibration(
    task: Text,
    monitoring: MonitoringDep,
    site: Annotated[Text | None, Query(max_length=128)] = None,
    version: Annotated[Text | None, Query(max_length=128)] = None,
) -> Calibration:
    bins = monitoring.reliability(task, site=site, version=version)
    return Calibration(
        task=task,
        model_version=version or monitoring.active_version(task),
        site=site,
        bins=[ReliabilityBinPublic(**b.__dict__) for b in bins],
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Request rates and latencies, training jobs and worklist depth, predictions by level.",
    dependencies=[PUBLIC],
    include_in_schema=False,
)
def prometheus_metrics(monitoring: MonitoringDep) -> Response:
    body, content_type = render_metrics(monitoring.operational_counts())
    return Response(content=body, media_type=content_type)
