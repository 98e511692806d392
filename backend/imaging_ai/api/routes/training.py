"""Training jobs, promotion and rollback."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from imaging_ai.api.deps import ModelCatalogDep, PromotionServiceDep, TrainingJobServiceDep
from imaging_ai.api.paging import Offset
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.models import ModelVersionPublic
from imaging_ai.api.schemas.text import Text
from imaging_ai.api.schemas.training import ModelChange, TrainingJobCreate, TrainingJobPublic
from imaging_ai.api.schemas.vocabulary import TrainingJobStatus
from imaging_ai.api.security import IsAdmin, requires
from imaging_ai.services.accounts.identity import Permission

# Training and model changes are for administrators only, reads included (the web app's Models screen).
jobs_router = APIRouter(
    prefix="/api/v1/training-jobs", tags=["training"], dependencies=[requires(Permission.ADMIN)]
)
changes_router = APIRouter(prefix="/api/v1", tags=["models"], dependencies=[requires(Permission.ADMIN)])


@jobs_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Start a training job",
    description=(
        "Queues an adaptation job. With a `site`: fine-tune the version serving that site on the site's "
        "verified training cases (with replay of the source data), judge it against that version on the "
        "site's sequestered cases (paired, by patient) and promote it for the site only if it is proven "
        "better; it also becomes the task's default only if it is non-inferior on every other site with "
        "enough sequestered cases and on the source gate half. Without a site: the default is adapted on "
        "every site's cases and judged on all of them. A worker runs it. One open job per task and site "
        "(409 otherwise)."
    ),
    responses=error_responses(404, 409, 422),
)
def start_training_job(
    body: TrainingJobCreate, admin: IsAdmin, jobs: TrainingJobServiceDep
) -> TrainingJobPublic:
    parameters = body.parameters.model_dump(exclude_none=True)
    return TrainingJobPublic.from_record(
        jobs.start(body.task, parameters=parameters, requested_by=admin, site=body.site)
    )


@jobs_router.get(
    "", summary="List training jobs", description="Newest first.", responses=error_responses(404, 422)
)
def list_training_jobs(
    jobs: TrainingJobServiceDep,
    task: Text | None = None,
    status: TrainingJobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> list[TrainingJobPublic]:
    return [
        TrainingJobPublic.from_record(job)
        for job in jobs.page(task=task, status=status, limit=limit, offset=offset)
    ]


@jobs_router.get("/{job_id}", summary="Get a training job", responses=error_responses(404, 422))
def get_training_job(job_id: uuid.UUID, jobs: TrainingJobServiceDep) -> TrainingJobPublic:
    return TrainingJobPublic.from_record(jobs.get(job_id))


@jobs_router.post(
    "/{job_id}/cancel",
    summary="Cancel a training job",
    description="A queued job is cancelled at once; a running one stops at its next check and cleans up.",
    responses=error_responses(404, 409, 422),
)
def cancel_training_job(job_id: uuid.UUID, admin: IsAdmin, jobs: TrainingJobServiceDep) -> TrainingJobPublic:
    return TrainingJobPublic.from_record(jobs.cancel(job_id, actor=admin))


@changes_router.post(
    "/models/{version}/promote",
    summary="Promote a version",
    description="An administrator's override of the gate, with a reason for the audit log. With a `site`: "
    "the version serves that site from now on. Without: it becomes the task's default (the previous "
    "default is retired and stays loadable). Autonomy earned where it now serves drops to supervised.",
    responses=error_responses(404, 409, 422),
)
def promote_version(
    version: Text,
    body: ModelChange,
    admin: IsAdmin,
    promotion: PromotionServiceDep,
    catalog: ModelCatalogDep,
) -> ModelVersionPublic:
    promoted = promotion.promote(version, site=body.site, actor=admin, reason=body.reason)
    view = catalog.version(promoted.id)
    return ModelVersionPublic.from_record(view.record, view.card, view.serving_sites)


@changes_router.post(
    "/tasks/{task}/rollback",
    summary="Roll back a task",
    description="Without a `site`: re-activates the default the current one replaced. With a `site`: the "
    "site goes back to the version its own was trained from, or to the task's default. With a reason for "
    "the audit log; answers the version now serving.",
    responses=error_responses(404, 409, 422),
)
def rollback_task(
    task: Text,
    body: ModelChange,
    admin: IsAdmin,
    promotion: PromotionServiceDep,
    catalog: ModelCatalogDep,
) -> ModelVersionPublic:
    serving = promotion.rollback(task, actor=admin, reason=body.reason, site=body.site)
    view = catalog.version(serving.id)
    return ModelVersionPublic.from_record(view.record, view.card, view.serving_sites)
