"""Verdicts."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from imaging_ai.api.schemas.text import FreeText, Text
from imaging_ai.api.schemas.vocabulary import GivenVerdict, Verdict
from imaging_ai.persistence.models import Feedback


class VerdictCreate(BaseModel):
    """A clinician's verdict on a prediction."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "verdict": "disagree",
                    "label": "normal",
                    "notes": "Old scarring, no consolidation.",
                },
                {"verdict": "agree"},
                {"verdict": "read", "label": "pneumonia"},
            ]
        },
    )

    verdict: GivenVerdict = Field(
        description="`agree` with the AI, `disagree` (give the correct `label`), `unreadable` (excluded "
        "from training and metrics), or `read`: the `label` you see, the only way to answer a blind read "
        "(`blind_read: true`, answer hidden); it is stored as `agree` or `disagree`."
    )
    label: Text | None = Field(
        default=None, max_length=64, description="The correct label; required to disagree and to read."
    )
    notes: FreeText | None = Field(default=None, max_length=4000)


class VerdictPublic(BaseModel):
    id: uuid.UUID
    prediction_id: uuid.UUID
    sequence: int = Field(description="1 for the first verdict on the prediction, 2 for the next...")
    verdict: Verdict
    label: str | None
    reviewer: str = Field(description="The user name of the clinician who gave it (from their sign-in).")
    notes: str | None
    blind: bool = Field(description="Given without the AI's answer in view (a blind read).")
    created_at: datetime

    @classmethod
    def from_record(cls, feedback: Feedback) -> VerdictPublic:
        return cls(
            id=feedback.id,
            prediction_id=feedback.prediction_id,
            sequence=feedback.sequence,
            verdict=feedback.verdict,
            label=feedback.label,
            reviewer=feedback.reviewer,
            notes=feedback.notes,
            blind=feedback.blind,
            created_at=feedback.created_at,
        )


class VerdictHistory(BaseModel):
    prediction_id: uuid.UUID
    predicted_label: str | None = Field(
        description="The AI's answer (never changed); null while the case awaits its blind read."
    )
    label_of_record: str | None = Field(
        description="The latest verdict's label (the AI's for `agree`); null when unreviewed or unreadable."
    )
    verdicts: list[VerdictPublic] = Field(description="Oldest first; the last one is in force.")
