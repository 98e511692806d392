"""Request and response models of the prediction routes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from imaging_ai.api.schemas.vocabulary import AutonomyLevel, OperatingPointSource, PredictionStatus, Routing
from imaging_ai.persistence.models import Prediction
from imaging_ai.services.accounts.identity import Principal
from imaging_ai.services.cases.predictions import answer_visible


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
                    "accession_number": "3f1c0b9e5d7a42c8a6e1f0b2d4c6e8a0",
                    "external_id": None,
                    "inference_ms": 31.4,
                    "created_at": "2026-11-27T09:30:01Z",
                    "autonomy_level": "supervised",
                    "finalized_by": None,
                    "audit_sample": False,
                    "routing": "site",
                    "decision_threshold": 0.31,
                    "operating_point": "site",
                    "blind_read": False,
                    "answer_hidden": False,
                    "out_of_distribution": False,
                    "ood_distance": 21.7,
                },
                {
                    "id": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b",
                    "image_id": "1c9e2f8a-4d4a-4e64-8b66-1a6c0e4f3d22",
                    "task": "chest-xray-pneumonia",
                    "model_version": "chest-xray-pneumonia.v1",
                    "probabilities": None,
                    "predicted_label": None,
                    "confidence": None,
                    "uncertainty": None,
                    "status": "pending_review",
                    "site": "nih",
                    "accession_number": None,
                    "external_id": None,
                    "inference_ms": 30.9,
                    "created_at": "2026-11-27T09:31:12Z",
                    "autonomy_level": "supervised",
                    "finalized_by": None,
                    "audit_sample": False,
                    "routing": "site",
                    "decision_threshold": None,
                    "operating_point": "site",
                    "blind_read": True,
                    "answer_hidden": True,
                    "out_of_distribution": False,
                    "ood_distance": None,
                },
            ]
        }
    )

    id: uuid.UUID
    image_id: uuid.UUID
    task: str
    model_version: str = Field(description="The model version that made this prediction.")
    probabilities: dict[str, float] | None = Field(
        description="Calibrated probability per label (sums to 1). Null while the answer is hidden."
    )
    predicted_label: str | None = Field(description="The AI's answer. Null while the answer is hidden.")
    confidence: float | None = Field(
        ge=0, le=1, description="Calibrated probability of the predicted label. Null while hidden."
    )
    uncertainty: float | None = Field(
        ge=0,
        le=1,
        description="Normalised entropy of the probabilities: 0 certain, 1 uninformative. Null while hidden.",
    )
    status: PredictionStatus = Field(description="`pending_review` until a clinician gives a verdict.")
    site: str | None
    accession_number: str | None = Field(
        description="The pseudonym of the accession number sent: a keyed hash (HMAC-SHA256 with the "
        "service's pseudonym key, 32 hex digits), never the number itself. Filter by the number in clear."
    )
    external_id: str | None = Field(
        description="The pseudonym of the caller's external id: a keyed hash like `accession_number`."
    )
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
    routing: Routing = Field(
        description="How `model_version` was chosen: the site's own version, or the task's default."
    )
    decision_threshold: float | None = Field(
        description="Two-label tasks: `predicted_label` is the positive label when its probability is at or "
        "above this. Null: the label of highest probability (or the answer is hidden)."
    )
    operating_point: OperatingPointSource = Field(
        description="Where the threshold came from: the site's verified cases, the version's validation "
        "data, or none (predictions made before operating points are `argmax`)."
    )

    blind_read: bool = Field(
        description="Drawn to be read blind: the clinician labels the image without the AI's answer, which "
        "is hidden until a verdict is given (`read` with a label, or `unreadable`)."
    )
    answer_hidden: bool = Field(
        description="The answer fields are withheld from this caller: a blind read not read yet. A service "
        "account still receives an answer that is already final (an automatic answer drawn for audit)."
    )
    out_of_distribution: bool | None = Field(
        description="The image lies outside what the version was trained on (its features' Mahalanobis "
        "distance is beyond the version's threshold): never finalised automatically. Null: the version "
        "has no guard, and nothing it answers is finalised automatically."
    )
    ood_distance: float | None = Field(
        description="Mahalanobis distance of the image's features from the version's training features."
    )

    @classmethod
    def from_record(cls, prediction: Prediction, viewer: Principal | None) -> PredictionPublic:
        """``viewer``: the caller; None for a trusted internal reader that may see every answer."""
        hidden = viewer is not None and not answer_visible(prediction, viewer)
        return cls(
            id=prediction.id,
            image_id=prediction.image_id,
            task=prediction.task,
            model_version=prediction.model_version_id,
            probabilities=None if hidden else prediction.probabilities,
            predicted_label=None if hidden else prediction.predicted_label,
            confidence=None if hidden else prediction.confidence,
            uncertainty=None if hidden else prediction.uncertainty,
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
            decision_threshold=None if hidden else prediction.decision_threshold,
            operating_point=prediction.operating_point,
            blind_read=prediction.blind_read,
            answer_hidden=hidden,
            out_of_distribution=prediction.out_of_distribution,
            ood_distance=None if hidden else prediction.ood_distance,
        )


class PredictionPage(BaseModel):
    items: list[PredictionPublic]
    total: int = Field(description="Number of predictions matching the filters.")
    limit: int
    offset: int
