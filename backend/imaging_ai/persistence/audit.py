"""Writing audit events (who did what, when, from where). Never pass patient data here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from imaging_ai.persistence.models import AuditEvent


def record_audit_event(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str | None = None,
    target_id: str | None = None,
    client_address: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        client_address=client_address,
        details=details or {},
    )
    session.add(event)
    session.flush()
    return event
