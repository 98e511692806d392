"""The worklist: cases waiting for a clinician, in the order to read them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from imaging_ai.api.schemas.predictions import PredictionPublic
from imaging_ai.services.accounts.identity import Principal
from imaging_ai.services.cases.worklist import WorklistItem


class PriorityComponents(BaseModel):
    uncertainty: float = Field(description="Normalised entropy of the calibrated probabilities.")
    disagreement_risk: float = Field(description="Half the AI's doubt, half the site's disagreement rate.")
    waiting: float = Field(description="Hours since the prediction / 24, at most 1.")


class WorklistEntry(BaseModel):
    prediction: PredictionPublic
    priority: float | None = Field(
        description="0.5 uncertainty + 0.3 disagreement risk + 0.2 waiting; highest first. Null, like the "
        "components, while the case awaits its blind read (the uncertainty would hint at the answer)."
    )
    components: PriorityComponents | None
    reason: Literal["review", "audit"]
    study_instance_uid: str | None = Field(
        default=None, description="With `group=study`: the study this item stands for (null: no study)."
    )
    cases_in_study: int = Field(
        default=1, ge=1, description="With `group=study`: the study's waiting cases of this task."
    )

    @classmethod
    def of(cls, item: WorklistItem, viewer: Principal) -> WorklistEntry:
        prediction = PredictionPublic.from_record(item.prediction, viewer)
        return cls(
            prediction=prediction,
            priority=None if prediction.answer_hidden else item.priority,
            components=None if prediction.answer_hidden else PriorityComponents(**item.components),
            reason=item.reason,
            study_instance_uid=item.study_instance_uid,
            cases_in_study=item.cases_in_study,
        )


class WorklistPage(BaseModel):
    items: list[WorklistEntry]
    total: int
    limit: int
    offset: int
