"""Earned autonomy: levels with their evidence and recommendation, changes by admins, alerts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from imaging_ai.api.deps import AutonomyServiceDep, SettingsDep
from imaging_ai.api.paging import Offset
from imaging_ai.api.schemas.autonomy import AlertPublic, AutonomyChange, AutonomyOverview, SiteAutonomyPublic
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.security import CanReview, IsAdmin, requires
from imaging_ai.services.identity import Permission

router = APIRouter(prefix="/api/v1", tags=["autonomy"])


@router.get(
    "/tasks/{task}/autonomy",
    summary="Autonomy levels and their evidence",
    description=(
        "For the task as a whole (`*`) and each site: the level in force, the evidence on the active version "
        "(verdicts, agreement, sensitivity, specificity, calibration, accuracy above the threshold, audited "
        "agreement, each with a Wilson 95% interval), the site's input drift, and the recommended level."
    ),
    dependencies=[requires(Permission.READ)],
    responses=error_responses(404),
)
def get_autonomy(task: str, autonomy: AutonomyServiceDep, settings: SettingsDep) -> AutonomyOverview:
    return AutonomyOverview(
        task=task,
        target=settings.autonomy_target,
        min_verdicts=settings.autonomy_min_verdicts,
        sites=[SiteAutonomyPublic.of(site) for site in autonomy.overview(task)],
    )


@router.put(
    "/tasks/{task}/autonomy",
    summary="Change an autonomy level",
    description=(
        "An administrator's decision, with a reason (audit log). Lowering is always allowed; raising only as "
        "far as the evidence recommends (409 `autonomy_not_earned` otherwise). Levels also fall back to "
        "`supervised` by themselves, with an alert."
    ),
    responses=error_responses(404, 409, 422),
)
def change_autonomy(
    task: str, body: AutonomyChange, admin: IsAdmin, autonomy: AutonomyServiceDep
) -> SiteAutonomyPublic:
    return SiteAutonomyPublic.of(
        autonomy.apply(
            admin,
            task,
            site=body.site,
            level=body.level,
            reason=body.reason,
            confidence_threshold=body.confidence_threshold,
            audit_fraction=body.audit_fraction,
        )
    )


@router.get(
    "/alerts",
    summary="Alerts",
    description="Automatic fall-backs to supervision (agreement dropped, new version, input drift), newest "
    "first.",
    dependencies=[requires(Permission.READ)],
    responses=error_responses(422),
)
def list_alerts(
    autonomy: AutonomyServiceDep,
    task: str | None = None,
    open_only: Annotated[bool, Query(description="Only the unacknowledged ones.")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> list[AlertPublic]:
    alerts = autonomy.alerts(task=task, open_only=open_only, limit=limit, offset=offset)
    return [AlertPublic.from_record(alert) for alert in alerts]


@router.post(
    "/alerts/{alert_id}/acknowledge",
    summary="Acknowledge an alert",
    responses=error_responses(404, 422),
)
def acknowledge_alert(alert_id: uuid.UUID, reviewer: CanReview, autonomy: AutonomyServiceDep) -> AlertPublic:
    return AlertPublic.from_record(autonomy.acknowledge(reviewer, alert_id))
