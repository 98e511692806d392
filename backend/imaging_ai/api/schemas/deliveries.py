"""Results sent back to the PACS: the delivery of each prediction's result to each destination."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from imaging_ai import vocabulary as v
from imaging_ai.api.schemas.vocabulary import DeliveryStatus
from imaging_ai.persistence.models import ResultDelivery
from imaging_ai.services.results.stow import redacted


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b7f3c1e-5d2a-4f7e-9a51-3c2d7e0f9a11",
                    "prediction_id": "5a0c9d7e-1b2f-4c3d-8e9f-0a1b2c3d4e5f",
                    "destination": "http://pacs:8042/dicom-web",
                    "status": "pending",
                    "attempts": 2,
                    "next_attempt_at": "2026-12-04T16:32:00Z",
                    "last_error": "could not reach http://pacs:8042/dicom-web (ConnectError)",
                    "sent_final": None,
                    "sent_sop_instance_uids": [],
                    "created_at": "2026-12-04T16:30:00Z",
                    "sent_at": None,
                }
            ]
        }
    )

    id: uuid.UUID
    prediction_id: uuid.UUID
    destination: str = Field(description="The DICOMweb base URL sent to (without credentials or query).")
    status: DeliveryStatus = Field(
        description="`pending`: waiting for its next attempt (or for the worker); `sent`: the destination "
        "stored every instance; `failed`: given up after the last attempt (an administrator may retry)."
    )
    attempts: int = Field(description="Attempts made since it was last queued or retried.")
    next_attempt_at: datetime = Field(description="When a pending delivery is next tried.")
    last_error: str | None = Field(
        description="Why the last attempt failed (connection, HTTP status, refused instances)."
    )
    sent_final: bool | None = Field(
        description="Whether the last result sent was final (false: preliminary); null before any is sent."
    )
    sent_sop_instance_uids: list[str] = Field(
        description="SOP Instance UIDs the destination stored, oldest first: per result a heatmap "
        "(Secondary Capture) and a Structured Report."
    )
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def from_record(cls, record: ResultDelivery) -> DeliveryPublic:
        return cls(
            id=record.id,
            prediction_id=record.prediction_id,
            destination=redacted(record.destination),
            status=v.DeliveryStatus(record.status),
            attempts=record.attempts,
            next_attempt_at=record.next_attempt_at,
            last_error=record.last_error,
            sent_final=record.sent_final,
            sent_sop_instance_uids=[str(uid) for uid in record.sent_sop_instance_uids],
            created_at=record.created_at,
            sent_at=record.sent_at,
        )


class DeliveryPage(BaseModel):
    items: list[DeliveryPublic]
    total: int = Field(description="Number of deliveries matching the filters.")
    limit: int
    offset: int
