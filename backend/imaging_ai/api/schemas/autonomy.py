"""Autonomy levels per site, the evidence behind them, and alerts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from imaging_ai.api.schemas.text import FreeText, Text
from imaging_ai.api.schemas.vocabulary import AlertKind, AutonomyLevel
from imaging_ai.ml.certification import ErrorBound
from imaging_ai.persistence.models import Alert
from imaging_ai.services.trust.autonomy import SiteAutonomy
from imaging_ai.services.trust.certification import ClassEvidence
from imaging_ai.services.trust.drift import DriftReport
from imaging_ai.services.trust.evidence import Evidence
from imaging_ai.services.trust.statistics import Proportion


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
    verdicts: int = Field(
        description="Verdicts on the serving version at the site (unreadable left out), blind or not."
    )
    agreement: ProportionPublic
    sensitivity: ProportionPublic | None
    specificity: ProportionPublic | None
    calibration_error: float | None = Field(description="Expected calibration error (10 bins).")

    @classmethod
    def of(cls, evidence: Evidence) -> EvidencePublic:
        return cls(
            verdicts=evidence.verdicts,
            agreement=ProportionPublic.of(evidence.agreement),
            sensitivity=ProportionPublic.of(evidence.sensitivity),
            specificity=ProportionPublic.of(evidence.specificity),
            calibration_error=evidence.calibration_error,
        )


class ErrorBoundPublic(BaseModel):
    cases: int = Field(
        description="Answers of the label in the population (blind reads still unread left out)."
    )
    blind_reads: int
    errors: int = Field(description="Blind reads whose label differs from the AI's (or read as unreadable).")
    waiting: int = Field(
        description="Cases held back behind a blind read not read yet (they count once it is read)."
    )
    estimate: float | None = Field(
        description="The error, each blind read weighted by the inverse of its chance of being drawn."
    )
    upper: float = Field(description="Time-uniform upper confidence bound on the error.")
    lower: float = Field(description="Time-uniform lower confidence bound on the error.")

    @classmethod
    def of(cls, bound: ErrorBound | None) -> ErrorBoundPublic | None:
        if bound is None:
            return None
        return cls(
            cases=bound.cases,
            blind_reads=bound.blind_reads,
            errors=bound.errors,
            waiting=bound.waiting,
            estimate=bound.estimate,
            upper=bound.upper,
            lower=bound.lower,
        )


class ThresholdStepPublic(BaseModel):
    threshold: float = Field(description="Answers of the label at or above this confidence.")
    bound: ErrorBoundPublic
    certified: bool


class ClassEvidencePublic(BaseModel):
    label: str
    target: float = Field(description="The largest error a certified level may have for this label.")
    alpha: float = Field(description="This label's share of the level's error rate (alpha / labels).")
    certified_threshold: float | None = Field(
        description="The lowest confidence certified before the first failure (0: every answer); null: none."
    )
    steps: list[ThresholdStepPublic] = Field(
        description="The fixed sequence, most conservative threshold first, up to the first failure."
    )
    in_force_threshold: float | None = Field(
        description="The confidence at or above which the level in force finalises this label."
    )
    in_force: ErrorBoundPublic | None = Field(
        description="The bound on the answers the level has finalised since it was set."
    )
    exceeded: bool = Field(description="Those answers' error is shown above the target (the level drops).")

    @classmethod
    def of(cls, item: ClassEvidence) -> ClassEvidencePublic:
        bound = ErrorBoundPublic.of
        return cls(
            label=item.label,
            target=item.target,
            alpha=item.alpha,
            certified_threshold=item.certified_threshold,
            steps=[
                ThresholdStepPublic(
                    threshold=step.threshold, bound=bound(step.bound), certified=step.certified
                )
                for step in item.certification.steps
            ],
            in_force_threshold=item.in_force_threshold,
            in_force=bound(item.in_force),
            exceeded=item.exceeded,
        )


class DriftPublic(BaseModel):
    drifted: bool
    statistic: float | None = Field(
        description="The largest CUSUM now, over the version's latest images at the site."
    )
    threshold: float = Field(description="The CUSUM threshold (set for a known false-alarm rate).")
    images: int = Field(description="Scored images in the window.")
    which: Literal["features", "output_high", "output_low"] | None = Field(
        description="The CUSUM over its threshold: on the features' distance, or the output up or down."
    )
    out_of_distribution: int = Field(description="Images in the window flagged out of distribution.")
    out_of_distribution_rate: float | None

    @classmethod
    def of(cls, report: DriftReport) -> DriftPublic:
        return cls(
            drifted=report.drifted,
            statistic=report.statistic,
            threshold=report.threshold,
            images=report.images,
            which=report.which,
            out_of_distribution=report.out_of_distribution,
            out_of_distribution_rate=report.out_of_distribution_rate,
        )


class RecommendationPublic(BaseModel):
    level: AutonomyLevel
    class_thresholds: dict[str, float | None]
    reason: str


class SiteAutonomyPublic(BaseModel):
    site: str
    level: AutonomyLevel
    class_thresholds: dict[str, float | None] = Field(
        description="Semi-autonomy: per label, the confidence at or above which its answers are final."
    )
    blind_read_fraction: float = Field(description="Share of the site's cases read blind.")
    level_source: Literal["site", "default", "no_site", "version_changed"] = Field(
        description="`site`: the site's own level; `default`: none set (supervised); `version_changed`: the "
        "level was earned by a version that no longer serves the site (supervised)."
    )
    changed_by: str | None
    changed_at: datetime | None
    reason: str | None
    model_version: str | None = Field(description="The version serving the site: the evidence is its own.")
    cases: int = Field(description="Its predictions at the site under the blind-read rules.")
    blind_reads: int = Field(description="Blind reads with a label.")
    blind_reads_pending: int = Field(description="Blind reads not read yet.")
    classes: list[ClassEvidencePublic] = Field(description="Per label: the certification on blind reads.")
    evidence: EvidencePublic
    drift: DriftPublic
    recommendation: RecommendationPublic

    @classmethod
    def of(cls, value: SiteAutonomy) -> SiteAutonomyPublic:
        level = value.level
        return cls(
            site=value.site,
            level=level.level,
            class_thresholds=dict(level.class_thresholds),
            blind_read_fraction=level.blind_read_fraction,
            level_source=level.source,
            changed_by=level.changed_by,
            changed_at=level.changed_at,
            reason=level.reason,
            model_version=value.model_version,
            cases=value.cases,
            blind_reads=value.blind_reads,
            blind_reads_pending=value.blind_reads_pending,
            classes=[ClassEvidencePublic.of(item) for item in value.classes],
            evidence=EvidencePublic.of(value.evidence),
            drift=DriftPublic.of(value.drift),
            recommendation=RecommendationPublic(
                level=value.recommendation.level,
                class_thresholds=dict(value.recommendation.class_thresholds),
                reason=value.recommendation.reason,
            ),
        )


class AutonomyOverview(BaseModel):
    task: str
    error_targets: dict[str, float] = Field(description="Per label, the error a certified level may have.")
    alpha: float = Field(
        description="The chance that any label of a level is certified although its error exceeds the "
        "target, however often the evidence is looked at."
    )
    sites: list[SiteAutonomyPublic]


class AutonomyChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "site": "nih",
                    "level": "semi_autonomous",
                    "class_thresholds": {"normal": 0.98, "pneumonia": None},
                    "reason": "Certification reviewed at the quality board, 2026-11-27.",
                }
            ]
        },
    )

    site: Text = Field(min_length=1, max_length=128, description="The site; levels exist per site only.")
    level: AutonomyLevel
    class_thresholds: dict[Text, float | None] | None = Field(
        default=None,
        description="Semi-autonomy only: per label, the confidence at or above which its answers are final "
        "(null: never); each at or above the certified one. Default: the certified thresholds.",
    )
    blind_read_fraction: float | None = Field(default=None, gt=0, le=1)
    reason: FreeText = Field(min_length=3, max_length=2000)

    @field_validator("class_thresholds")
    @classmethod
    def _thresholds_are_probabilities(
        cls, value: dict[str, float | None] | None
    ) -> dict[str, float | None] | None:
        for threshold in (value or {}).values():
            if threshold is not None and not 0 <= threshold <= 1:
                raise ValueError("thresholds are confidences between 0 and 1")
        return value


class AlertPublic(BaseModel):
    id: uuid.UUID
    task: str
    site: str
    kind: AlertKind = Field(
        description="`error_above_target`: a label's finalised answers were shown wrong too often; "
        "`agreement_dropped` only on alerts from before per-class certification."
    )
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
