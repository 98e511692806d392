"""Training jobs, promotion and rollback."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from imaging_ai.api.deps import PromotionServiceDep, TrainingJobServiceDep
from imaging_ai.api.paging import Offset
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.models import ModelVersionPublic
from imaging_ai.api.schemas.training import JobStatus, ModelChange, TrainingJobCreate, TrainingJobPublic
from imaging_ai.api.security import IsAdmin, requires
from imaging_ai.services.identity import Permission
from imaging_ai.services.model_catalog import read_card

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
        "Queues an adaptation job for the task: fine-tune the active version on the verified training "
        "cases (with replay of the source data), then judge the candidate on the sequestered cases and "
        "the source test set, and promote it only if it is proven better. A worker runs it. One open "
        "job per task (409 otherwise)."
    ),
    responses=error_responses(404, 409, 422),
)
def start_training_job(
    body: TrainingJobCreate, admin: IsAdmin, jobs: TrainingJobServiceDep
) -> TrainingJobPublic:
    parameters = body.parameters.model_dump(exclude_none=True)
    return TrainingJobPublic.from_record(jobs.start(body.task, parameters=parameters, requested_by=admin))


@jobs_router.get(
    "", summary="List training jobs", description="Newest first.", responses=error_responses(404, 422)
)
def list_training_jobs(
    jobs: TrainingJobServiceDep,
    task: str | None = None,
    status: JobStatus | None = None,
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
    description="Makes the version its task's active one (an administrator's override of the gate), with a "
    "reason for the audit log. The previous active version is retired and stays loadable.",
    responses=error_responses(404, 409, 422),
)
def promote_version(
    version: str, body: ModelChange, admin: IsAdmin, promotion: PromotionServiceDep
) -> ModelVersionPublic:
    record = promotion.activate(version, actor=admin, reason=body.reason)
    return ModelVersionPublic.from_record(record, read_card(record))


@changes_router.post(
    "/tasks/{task}/rollback",
    summary="Roll back a task",
    description="Re-activates the version the active one replaced, with a reason for the audit log.",
    responses=error_responses(404, 409, 422),
)
def rollback_task(
    task: str, body: ModelChange, admin: IsAdmin, promotion: PromotionServiceDep
) -> ModelVersionPublic:
    record = promotion.rollback(task, actor=admin, reason=body.reason)
    return ModelVersionPublic.from_record(record, read_card(record))
