"""The learning queue: the waiting cases whose verdicts would teach the model most, with why."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from imaging_ai.api.schemas.predictions import PredictionPublic
from imaging_ai.services.accounts.identity import Principal
from imaging_ai.services.cases.learning_queue import LearningItem

HIDDEN_REASON = "chosen for learning; why is shown once the blind read is in"


class LearningQueueEntry(BaseModel):
    rank: int = Field(description="1 for the case to verify first.")
    strategy: Literal["random", "stratified", "uncertain_diverse"] = Field(
        description="`random`: drawn at random (a fixed share, so the evidence stays unbiased); "
        "`stratified`: sampled by the estimated error of its predicted label at the site, while the serving "
        "version is uninformative there; `uncertain_diverse`: uncertain and unlike the cases ranked above "
        "it (BADGE), once the version is informative."
    )
    reason: str = Field(description="Why the case is in the queue, in words.")
    scored_by: str | None = Field(description="The version whose score placed the case.")
    stale: bool = Field(
        description="Scored by a version that no longer serves the site; the worker re-scores it shortly."
    )
    prediction: PredictionPublic

    @classmethod
    def of(cls, item: LearningItem, viewer: Principal) -> LearningQueueEntry:
        prediction = PredictionPublic.from_record(item.prediction, viewer)
        return cls(
            rank=item.rank,
            strategy=item.strategy,
            # A stratified reason names the predicted label: hidden like the answer itself.
            reason=HIDDEN_REASON if prediction.answer_hidden else item.reason,
            scored_by=item.scored_by,
            stale=item.stale,
            prediction=prediction,
        )


class LearningQueuePage(BaseModel):
    items: list[LearningQueueEntry]
    total: int = Field(description="Cases waiting for a clinician's verdict.")
    limit: int
    offset: int
    random_share: float = Field(description="The share of the queue drawn at random.")
