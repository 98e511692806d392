"""Received DICOM studies and series (their UIDs are the keyed pseudonyms stored, not the sender's)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from imaging_ai.api.schemas.predictions import PredictionPublic
from imaging_ai.persistence.studies import SeriesRow, StudyRow
from imaging_ai.services.accounts.identity import Principal
from imaging_ai.services.cases.studies import SERIES_RULE, SeriesAnswer, SeriesInstance, SeriesView

_UID = "A pseudonymised UID as stored (a keyed hash of the sender's; the grouping is kept)."


class StudySummary(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "study_instance_uid": "2.25.1184523749861230571920384756102938475",
                    "site": "north",
                    "patient_key": "9f2c4e1a7b3d5f60",
                    "modalities": ["CT"],
                    "series_count": 2,
                    "instance_count": 50,
                    "first_received_at": "2026-12-04T09:30:01Z",
                    "last_received_at": "2026-12-04T09:30:17Z",
                }
            ]
        }
    )

    study_instance_uid: str = Field(description=_UID)
    site: str | None
    patient_key: str | None = Field(description="The pseudonymous patient key (keyed hash of the ID).")
    modalities: list[str]
    series_count: int
    instance_count: int
    first_received_at: datetime
    last_received_at: datetime

    @classmethod
    def of(cls, row: StudyRow) -> StudySummary:
        return cls(
            study_instance_uid=row.study_instance_uid,
            site=row.site,
            patient_key=row.patient_key,
            modalities=list(row.modalities),
            series_count=row.series_count,
            instance_count=row.instance_count,
            first_received_at=row.first_received_at,
            last_received_at=row.last_received_at,
        )


class StudyPage(BaseModel):
    items: list[StudySummary]
    total: int
    limit: int
    offset: int


class SeriesSummary(BaseModel):
    series_instance_uid: str = Field(description=_UID)
    study_instance_uid: str = Field(description=_UID)
    modality: str | None
    body_part: str | None
    site: str | None
    instance_count: int
    first_received_at: datetime
    last_received_at: datetime

    @classmethod
    def of(cls, row: SeriesRow) -> SeriesSummary:
        return cls(
            series_instance_uid=row.series_instance_uid,
            study_instance_uid=row.study_instance_uid,
            modality=row.modality,
            body_part=row.body_part,
            site=row.site,
            instance_count=row.instance_count,
            first_received_at=row.first_received_at,
            last_received_at=row.last_received_at,
        )


class StudyDetail(StudySummary):
    series: list[SeriesSummary]


class SeriesInstancePublic(BaseModel):
    image_id: uuid.UUID
    sop_instance_uid: str | None = Field(description=_UID)
    instance_number: int | None
    prediction: PredictionPublic | None = Field(
        description="The image's latest prediction (its answer hidden while it awaits a blind read)."
    )

    @classmethod
    def of(cls, instance: SeriesInstance, viewer: Principal) -> SeriesInstancePublic:
        image, prediction = instance.image, instance.prediction
        return cls(
            image_id=image.id,
            sop_instance_uid=image.sop_instance_uid,
            instance_number=image.instance_number,
            prediction=PredictionPublic.from_record(prediction, viewer) if prediction is not None else None,
        )


class SeriesAnswerPublic(BaseModel):
    """The series' answer for one task, by the rule in `rule`."""

    task: str
    slices: int = Field(description="Slices with a prediction for the task.")
    answer_hidden: bool = Field(description="True while any slice awaits its blind read: no answer shown.")
    label: str | None = Field(description="The series' label by the rule; null while hidden.")
    probability: float | None = Field(
        description="Two-label tasks: the maximum positive-label probability over the slices; more labels: "
        "the highest probability of any label over the slices."
    )
    decision_threshold: float | None = Field(
        description="Two-label tasks: the threshold the deciding slice was served at (0.5: argmax)."
    )
    deciding_image_id: uuid.UUID | None = Field(description="The slice the answer comes from.")
    deciding_instance_number: int | None
    rule: str = Field(default=SERIES_RULE)

    @classmethod
    def of(cls, answer: SeriesAnswer) -> SeriesAnswerPublic:
        return cls(
            task=answer.task,
            slices=answer.slices,
            answer_hidden=answer.hidden,
            label=answer.label,
            probability=None if answer.probability is None else round(answer.probability, 6),
            decision_threshold=answer.decision_threshold,
            deciding_image_id=answer.deciding_image_id,
            deciding_instance_number=answer.deciding_instance_number,
        )


class SeriesDetail(SeriesSummary):
    instances: list[SeriesInstancePublic] = Field(description="By instance number.")
    answers: list[SeriesAnswerPublic] = Field(description="One series-level answer per task.")

    @classmethod
    def of_view(cls, view: SeriesView, viewer: Principal) -> SeriesDetail:
        return cls(
            **SeriesSummary.of(view.series).model_dump(),
            instances=[SeriesInstancePublic.of(instance, viewer) for instance in view.instances],
            answers=[SeriesAnswerPublic.of(answer) for answer in view.answers],
        )
