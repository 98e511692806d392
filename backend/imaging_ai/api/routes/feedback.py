"""Clinicians' verdicts on predictions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from imaging_ai.api.deps import FeedbackServiceDep
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.feedback import VerdictCreate, VerdictHistory, VerdictPublic
from imaging_ai.api.security import CanRead, CanReview
from imaging_ai.services.cases.feedback import VerdictRequest, label_of_record
from imaging_ai.services.cases.predictions import answer_visible

router = APIRouter(prefix="/api/v1/predictions", tags=["feedback"])


@router.post(
    "/{prediction_id}/feedback",
    status_code=status.HTTP_201_CREATED,
    summary="Give a verdict",
    description=(
        "Records a clinician's verdict. Verdicts are append-only: a later one supersedes the earlier for "
        "training and metrics, and both stay in the history. The AI's answer is never changed."
    ),
    responses=error_responses(404, 409, 422),
)
def create_verdict(
    prediction_id: uuid.UUID, body: VerdictCreate, reviewer: CanReview, service: FeedbackServiceDep
) -> VerdictPublic:
    request = VerdictRequest(verdict=body.verdict, label=body.label, notes=body.notes)
    return VerdictPublic.from_record(service.record(prediction_id, request, reviewer=reviewer))


@router.get(
    "/{prediction_id}/feedback",
    summary="Verdict history",
    description="Every verdict on the prediction, oldest first, and the resulting label of record.",
    responses=error_responses(404, 422),
)
def list_verdicts(prediction_id: uuid.UUID, reader: CanRead, service: FeedbackServiceDep) -> VerdictHistory:
    prediction, verdicts = service.history(prediction_id)
    return VerdictHistory(
        prediction_id=prediction.id,
        predicted_label=prediction.predicted_label if answer_visible(prediction, reader) else None,
        label_of_record=label_of_record(prediction, verdicts[-1] if verdicts else None),
        verdicts=[VerdictPublic.from_record(v) for v in verdicts],
    )
