"""Pulling a study from the configured PACS (DICOMweb)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from imaging_ai.api.schemas.text import Text
from imaging_ai.services.cases.dicom_intake import InstanceOutcome
from imaging_ai.services.cases.pacs_import import StudyImport

UID_PATTERN = r"^[0-9]+(\.[0-9]+)*$"


class PacsImportRequest(BaseModel):
    """A study to fetch from the PACS at `IMAGING_AI_DICOMWEB_SOURCE_URL`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"study_instance_uid": "1.2.826.0.1.3680043.8.498.12345", "task": "chest-xray-pneumonia"}
            ]
        },
    )

    study_instance_uid: str = Field(
        max_length=64, pattern=UID_PATTERN, description="The study's UID as the PACS knows it."
    )
    task: Text | None = Field(
        default=None,
        max_length=64,
        description="Task of every instance; default: chosen from each instance's modality and body part.",
    )
    site: Text | None = Field(
        default=None,
        max_length=128,
        description="Site label of the images; default: `IMAGING_AI_DICOMWEB_SOURCE_SITE`, else each "
        "instance's institution.",
    )


class ImportedInstance(BaseModel):
    sop_instance_uid: str | None = Field(description="The instance's UID as the PACS knows it.")
    image_id: uuid.UUID | None = Field(description="The stored image; null when refused.")
    prediction_id: uuid.UUID | None = Field(description="Its prediction; null when refused.")
    task: str | None
    received_before: bool = Field(description="True when the instance had been received before.")
    error_code: str | None = Field(
        description="Why the instance was refused (a stable code); null if stored."
    )
    error_message: str | None

    @classmethod
    def of(cls, outcome: InstanceOutcome) -> ImportedInstance:
        return cls(
            sop_instance_uid=outcome.sop_instance_uid,
            image_id=outcome.image_id,
            prediction_id=outcome.prediction_id,
            task=outcome.task,
            received_before=outcome.accepted and not outcome.created,
            error_code=outcome.error_code,
            error_message=outcome.error_message,
        )


class PacsImportResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "study_instance_uid": "1.2.826.0.1.3680043.8.498.12345",
                    "site": "north",
                    "stored": 1,
                    "refused": 1,
                    "instances": [
                        {
                            "sop_instance_uid": "1.2.826.0.1.3680043.8.498.12346",
                            "image_id": "0b8f1f7e-3c39-4d53-9a55-0f5b9d3e2c11",
                            "prediction_id": "5d0c8e7a-1b2c-4d3e-8f90-a1b2c3d4e5f6",
                            "task": "chest-xray-pneumonia",
                            "received_before": False,
                            "error_code": None,
                            "error_message": None,
                        },
                        {
                            "sop_instance_uid": "1.2.826.0.1.3680043.8.498.12347",
                            "image_id": None,
                            "prediction_id": None,
                            "task": None,
                            "received_before": False,
                            "error_code": "no_task_for_instance",
                            "error_message": "No task takes this instance.",
                        },
                    ],
                }
            ]
        }
    )

    study_instance_uid: str
    site: str | None
    stored: int = Field(description="Instances stored (or received before).")
    refused: int = Field(description="Instances refused; each says why.")
    instances: list[ImportedInstance]

    @classmethod
    def of(cls, result: StudyImport) -> PacsImportResult:
        instances = [ImportedInstance.of(outcome) for outcome in result.outcomes]
        refused = sum(1 for instance in instances if instance.error_code is not None)
        return cls(
            study_instance_uid=result.study_instance_uid,
            site=result.site,
            stored=len(instances) - refused,
            refused=refused,
            instances=instances,
        )
