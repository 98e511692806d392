"""Performance over time, per site and per version: volume, agreement, sensitivity, specificity,
calibration and the share of out-of-distribution images, per day or per N predictions, each rate
with its Wilson interval."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from imaging_ai.ml.tasks import get_task
from imaging_ai.persistence.autonomy import AutonomyRepository
from imaging_ai.persistence.model_versions import ModelVersionRepository
from imaging_ai.persistence.models import Prediction
from imaging_ai.persistence.predictions import PredictionRepository
from imaging_ai.persistence.reviews import ReviewedPrediction, reviewed_predictions
from imaging_ai.persistence.training_jobs import TrainingJobRepository
from imaging_ai.services.trust.evidence import Evidence, gather
from imaging_ai.services.trust.statistics import ReliabilityBin, reliability_bins
from imaging_ai.vocabulary import AutonomyLevel

Bucketing = Literal["day", "cases"]


@dataclass(frozen=True)
class MetricsPoint:
    start: datetime
    end: datetime
    predictions: int
    finalised_automatically: int
    evidence: Evidence
    out_of_distribution_rate: float | None
    """Share of the bucket's images beyond the version's out-of-distribution threshold."""


@dataclass(frozen=True)
class OperationalCounts:
    """What the Prometheus gauges report, read at scrape time."""

    training_jobs: dict[str, int]
    """Jobs by status."""
    worklist_depth: dict[str, int]
    """Cases waiting for a clinician, by task."""
    levels: dict[tuple[str, str], int]
    """Level in force by (task, site): 0 supervised, 1 semi-autonomous, 2 autonomous."""


@dataclass(frozen=True)
class MetricsSeries:
    site: str | None
    model_version: str
    points: list[MetricsPoint]


class Monitoring:
    def __init__(self, session: Session) -> None:
        self.session = session

    def series(
        self, task: str, *, bucket: Bucketing, cases_per_bucket: int, site: str | None, version: str | None
    ) -> list[MetricsSeries]:
        spec = get_task(task)
        groups: dict[tuple[str | None, str], list[Prediction]] = defaultdict(list)
        predictions = PredictionRepository(self.session).in_order(task, site=site, model_version=version)
        for prediction in predictions:
            groups[(prediction.site, prediction.model_version_id)].append(prediction)
        reviewed_by_id: dict[object, ReviewedPrediction] = {
            case.prediction_id: case
            for case in reviewed_predictions(self.session, task, site=site, model_version=version)
        }
        result = []
        for (group_site, group_version), predictions in sorted(
            groups.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])
        ):
            points = []
            for chunk in _buckets(predictions, bucket, cases_per_bucket):
                reviewed = [reviewed_by_id[p.id] for p in chunk if p.id in reviewed_by_id]
                guarded = [p.out_of_distribution for p in chunk if p.out_of_distribution is not None]
                points.append(
                    MetricsPoint(
                        start=chunk[0].created_at,
                        end=chunk[-1].created_at,
                        predictions=len(chunk),
                        finalised_automatically=sum(p.finalized_by is not None for p in chunk),
                        evidence=gather(spec, reviewed),
                        out_of_distribution_rate=(round(sum(guarded) / len(guarded), 4) if guarded else None),
                    )
                )
            result.append(MetricsSeries(group_site, group_version, points))
        return result

    def operational_counts(self) -> OperationalCounts:
        return OperationalCounts(
            training_jobs=TrainingJobRepository(self.session).counts_by_status(),
            worklist_depth=PredictionRepository(self.session).waiting_counts(),
            levels={
                (policy.task, policy.site): AutonomyLevel(policy.level).rank
                for policy in AutonomyRepository(self.session).all_policies()
            },
        )

    def active_version(self, task: str) -> str | None:
        active = ModelVersionRepository(self.session).active(task)
        return active.id if active else None

    def reliability(self, task: str, *, site: str | None, version: str | None) -> list[ReliabilityBin]:
        """The reliability diagram of the reviewed cases (the active version's, unless one is named)."""
        get_task(task)
        version = version or self.active_version(task)
        cases = reviewed_predictions(self.session, task, site=site, model_version=version) if version else []
        return reliability_bins([case.confidence for case in cases], [case.agreed for case in cases])


def _buckets(predictions: list[Prediction], bucket: Bucketing, size: int) -> list[list[Prediction]]:
    if bucket == "cases":
        return [predictions[i : i + size] for i in range(0, len(predictions), size)]
    by_day: dict[str, list[Prediction]] = defaultdict(list)
    for prediction in predictions:
        by_day[prediction.created_at.date().isoformat()].append(prediction)
    return [by_day[day] for day in sorted(by_day)]
