"""Request and response models of the prediction routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from imaging_ai.persistence.models import Prediction

PredictionStatus = Literal["pending_review", "reviewed", "final"]
AutonomyLevel = Literal["supervised", "semi_autonomous", "autonomous"]


class PredictionPublic(BaseModel):
    """One model answer for one image, from a named model version."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5d0c8e7a-1b2c-4d3e-8f90-a1b2c3d4e5f6",
                    "image_id": "0b8f1f7e-3c39-4d53-9a55-0f5b9d3e2c11",
                    "task": "chest-xray-pneumonia",
                    "model_version": "chest-xray-pneumonia.v1",
                    "probabilities": {"normal": 0.08, "pneumonia": 0.92},
                    "predicted_label": "pneumonia",
                    "confidence": 0.92,
                    "uncertainty": 0.402,
                    "status": "pending_review",
                    "site": "nih",
                    "accession_number": "ACC-2026-0001",
                    "external_id": None,
                    "inference_ms": 31.4,
                    "created_at": "2026-11-27T09:30:01Z",
                    "autonomy_level": "supervised",
                    "finalized_by": None,
                    "audit_sample": False,
                    "routing": "site",
                    "decision_threshold": 0.31,
                    "operating_point": "site",
                }
            ]
        }
    )

    id: uuid.UUID
    image_id: uuid.UUID
    task: str
    model_version: str = Field(description="The model version that made this prediction.")
    probabilities: dict[str, float] = Field(description="Calibrated probability per label (sums to 1).")
    predicted_label: str
    confidence: float = Field(ge=0, le=1, description="Calibrated probability of the predicted label.")
    uncertainty: float = Field(
        ge=0, le=1, description="Normalised entropy of the probabilities: 0 certain, 1 uninformative."
    )
    status: PredictionStatus = Field(description="`pending_review` until a clinician gives a verdict.")
    site: str | None
    accession_number: str | None
    external_id: str | None
    inference_ms: float = Field(
        description="Model time in milliseconds: preprocessing and the forward pass (plus decoding when the "
        "image is read back from storage)."
    )
    created_at: datetime
    autonomy_level: AutonomyLevel = Field(
        description="The task's level at the prediction's site when it was made."
    )
    finalized_by: str | None = Field(
        description="The rule that made the answer final without a clinician (`rule:...`); null when a "
        "clinician's verdict is needed (or was given)."
    )
    audit_sample: bool = Field(description="Finalised automatically, but drawn for review anyway.")
    routing: Literal["site", "default"] = Field(
        description="How `model_version` was chosen: the site's own version, or the task's default."
    )
    decision_threshold: float | None = Field(
        description="Two-label tasks: `predicted_label` is the positive label when its probability is at or "
        "above this. Null: the label of highest probability."
    )
    operating_point: Literal["site", "version", "argmax"] = Field(
        description="Where the threshold came from: the site's verified cases, the version's validation "
        "data, or none (predictions made before operating points are `argmax`)."
    )

    @classmethod
    def from_record(cls, prediction: Prediction) -> PredictionPublic:
        return cls(
            id=prediction.id,
            image_id=prediction.image_id,
            task=prediction.task,
            model_version=prediction.model_version_id,
            probabilities=prediction.probabilities,
            predicted_label=prediction.predicted_label,
            confidence=prediction.confidence,
            uncertainty=prediction.uncertainty,
            status=prediction.status,
            site=prediction.site,
            accession_number=prediction.accession_number,
            external_id=prediction.external_id,
            inference_ms=prediction.inference_ms,
            created_at=prediction.created_at,
            autonomy_level=prediction.autonomy_level,
            finalized_by=prediction.finalized_by,
            audit_sample=prediction.audit_sample,
            routing=prediction.routing,
            decision_threshold=prediction.decision_threshold,
            operating_point=prediction.operating_point,
        )


class PredictionPage(BaseModel):
    items: list[PredictionPublic]
    total: int = Field(description="Number of predictions matching the filters.")
    limit: int
    offset: int
