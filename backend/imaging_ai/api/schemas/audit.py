"""The audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from imaging_ai.persistence.models import AuditEvent


class AuditEventPublic(BaseModel):
    id: int
    occurred_at: datetime
    actor: str = Field(description="The user name (or `system`, `cli`) that acted.")
    action: str = Field(examples=["feedback.verdict", "model.promote", "auth.login_failed"])
    target_type: str | None
    target_id: str | None
    client_address: str | None
    details: dict[str, Any]

    @classmethod
    def from_record(cls, event: AuditEvent) -> AuditEventPublic:
        return cls(
            id=event.id,
            occurred_at=event.occurred_at,
            actor=event.actor,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            client_address=event.client_address,
            details=event.details,
        )


class AuditPage(BaseModel):
    items: list[AuditEventPublic] = Field(description="Newest first.")
    total: int = Field(description="Events matching the filters.")
    limit: int
    offset: int
