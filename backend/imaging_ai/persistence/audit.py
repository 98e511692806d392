"""Writing and reading audit events (who did what, when, from where). Never pass patient data here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from imaging_ai.persistence.models import AuditEvent


class AuditActor(Protocol):
    """Whoever an event is attributed to (a signed-in principal, the system, or the name a sign-in
    attempt gave), and the address the request came from."""

    @property
    def username(self) -> str: ...

    @property
    def client_address(self) -> str | None: ...


def record_audit_event(
    session: Session,
    actor: AuditActor,
    action: str,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor=actor.username,
        action=action,
        target_type=target_type,
        target_id=target_id,
        client_address=actor.client_address,
        details=details or {},
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.actor is not None:
            conditions.append(AuditEvent.actor == self.actor)
        if self.action is not None:
            # `auth.` matches every authentication event; a full name matches exactly.
            if self.action.endswith("."):
                conditions.append(AuditEvent.action.startswith(self.action, autoescape=True))
            else:
                conditions.append(AuditEvent.action == self.action)
        if self.target_type is not None:
            conditions.append(AuditEvent.target_type == self.target_type)
        if self.target_id is not None:
            conditions.append(AuditEvent.target_id == self.target_id)
        if self.since is not None:
            conditions.append(AuditEvent.occurred_at >= self.since)
        if self.until is not None:
            conditions.append(AuditEvent.occurred_at < self.until)
        return conditions


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def page(self, where: AuditFilter, *, limit: int, offset: int) -> tuple[Sequence[AuditEvent], int]:
        """Newest first, with the total number of matching events."""
        conditions = where.conditions()
        total = self.session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions))
        items = self.session.scalars(
            select(AuditEvent)
            .where(*conditions)
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        return items, int(total or 0)
