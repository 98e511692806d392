"""Earned autonomy: levels with their evidence and recommendation, changes by admins, alerts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from imaging_ai.api.deps import AutonomyServiceDep, SettingsDep
from imaging_ai.api.paging import Offset
from imaging_ai.api.schemas.autonomy import AlertPublic, AutonomyChange, AutonomyOverview, SiteAutonomyPublic
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.text import Text
from imaging_ai.api.security import CanReview, IsAdmin, requires
from imaging_ai.services.accounts.identity import Permission

router = APIRouter(prefix="/api/v1", tags=["autonomy"])


@router.get(
    "/tasks/{task}/autonomy",
    summary="Autonomy levels and their evidence",
    description=(
        "For each site: the level in force, the per-label certification on blind reads of the version "
        "serving the site (a fixed sequence of confidence thresholds, each with a time-uniform error bound "
        "against the label's target), the descriptive agreement, sensitivity and specificity, the drift test "
        "with the out-of-distribution rate, and the recommended level. There is no task-wide level."
    ),
    dependencies=[requires(Permission.READ)],
    responses=error_responses(404),
)
def get_autonomy(task: Text, autonomy: AutonomyServiceDep, settings: SettingsDep) -> AutonomyOverview:
    sites = [SiteAutonomyPublic.of(site) for site in autonomy.overview(task)]
    return AutonomyOverview(
        task=task,
        error_targets=dict(settings.autonomy_error_targets.get(task, {})),
        alpha=settings.autonomy_alpha,
        sites=sites,
    )


@router.put(
    "/tasks/{task}/autonomy",
    summary="Change an autonomy level",
    description=(
        "An administrator's decision for one site, with a reason (audit log). Lowering is always allowed; "
        "raising only as far as the certification allows (409 `autonomy_not_earned` otherwise; 422 "
        "`site_required` for `*`). Levels also fall back to `supervised` by themselves, with an alert."
    ),
    responses=error_responses(404, 409, 422),
)
def change_autonomy(
    task: Text, body: AutonomyChange, admin: IsAdmin, autonomy: AutonomyServiceDep
) -> SiteAutonomyPublic:
    return SiteAutonomyPublic.of(
        autonomy.apply(
            admin,
            task,
            site=body.site,
            level=body.level,
            reason=body.reason,
            class_thresholds=body.class_thresholds,
            blind_read_fraction=body.blind_read_fraction,
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
    task: Text | None = None,
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
