"""Results sent back to the PACS: delivery state, and retrying a failed delivery."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from imaging_ai.api.deps import DeliveryServiceDep
from imaging_ai.api.paging import Offset
from imaging_ai.api.schemas.deliveries import DeliveryPage, DeliveryPublic
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.vocabulary import DeliveryStatus
from imaging_ai.api.security import CanRead, IsAdmin

router = APIRouter(prefix="/api/v1", tags=["deliveries"])

_WHAT_IS_SENT = (
    "Each result is a DICOM Structured Report (finding, probabilities, threshold, model version, "
    "preliminary or final) and a Secondary Capture of the heatmap, in the source image's pseudonymised "
    "study, sent by STOW-RS to `IMAGING_AI_RESULTS_DESTINATION_URL`."
)


@router.get(
    "/result-deliveries",
    summary="List result deliveries",
    description=f"Newest first, filtered by `status` and `prediction_id`. {_WHAT_IS_SENT}",
    responses=error_responses(422),
)
def list_deliveries(
    reader: CanRead,
    deliveries: DeliveryServiceDep,
    status: Annotated[DeliveryStatus | None, Query(description="Only deliveries in this state.")] = None,
    prediction_id: Annotated[uuid.UUID | None, Query(description="Only this prediction's.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> DeliveryPage:
    rows, total = deliveries.page(prediction_id=prediction_id, status=status, limit=limit, offset=offset)
    return DeliveryPage(
        items=[DeliveryPublic.from_record(row) for row in rows], total=total, limit=limit, offset=offset
    )


@router.get(
    "/predictions/{prediction_id}/deliveries",
    summary="Get a prediction's result deliveries",
    description=f"One per destination; empty when its result is not due yet or none is sent. {_WHAT_IS_SENT}",
    responses=error_responses(404, 422),
)
def prediction_deliveries(
    prediction_id: uuid.UUID, reader: CanRead, deliveries: DeliveryServiceDep
) -> list[DeliveryPublic]:
    return [DeliveryPublic.from_record(row) for row in deliveries.for_prediction(prediction_id)]


@router.post(
    "/result-deliveries/{delivery_id}/retry",
    summary="Retry a failed delivery",
    description="A `failed` delivery becomes `pending`, due at once with a fresh count of attempts; audited "
    "(`result.delivery_retry`). Any other state: 409 `delivery_not_failed`.",
    responses=error_responses(404, 409, 422),
)
def retry_delivery(delivery_id: uuid.UUID, admin: IsAdmin, deliveries: DeliveryServiceDep) -> DeliveryPublic:
    return DeliveryPublic.from_record(deliveries.retry(delivery_id, actor=admin))
