"""The audit log, for administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from imaging_ai.api.deps import AuditLogDep
from imaging_ai.api.paging import AwareFilterDatetime, Offset
from imaging_ai.api.schemas.audit import AuditEventPublic, AuditPage
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.text import Text
from imaging_ai.api.security import IsAdmin
from imaging_ai.persistence.audit import AuditFilter

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get(
    "",
    summary="Read the audit log",
    description=(
        "Sign-ins (and failures), sign-outs, user and role changes, API key creation and revocation, "
        "verdicts, training jobs, promotions and rollbacks: who, what, when, from where. Newest first. "
        "`action` filters exactly, or by prefix when it ends with a dot (`auth.`)."
    ),
    responses=error_responses(422),
)
def list_audit_events(
    _admin: IsAdmin,
    audit: AuditLogDep,
    actor: Annotated[Text | None, Query(max_length=128)] = None,
    action: Annotated[Text | None, Query(max_length=64)] = None,
    target_type: Annotated[Text | None, Query(max_length=64)] = None,
    target_id: Annotated[Text | None, Query(max_length=128)] = None,
    since: AwareFilterDatetime | None = None,
    until: AwareFilterDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> AuditPage:
    where = AuditFilter(
        actor=actor, action=action, target_type=target_type, target_id=target_id, since=since, until=until
    )
    items, total = audit.page(where, limit=limit, offset=offset)
    return AuditPage(
        items=[AuditEventPublic.from_record(event) for event in items],
        total=total,
        limit=limit,
        offset=offset,
    )
