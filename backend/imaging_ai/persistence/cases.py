"""Verified cases: each reviewed image of a task with its label of record (latest verdict)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from imaging_ai.persistence.models import Feedback, Image, Prediction
from imaging_ai.vocabulary import Verdict


@dataclass(frozen=True)
class VerifiedCase:
    prediction_id: uuid.UUID
    image_id: uuid.UUID
    content_sha256: str
    site: str | None
    patient_key: str | None
    predicted_label: str
    label: str
    """The label of record; cases whose latest verdict is `unreadable` are not verified cases."""
    verdict_at: datetime

    @property
    def group(self) -> str:
        """Patient when known, so a patient's cases stay together on one side of every split."""
        return f"patient:{self.patient_key}" if self.patient_key else f"image:{self.image_id}"


def verified_cases(session: Session, task: str) -> list[VerifiedCase]:
    """One case per image: the latest verdict over all of the image's predictions for the task."""
    rows = session.execute(
        select(Feedback, Prediction, Image)
        .join(Prediction, Feedback.prediction_id == Prediction.id)
        .join(Image, Prediction.image_id == Image.id)
        .where(Prediction.task == task)
        .order_by(Feedback.created_at, Feedback.sequence)
    ).all()
    latest: dict[uuid.UUID, tuple[Feedback, Prediction, Image]] = {}
    for feedback, prediction, image in rows:
        current = latest.get(image.id)
        if current is None or (feedback.created_at, feedback.sequence) >= (
            current[0].created_at,
            current[0].sequence,
        ):
            latest[image.id] = (feedback, prediction, image)
    cases = []
    for feedback, prediction, image in latest.values():
        if feedback.verdict == Verdict.unreadable:
            continue
        label = prediction.predicted_label if feedback.verdict == Verdict.agree else feedback.label
        assert label is not None
        cases.append(
            VerifiedCase(
                prediction_id=prediction.id,
                image_id=image.id,
                content_sha256=image.content_sha256,
                site=image.site,
                patient_key=image.patient_key,
                predicted_label=prediction.predicted_label,
                label=label,
                verdict_at=feedback.created_at,
            )
        )
    return sorted(cases, key=lambda case: (case.verdict_at, str(case.image_id)))
