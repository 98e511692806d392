"""Reviewed predictions: each prediction with its latest verdict, the raw material of the evidence."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from imaging_ai.persistence.models import Feedback, Image, Prediction
from imaging_ai.vocabulary import Verdict


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
        .where(Prediction.task == task, Feedback.verdict != Verdict.unreadable)
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
        label = prediction.predicted_label if feedback.verdict == Verdict.agree else feedback.label
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


@dataclass(frozen=True)
class ServedCase:
    """A prediction made under the blind-read rules (migration 0006 on), with its blind verdict if any."""

    prediction_id: uuid.UUID
    predicted_label: str
    confidence: float
    blind_read: bool
    blind_read_probability: float
    out_of_distribution: bool | None
    created_at: datetime
    reviewed: bool
    """Any verdict was given (for a blind read: its blind draw is resolved)."""
    blind_label: str | None
    """The label of the blind verdict; None when not read blind, unreadable, or not yet read."""


def served_cases(
    session: Session, task: str, *, site: str, model_version: str, since: datetime | None = None
) -> list[ServedCase]:
    """Every prediction of a version at a site since the blind-read rules, oldest first."""
    first_blind = (
        select(Feedback.prediction_id, func.min(Feedback.sequence).label("sequence"))
        .where(Feedback.blind.is_(True))
        .group_by(Feedback.prediction_id)
        .subquery()
    )
    any_verdict = select(Feedback.prediction_id).distinct().subquery()
    blind_verdict = (
        select(Feedback.prediction_id, Feedback.verdict, Feedback.label)
        .join(
            first_blind,
            (first_blind.c.prediction_id == Feedback.prediction_id)
            & (first_blind.c.sequence == Feedback.sequence),
        )
        .subquery()
    )
    query = (
        select(Prediction, blind_verdict.c.verdict, blind_verdict.c.label, any_verdict.c.prediction_id)
        .outerjoin(blind_verdict, blind_verdict.c.prediction_id == Prediction.id)
        .outerjoin(any_verdict, any_verdict.c.prediction_id == Prediction.id)
        .where(
            Prediction.task == task,
            Prediction.site == site,
            Prediction.model_version_id == model_version,
            Prediction.blind_read_probability.is_not(None),
        )
        .order_by(Prediction.created_at, Prediction.id)
    )
    if since is not None:
        query = query.where(Prediction.created_at >= since)
    cases = []
    for prediction, verdict, label, reviewed in session.execute(query).all():
        blind_label = None
        if verdict == Verdict.agree:
            blind_label = prediction.predicted_label
        elif verdict == Verdict.disagree:
            blind_label = label
        cases.append(
            ServedCase(
                prediction_id=prediction.id,
                predicted_label=prediction.predicted_label,
                confidence=prediction.confidence,
                blind_read=prediction.blind_read,
                blind_read_probability=float(prediction.blind_read_probability),
                out_of_distribution=prediction.out_of_distribution,
                created_at=prediction.created_at,
                reviewed=reviewed is not None,
                blind_label=blind_label,
            )
        )
    return cases


def drift_scores(
    session: Session, task: str, site: str | None, model_version: str, limit: int
) -> list[tuple[float, float, bool]]:
    """(feature z, output z, out of distribution) of a version's latest predictions at a site, oldest
    first."""
    query = (
        select(Prediction.feature_z, Prediction.output_z, Prediction.out_of_distribution)
        .where(
            Prediction.task == task,
            Prediction.model_version_id == model_version,
            Prediction.feature_z.is_not(None),
            Prediction.output_z.is_not(None),
        )
        .order_by(Prediction.created_at.desc(), Prediction.id.desc())
        .limit(limit)
    )
    query = (
        query.where(Prediction.site == site) if site is not None else query.where(Prediction.site.is_(None))
    )
    rows = session.execute(query).all()
    return [(float(f or 0.0), float(o or 0.0), bool(flag)) for f, o, flag in reversed(rows)]
