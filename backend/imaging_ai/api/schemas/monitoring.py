"""Metrics over time and calibration, per task and site."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from imaging_ai.api.schemas.autonomy import ProportionPublic
from imaging_ai.services.trust.monitoring import MetricsSeries


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
    out_of_distribution_rate: float | None = Field(
        description="Share of the bucket's images beyond the version's out-of-distribution threshold."
    )


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
                    out_of_distribution_rate=point.out_of_distribution_rate,
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
