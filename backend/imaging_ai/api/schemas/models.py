"""Tasks and model versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from imaging_ai.ml.tasks import TaskSpec
from imaging_ai.persistence.models import ModelVersion

ModelStatus = Literal["candidate", "active", "retired", "rejected"]


class TaskPublic(BaseModel):
    name: str = Field(examples=["chest-xray-pneumonia"])
    title: str
    description: str
    modality: str = Field(description="DICOM modality the task is for.", examples=["CR"])
    accepted_modalities: list[str] = Field(description="DICOM modalities accepted (PNG/JPEG always are).")
    labels: list[str] = Field(description="Ordered label set.", examples=[["normal", "pneumonia"]])
    active_version: str | None = Field(description="The version answering predictions now.")

    @classmethod
    def from_spec(cls, spec: TaskSpec, active_version: str | None) -> TaskPublic:
        return cls(
            name=spec.name,
            title=spec.title,
            description=spec.description,
            modality=spec.modality,
            accepted_modalities=sorted(spec.accepted_modalities),
            labels=list(spec.labels),
            active_version=active_version,
        )


class ModelVersionPublic(BaseModel):
    id: str = Field(examples=["chest-xray-pneumonia.v1"])
    task: str
    status: ModelStatus
    parent: str | None = Field(description="The version this one was fine-tuned from.")
    weights_sha256: str
    created_at: datetime
    activated_at: datetime | None
    metrics: dict[str, Any] = Field(
        default_factory=dict, description="Metrics per named evaluation set, from the model card."
    )

    @classmethod
    def from_record(cls, version: ModelVersion, card: dict[str, Any] | None) -> ModelVersionPublic:
        return cls(
            id=version.id,
            task=version.task,
            status=version.status,
            parent=version.parent_id,
            weights_sha256=version.weights_sha256,
            created_at=version.created_at,
            activated_at=version.activated_at,
            metrics=(card or {}).get("metrics", {}),
        )


class ModelVersionDetail(ModelVersionPublic):
    lineage: list[str] = Field(description="Ancestors, nearest first (parent, grandparent, ...).")
    children: list[str] = Field(description="Versions fine-tuned from this one.")
    card: dict[str, Any] | None = Field(description="The full model card (JSON) from the model store.")
