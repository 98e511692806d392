"""Liveness and readiness probes for orchestrators and load balancers."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import text

from imaging_ai.api.deps import StateDep
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.health import Liveness, Readiness, ReadinessCheck
from imaging_ai.api.security import PUBLIC
from imaging_ai.persistence.migrations import current_revisions, head_revisions

router = APIRouter(tags=["health"], dependencies=[PUBLIC])


@router.get("/healthz", summary="Liveness", description="The process is up and answering.")
def healthz() -> Liveness:
    return Liveness()


@router.get(
    "/readyz",
    summary="Readiness",
    description="Ready to serve: the database is reachable, its schema is at the latest migration and "
    "the image store is writable. Answers 503 with the failing checks otherwise.",
    responses={503: {"model": Readiness, "description": "Not ready."}, **error_responses()},
)
def readyz(state: StateDep, response: Response) -> Readiness:
    checks: dict[str, ReadinessCheck] = {}
    try:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = ReadinessCheck(ok=True)
    except Exception as exc:
        checks["database"] = ReadinessCheck(ok=False, detail=type(exc).__name__)
    if checks["database"].ok:
        current, heads = current_revisions(state.engine), head_revisions()
        at_head = current == heads
        checks["migrations"] = ReadinessCheck(
            ok=at_head,
            detail=None if at_head else f"at {sorted(current) or 'nothing'}, head is {sorted(heads)}",
        )
    else:
        checks["migrations"] = ReadinessCheck(ok=False, detail="database unreachable")
    writable = state.blob_store.is_writable()
    checks["storage"] = ReadinessCheck(ok=writable, detail=None if writable else "image store not writable")
    ready = all(check.ok for check in checks.values())
    if not ready:
        response.status_code = 503
    return Readiness(status="ready" if ready else "not_ready", checks=checks)
