"""Reading the audit log (writing is `persistence.audit.record_audit_event`, next to each action)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from imaging_ai.persistence.audit import AuditFilter, AuditRepository
from imaging_ai.persistence.models import AuditEvent


class AuditLog:
    def __init__(self, session: Session) -> None:
        self.events = AuditRepository(session)

    def page(self, where: AuditFilter, *, limit: int, offset: int) -> tuple[Sequence[AuditEvent], int]:
        return self.events.page(where, limit=limit, offset=offset)
