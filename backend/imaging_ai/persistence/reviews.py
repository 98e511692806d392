"""Reviewed predictions: each prediction with its latest verdict, the raw material of the evidence."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from imaging_ai.persistence.models import Feedback, Image, Prediction


@dataclass(frozen=True)
class ReviewedPrediction:
    prediction_id: uuid.UUID
    site: str | None
    model_version_id: str
    predicted_label: str
    label: str
    """The label of record (predictions whose latest verdict is `unreadable` are left out)."""
    confidence: float
    audit_sample: bool
    autonomy_level: str
    created_at: datetime
    verdict_at: datetime
    probabilities: dict[str, float]
    patient_group: str
    """The patient (pseudonymous key) or, without one, the image: the unit of every split."""

    @property
    def agreed(self) -> bool:
        return self.predicted_label == self.label


def reviewed_predictions(
    session: Session,
    task: str,
    *,
    model_version: str | None = None,
    site: str | None = None,
    since: datetime | None = None,
) -> list[ReviewedPrediction]:
    """Oldest verdict first; `site` None means every site."""
    latest = (
        select(Feedback.prediction_id, func.max(Feedback.sequence).label("sequence"))
        .group_by(Feedback.prediction_id)
        .subquery()
    )
    query = (
        select(Prediction, Feedback, Image.patient_key)
        .join(latest, latest.c.prediction_id == Prediction.id)
        .join(Image, Image.id == Prediction.image_id)
        .join(Feedback, (Feedback.prediction_id == Prediction.id) & (Feedback.sequence == latest.c.sequence))
        .where(Prediction.task == task, Feedback.verdict != "unreadable")
        .order_by(Feedback.created_at, Prediction.id)
    )
    if model_version is not None:
        query = query.where(Prediction.model_version_id == model_version)
    if site is not None:
        query = query.where(Prediction.site == site)
    if since is not None:
        query = query.where(Feedback.created_at >= since)
    reviewed = []
    for prediction, feedback, patient_key in session.execute(query).all():
        label = prediction.predicted_label if feedback.verdict == "agree" else feedback.label
        reviewed.append(
            ReviewedPrediction(
                prediction_id=prediction.id,
                site=prediction.site,
                model_version_id=prediction.model_version_id,
                predicted_label=prediction.predicted_label,
                label=str(label),
                confidence=prediction.confidence,
                audit_sample=prediction.audit_sample,
                autonomy_level=prediction.autonomy_level,
                created_at=prediction.created_at,
                verdict_at=feedback.created_at,
                probabilities=prediction.probabilities,
                patient_group=f"patient:{patient_key}" if patient_key else f"image:{prediction.image_id}",
            )
        )
    return reviewed


def recent_histograms(session: Session, task: str, site: str | None, limit: int) -> Sequence[list[float]]:
    """The intensity histograms of the latest predictions at a site (newest first)."""
    query = (
        select(Prediction.input_histogram)
        .where(Prediction.task == task, Prediction.input_histogram.is_not(None))
        .order_by(Prediction.created_at.desc())
        .limit(limit)
    )
    query = (
        query.where(Prediction.site == site) if site is not None else query.where(Prediction.site.is_(None))
    )
    return [list(h) for h in session.scalars(query).all() if h]


def histograms_of(
    session: Session, prediction_ids: Sequence[uuid.UUID]
) -> list[tuple[str | None, list[float]]]:
    """(site, histogram) of the given predictions, for a version's training cases."""
    if not prediction_ids:
        return []
    rows = session.execute(
        select(Prediction.site, Prediction.input_histogram).where(
            Prediction.id.in_(list(prediction_ids)), Prediction.input_histogram.is_not(None)
        )
    ).all()
    return [(site, list(histogram)) for site, histogram in rows if histogram]
