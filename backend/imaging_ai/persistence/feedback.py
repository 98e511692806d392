"""Queries on verdicts (append-only)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from imaging_ai.persistence.models import Feedback, Prediction


class FeedbackRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_prediction(self, prediction_id: uuid.UUID) -> Prediction | None:
        """The prediction row, locked for this transaction (PostgreSQL); SQLite serialises writers itself."""
        return self.session.scalars(
            select(Prediction).where(Prediction.id == prediction_id).with_for_update()
        ).first()

    def next_sequence(self, prediction_id: uuid.UUID) -> int:
        current = self.session.scalar(
            select(func.max(Feedback.sequence)).where(Feedback.prediction_id == prediction_id)
        )
        return int(current or 0) + 1

    def add(self, feedback: Feedback) -> Feedback:
        self.session.add(feedback)
        self.session.flush()
        return feedback

    def history(self, prediction_id: uuid.UUID) -> Sequence[Feedback]:
        return self.session.scalars(
            select(Feedback).where(Feedback.prediction_id == prediction_id).order_by(Feedback.sequence)
        ).all()
