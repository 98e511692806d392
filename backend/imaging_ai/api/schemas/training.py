"""Training jobs, promotion and rollback."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from imaging_ai.api.schemas.text import FreeText, Text
from imaging_ai.api.schemas.vocabulary import PromotionDecision, TrainingJobStatus, TrainingTrigger
from imaging_ai.persistence.models import TrainingJob


class TrainingParameters(BaseModel):
    """Optional overrides of the adaptation defaults."""

    model_config = ConfigDict(extra="forbid")

    epochs: int | None = Field(default=None, ge=1, le=50)
    learning_rate: float | None = Field(default=None, gt=0, le=0.1)
    batch_size: int | None = Field(default=None, ge=2, le=256)
    patience: int | None = Field(default=None, ge=1, le=50)
    replay_ratio: float | None = Field(
        default=None, ge=0, le=10, description="Source images replayed per site case."
    )
    freeze_batchnorm: bool | None = Field(default=None, description="Keep the parent batch-norm statistics.")
    max_replay: int | None = Field(default=None, ge=0, le=10000, description="Cap on replayed source images.")
    seed: int | None = Field(default=None, ge=0)


class TrainingJobCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"task": "chest-xray-pneumonia"}]},
    )

    task: Text = Field(max_length=64)
    site: Text | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The site to adapt to (its verified cases; promoted for it when proven there). "
        "Omitted: adapt the task's default on every site's cases.",
        examples=["nih"],
    )
    parameters: TrainingParameters = Field(default_factory=TrainingParameters)


class TrainingJobPublic(BaseModel):
    id: uuid.UUID
    task: str
    site: str | None = Field(description="The site adapted to; null: every site, for the default.")
    status: TrainingJobStatus
    trigger: TrainingTrigger
    requested_by: str | None = Field(description="Who started it: a user name, or `system` (automatic).")
    parameters: dict[str, Any]
    progress: dict[str, Any] = Field(description="Stage, epoch, losses and validation metrics so far.")
    training_set: dict[str, Any] | None = Field(
        description="Case ids and counts per site and label trained on."
    )
    candidate_version: str | None
    decision: PromotionDecision | None
    decision_reason: str | None = Field(description="Why the candidate was or was not promoted.")
    evaluation: dict[str, Any] | None = Field(
        description="The gate's comparisons (candidate vs the version it would replace, paired by patient: "
        "AUC difference with its 95% interval, share of resamples better, sensitivity at the served "
        "thresholds), the policy, and `looks`: how many comparisons have been made on this site's "
        "sequestered cases, this one included."
    )
    error: str | None
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_record(cls, job: TrainingJob) -> TrainingJobPublic:
        return cls(
            id=job.id,
            task=job.task,
            site=job.site,
            status=job.status,
            trigger=job.trigger,
            requested_by=job.requested_by,
            parameters=job.parameters,
            progress=job.progress,
            training_set=job.training_set,
            candidate_version=job.candidate_version_id,
            decision=job.decision,
            decision_reason=job.decision_reason,
            evaluation=job.evaluation,
            error=job.error,
            cancel_requested=job.cancel_requested,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


class ModelChange(BaseModel):
    """An administrator's promotion or rollback."""

    model_config = ConfigDict(extra="forbid")

    reason: FreeText = Field(min_length=3, max_length=2000, description="Why; written to the audit log.")
    site: Text | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The site to change; omitted: the task's default.",
        examples=["nih"],
    )
