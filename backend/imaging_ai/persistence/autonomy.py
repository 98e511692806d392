"""Queries on autonomy policies and alerts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from imaging_ai.persistence.models import Alert, AutonomyPolicy, Prediction
from imaging_ai.vocabulary import AutonomyLevel


class AutonomyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def policy(self, task: str, site: str) -> AutonomyPolicy | None:
        return self.session.get(AutonomyPolicy, (task, site))

    def add_policy(self, policy: AutonomyPolicy) -> AutonomyPolicy:
        self.session.add(policy)
        self.session.flush()
        return policy

    def raised_policies(self, task: str) -> Sequence[AutonomyPolicy]:
        return self.session.scalars(
            select(AutonomyPolicy).where(
                AutonomyPolicy.task == task, AutonomyPolicy.level != AutonomyLevel.supervised
            )
        ).all()

    def all_policies(self) -> Sequence[AutonomyPolicy]:
        return self.session.scalars(select(AutonomyPolicy)).all()

    def known_sites(self, task: str) -> set[str]:
        """Sites that sent images for the task or have a policy of their own (never `*`)."""
        sent = self.session.scalars(
            select(Prediction.site).where(Prediction.task == task, Prediction.site.is_not(None)).distinct()
        ).all()
        configured = self.session.scalars(
            select(AutonomyPolicy.site).where(AutonomyPolicy.task == task)
        ).all()
        return {str(site) for site in [*sent, *configured]}

    def add_alert(self, alert: Alert) -> Alert:
        self.session.add(alert)
        self.session.flush()
        return alert

    def alert(self, alert_id: uuid.UUID) -> Alert | None:
        return self.session.get(Alert, alert_id)

    def alerts(self, *, task: str | None, open_only: bool, limit: int, offset: int) -> Sequence[Alert]:
        query = select(Alert).order_by(Alert.created_at.desc(), Alert.id).limit(limit).offset(offset)
        if task is not None:
            query = query.where(Alert.task == task)
        if open_only:
            query = query.where(Alert.acknowledged_at.is_(None))
        return self.session.scalars(query).all()
