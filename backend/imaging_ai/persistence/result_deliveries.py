"""Queries on the results outbox, including the claim that lets several workers share it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from imaging_ai.persistence.models import ResultDelivery
from imaging_ai.vocabulary import DeliveryStatus


class ResultDeliveryRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, delivery_id: uuid.UUID) -> ResultDelivery | None:
        return self.session.get(ResultDelivery, delivery_id)

    def find(self, prediction_id: uuid.UUID, destination: str) -> ResultDelivery | None:
        return self.session.scalars(
            select(ResultDelivery).where(
                ResultDelivery.prediction_id == prediction_id, ResultDelivery.destination == destination
            )
        ).first()

    def add(self, delivery: ResultDelivery) -> ResultDelivery:
        self.session.add(delivery)
        self.session.flush()
        return delivery

    def page(
        self,
        *,
        prediction_id: uuid.UUID | None,
        status: str | None,
        limit: int,
        offset: int,
    ) -> tuple[Sequence[ResultDelivery], int]:
        query = select(ResultDelivery)
        if prediction_id is not None:
            query = query.where(ResultDelivery.prediction_id == prediction_id)
        if status is not None:
            query = query.where(ResultDelivery.status == status)
        total = int(self.session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = self.session.scalars(
            query.order_by(ResultDelivery.created_at.desc(), ResultDelivery.id).limit(limit).offset(offset)
        ).all()
        return rows, total

    def rearm(self, delivery: ResultDelivery, now: datetime) -> None:
        """Due again at once with a fresh count of attempts (a changed result, or an admin's retry)."""
        delivery.status = DeliveryStatus.pending
        delivery.attempts = 0
        delivery.last_error = None
        delivery.next_attempt_at = now
        self.session.flush()

    def claim_due(self, worker_id: str, now: datetime, until: datetime, limit: int) -> list[uuid.UUID]:
        """Claims up to `limit` pending deliveries whose next attempt is due, for this worker.

        On PostgreSQL the due rows are locked with `SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent
        workers take disjoint rows without waiting; SQLite has no row locks, and there the conditional
        UPDATE is the lock, as for training jobs: of two workers racing for one row only one changes it
        (the other's WHERE no longer matches). The conditional UPDATE guards on both. A claim expires at
        `until`, so a row whose worker died is taken up again.
        """
        claimable = (
            ResultDelivery.status == DeliveryStatus.pending,
            ResultDelivery.next_attempt_at <= now,
            or_(ResultDelivery.claimed_until.is_(None), ResultDelivery.claimed_until < now),
        )
        due = (
            select(ResultDelivery.id).where(*claimable).order_by(ResultDelivery.next_attempt_at).limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        claimed: list[uuid.UUID] = []
        for delivery_id in self.session.scalars(due).all():
            result = self.session.execute(
                update(ResultDelivery)
                .where(ResultDelivery.id == delivery_id, *claimable)
                .values(claimed_by=worker_id, claimed_until=until)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(delivery_id)
        self.session.flush()
        return claimed

    def update_claimed(self, delivery_id: uuid.UUID, worker_id: str, **values: Any) -> bool:
        """Sets columns of a delivery this worker still holds, releasing the claim; False if it lost it."""
        result = self.session.execute(
            update(ResultDelivery)
            .where(ResultDelivery.id == delivery_id, ResultDelivery.claimed_by == worker_id)
            .values(claimed_by=None, claimed_until=None, **values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def counts_by_status(self) -> dict[str, int]:
        rows = self.session.execute(
            select(ResultDelivery.status, func.count()).group_by(ResultDelivery.status)
        ).all()
        return {status: int(count) for status, count in rows}
