"""Queries on predictions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from imaging_ai.persistence.models import Prediction
from imaging_ai.vocabulary import PredictionStatus


@dataclass(frozen=True)
class PredictionFilter:
    task: str | None = None
    status: str | None = None
    site: str | None = None
    model_version: str | None = None
    autonomy_level: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    accession_number: str | None = None
    """The pseudonym (keyed hash), as stored; the service hashes what the caller sent."""
    external_id: str | None = None
    """The pseudonym (keyed hash), as stored."""


WAITING_FOR_A_CLINICIAN = or_(
    Prediction.status == PredictionStatus.pending_review,
    (Prediction.status == PredictionStatus.final) & Prediction.audit_sample.is_(True),
)
"""Worklist membership: waiting for review, or finalised automatically but drawn for audit."""


class PredictionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, prediction_id: uuid.UUID) -> Prediction | None:
        return self.session.get(Prediction, prediction_id)

    def add(self, prediction: Prediction) -> Prediction:
        self.session.add(prediction)
        self.session.flush()
        return prediction

    def first_for_image(self, image_id: uuid.UUID, task: str) -> Prediction | None:
        """The first prediction made for an image and task (an instance sent again is answered by it)."""
        return self.session.scalars(
            select(Prediction)
            .where(Prediction.image_id == image_id, Prediction.task == task)
            .order_by(Prediction.created_at)
            .limit(1)
        ).first()

    def page(self, filters: PredictionFilter, *, limit: int, offset: int) -> tuple[Sequence[Prediction], int]:
        conditions = self._conditions(filters)
        total = self.session.scalar(select(func.count()).select_from(Prediction).where(*conditions)) or 0
        items = self.session.scalars(
            select(Prediction)
            .where(*conditions)
            .order_by(Prediction.created_at.desc(), Prediction.id)
            .limit(limit)
            .offset(offset)
        ).all()
        return items, int(total)

    def waiting(self, *, task: str | None, site: str | None, level: str | None) -> Sequence[Prediction]:
        query = select(Prediction).where(WAITING_FOR_A_CLINICIAN)
        if task is not None:
            query = query.where(Prediction.task == task)
        if site is not None:
            query = query.where(Prediction.site == site)
        if level is not None:
            query = query.where(Prediction.autonomy_level == level)
        return self.session.scalars(query).all()

    def pending_review(self, *, task: str | None = None, site: str | None = None) -> Sequence[Prediction]:
        """Answers waiting for their verdict (the learning queue's cases: not the audit draws)."""
        query = select(Prediction).where(Prediction.status == PredictionStatus.pending_review)
        if task is not None:
            query = query.where(Prediction.task == task)
        if site is not None:
            query = query.where(Prediction.site == site)
        return self.session.scalars(query).all()

    def waiting_counts(self) -> dict[str, int]:
        rows = self.session.execute(
            select(Prediction.task, func.count()).where(WAITING_FOR_A_CLINICIAN).group_by(Prediction.task)
        ).all()
        return {task: int(count) for task, count in rows}

    def in_order(self, task: str, *, site: str | None, model_version: str | None) -> Sequence[Prediction]:
        """Oldest first."""
        filters = PredictionFilter(task=task, site=site, model_version=model_version)
        return self.session.scalars(
            select(Prediction)
            .where(*self._conditions(filters))
            .order_by(Prediction.created_at, Prediction.id)
        ).all()

    @staticmethod
    def _conditions(filters: PredictionFilter) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if filters.task is not None:
            conditions.append(Prediction.task == filters.task)
        if filters.status is not None:
            conditions.append(Prediction.status == filters.status)
        if filters.site is not None:
            conditions.append(Prediction.site == filters.site)
        if filters.model_version is not None:
            conditions.append(Prediction.model_version_id == filters.model_version)
        if filters.autonomy_level is not None:
            conditions.append(Prediction.autonomy_level == filters.autonomy_level)
        if filters.created_after is not None:
            conditions.append(Prediction.created_at >= filters.created_after)
        if filters.created_before is not None:
            conditions.append(Prediction.created_at < filters.created_before)
        if filters.accession_number is not None:
            conditions.append(Prediction.accession_number == filters.accession_number)
        if filters.external_id is not None:
            conditions.append(Prediction.external_id == filters.external_id)
        return conditions
