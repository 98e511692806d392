"""Autonomy levels, the evidence behind them, alerts, the worklist and the metrics over time."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from imaging_ai.api.schemas.predictions import AutonomyLevel, PredictionPublic
from imaging_ai.persistence.models import Alert
from imaging_ai.services.autonomy import SiteAutonomy
from imaging_ai.services.drift import DriftReport
from imaging_ai.services.evidence import Evidence
from imaging_ai.services.monitoring import MetricsSeries
from imaging_ai.services.statistics import Proportion
from imaging_ai.services.worklist import WorklistItem


class ProportionPublic(BaseModel):
    successes: int
    n: int
    rate: float | None
    low: float | None = Field(description="Wilson 95% interval, lower bound.")
    high: float | None = Field(description="Wilson 95% interval, upper bound.")

    @classmethod
    def of(cls, value: Proportion | None) -> ProportionPublic | None:
        return None if value is None else cls(**value.__dict__)


class EvidencePublic(BaseModel):
    verdicts: int = Field(description="Reviewed predictions of the active version (unreadable left out).")
    agreement: ProportionPublic
    sensitivity: ProportionPublic | None
    specificity: ProportionPublic | None
    calibration_error: float | None = Field(description="Expected calibration error (10 bins).")
    above_threshold: ProportionPublic | None = Field(
        description="Agreement at or above the level's threshold."
    )
    threshold_meeting_target: float | None = Field(
        description="Lowest confidence threshold whose agreement's lower bound meets the target."
    )
    threshold_evidence: ProportionPublic | None
    audited: ProportionPublic = Field(
        description="Agreement on audited automatic answers since the level was set."
    )

    @classmethod
    def of(cls, evidence: Evidence) -> EvidencePublic:
        return cls(
            verdicts=evidence.verdicts,
            agreement=ProportionPublic.of(evidence.agreement),
            sensitivity=ProportionPublic.of(evidence.sensitivity),
            specificity=ProportionPublic.of(evidence.specificity),
            calibration_error=evidence.calibration_error,
            above_threshold=ProportionPublic.of(evidence.above_threshold),
            threshold_meeting_target=evidence.threshold_meeting_target,
            threshold_evidence=ProportionPublic.of(evidence.threshold_evidence),
            audited=ProportionPublic.of(evidence.audited),
        )


class DriftPublic(BaseModel):
    score: float | None = Field(
        description="Population stability index of recent images vs the training data."
    )
    threshold: float
    drifted: bool
    recent_images: int
    reference: str = Field(description="`site`, `all` (all training data) or `none`.")

    @classmethod
    def of(cls, report: DriftReport) -> DriftPublic:
        return cls(
            score=report.score,
            threshold=report.threshold,
            drifted=report.drifted,
            recent_images=report.recent_images,
            reference=report.reference,
        )


class RecommendationPublic(BaseModel):
    level: AutonomyLevel
    confidence_threshold: float | None
    reason: str


class SiteAutonomyPublic(BaseModel):
    site: str = Field(description="A site, or `*`: the task-wide level and every site's cases pooled.")
    level: AutonomyLevel
    confidence_threshold: float | None
    audit_fraction: float
    level_source: str = Field(
        description="Which policy is in force: the site's, `*` (task-wide) or `default`."
    )
    changed_by: str | None
    changed_at: datetime | None
    reason: str | None
    model_version: str | None = Field(description="The active version the evidence is about.")
    evidence: EvidencePublic
    drift: DriftPublic
    recommendation: RecommendationPublic

    @classmethod
    def of(cls, value: SiteAutonomy) -> SiteAutonomyPublic:
        level = value.level
        return cls(
            site=value.site,
            level=level.level,
            confidence_threshold=level.confidence_threshold,
            audit_fraction=level.audit_fraction,
            level_source=level.source,
            changed_by=level.changed_by,
            changed_at=level.changed_at,
            reason=level.reason,
            model_version=value.model_version,
            evidence=EvidencePublic.of(value.evidence),
            drift=DriftPublic.of(value.drift),
            recommendation=RecommendationPublic(
                level=value.recommendation.level,
                confidence_threshold=value.recommendation.confidence_threshold,
                reason=value.recommendation.reason,
            ),
        )


class AutonomyOverview(BaseModel):
    task: str
    target: float = Field(description="Agreement a level must prove (lower bound) and keep (upper bound).")
    min_verdicts: int
    sites: list[SiteAutonomyPublic]


class AutonomyChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "site": "nih",
                    "level": "semi_autonomous",
                    "confidence_threshold": 0.97,
                    "reason": "Evidence reviewed at the quality board, 2026-11-27.",
                }
            ]
        },
    )

    site: str = Field(
        default="*", min_length=1, max_length=128, description="A site, or `*` for the whole task."
    )
    level: AutonomyLevel
    confidence_threshold: float | None = Field(
        default=None, gt=0, le=1, description="Semi-autonomy only; default: the one the evidence supports."
    )
    audit_fraction: float | None = Field(default=None, ge=0, le=1)
    reason: str = Field(min_length=3, max_length=2000)


class AlertPublic(BaseModel):
    id: uuid.UUID
    task: str
    site: str
    kind: Literal["agreement_dropped", "new_version", "input_drift"]
    message: str
    details: dict[str, Any]
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    @classmethod
    def from_record(cls, alert: Alert) -> AlertPublic:
        return cls(
            id=alert.id,
            task=alert.task,
            site=alert.site,
            kind=alert.kind,
            message=alert.message,
            details=alert.details,
            created_at=alert.created_at,
            acknowledged_at=alert.acknowledged_at,
            acknowledged_by=alert.acknowledged_by,
        )


class PriorityComponents(BaseModel):
    uncertainty: float = Field(description="Normalised entropy of the calibrated probabilities.")
    disagreement_risk: float = Field(description="Half the AI's doubt, half the site's disagreement rate.")
    waiting: float = Field(description="Hours since the prediction / 24, at most 1.")


class WorklistEntry(BaseModel):
    prediction: PredictionPublic
    priority: float = Field(
        description="0.5 uncertainty + 0.3 disagreement risk + 0.2 waiting; highest first."
    )
    components: PriorityComponents
    reason: Literal["review", "audit"]

    @classmethod
    def of(cls, item: WorklistItem) -> WorklistEntry:
        return cls(
            prediction=PredictionPublic.from_record(item.prediction),
            priority=item.priority,
            components=PriorityComponents(**item.components),
            reason=item.reason,
        )


class WorklistPage(BaseModel):
    items: list[WorklistEntry]
    total: int
    limit: int
    offset: int


class MetricsPointPublic(BaseModel):
    start: datetime
    end: datetime
    predictions: int
    finalised_automatically: int
    verdicts: int
    agreement: ProportionPublic
    sensitivity: ProportionPublic | None
    specificity: ProportionPublic | None
    calibration_error: float | None
    drift_psi: float | None


class MetricsSeriesPublic(BaseModel):
    site: str | None
    model_version: str
    points: list[MetricsPointPublic]

    @classmethod
    def of(cls, series: MetricsSeries) -> MetricsSeriesPublic:
        return cls(
            site=series.site,
            model_version=series.model_version,
            points=[
                MetricsPointPublic(
                    start=point.start,
                    end=point.end,
                    predictions=point.predictions,
                    finalised_automatically=point.finalised_automatically,
                    verdicts=point.evidence.verdicts,
                    agreement=ProportionPublic.of(point.evidence.agreement),
                    sensitivity=ProportionPublic.of(point.evidence.sensitivity),
                    specificity=ProportionPublic.of(point.evidence.specificity),
                    calibration_error=point.evidence.calibration_error,
                    drift_psi=point.drift_psi,
                )
                for point in series.points
            ],
        )


class ReliabilityBinPublic(BaseModel):
    low: float
    high: float
    n: int
    confidence_mean: float | None = Field(description="Mean calibrated confidence of the bin's cases.")
    accuracy: float | None = Field(description="Share of the bin's cases the clinicians agreed with.")


class Calibration(BaseModel):
    task: str
    model_version: str | None
    site: str | None
    bins: list[ReliabilityBinPublic] = Field(description="Ten equal-width confidence bins.")


class TaskMetrics(BaseModel):
    task: str
    bucket: Literal["day", "cases"]
    series: list[MetricsSeriesPublic] = Field(description="One series per (site, model version).")
