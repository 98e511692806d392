"""Predictions: ask the active model version of a task about an image, read the answers back."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status

from imaging_ai import vocabulary
from imaging_ai.api.deps import IngestionServiceDep, PredictionServiceDep
from imaging_ai.api.metrics import observe_prediction
from imaging_ai.api.paging import FilterDatetime, Offset
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.predictions import PredictionPage, PredictionPublic
from imaging_ai.api.schemas.text import Text
from imaging_ai.api.schemas.vocabulary import AutonomyLevel, PredictionStatus
from imaging_ai.api.security import CanPredict, CanRead
from imaging_ai.persistence.predictions import PredictionFilter
from imaging_ai.services.cases.predictions import ImageRequiredError, PredictionRequest

router = APIRouter(prefix="/api/v1/predictions", tags=["predictions"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Predict",
    description=(
        "Classifies an image with the task's active model version. Send either an image `file` (it is "
        "stored and de-identified first, as by `POST /api/v1/images`) or the `image_id` of a stored "
        "image. The answer has calibrated probabilities per label, the predicted label, its confidence, "
        "an uncertainty score, and waits for a clinician's verdict (`pending_review`) unless the "
        "site's level of autonomy finalises it. A share of cases is read blind (`blind_read`): clinicians "
        "are not shown the answer until their verdict (`answer_hidden`). An image outside what the version "
        "was trained on is flagged `out_of_distribution` and always waits for a clinician. DICOM images must "
        "be of a modality the task accepts (`modality_mismatch` otherwise); PNG/JPEG carry no modality "
        "and are accepted for any task."
    ),
    responses=error_responses(404, 413, 415, 422, 503),
)
def create_prediction(
    caller: CanPredict,
    predictions: PredictionServiceDep,
    ingestion: IngestionServiceDep,
    task: Annotated[Text, Form(description="Task name, e.g. `chest-xray-pneumonia`.")],
    file: Annotated[UploadFile | None, File(description="Image file (PNG, JPEG or DICOM).")] = None,
    image_id: Annotated[uuid.UUID | None, Form(description="A stored image's id, instead of a file.")] = None,
    site: Annotated[Text | None, Form(max_length=128, description="Site label.")] = None,
    patient_id: Annotated[
        Text | None,
        Form(
            max_length=64,
            description="Hospital patient ID for a non-DICOM file; only its keyed hash is kept.",
        ),
    ] = None,
    accession_number: Annotated[
        Text | None,
        Form(
            max_length=64,
            description="The hospital's accession number; only its keyed hash is kept (and returned).",
        ),
    ] = None,
    external_id: Annotated[
        Text | None,
        Form(
            max_length=128,
            description="The calling system's own id; only its keyed hash is kept (and returned).",
        ),
    ] = None,
) -> PredictionPublic:
    if (file is None) == (image_id is None):
        raise ImageRequiredError("Send exactly one of `file` and `image_id`.")
    request = PredictionRequest(
        task=task, site=site, accession_number=accession_number, external_id=external_id
    )
    if file is not None:
        with ingestion.prepare_decoded(file.file.read(), site=site, patient_id=patient_id) as upload:
            prediction = predictions.predict_upload(upload, request)
    else:
        assert image_id is not None
        prediction = predictions.predict(ingestion.get(image_id), request)
    observe_prediction(
        prediction.task,
        prediction.autonomy_level,
        final=prediction.status == vocabulary.PredictionStatus.final,
    )
    return PredictionPublic.from_record(prediction, caller)


@router.get(
    "",
    summary="List predictions",
    description="Newest first, filtered by task, status, site, model version, creation time, accession "
    "number or external id (send the hospital's value: it is hashed as when stored).",
    responses=error_responses(404, 422),
)
def list_predictions(
    reader: CanRead,
    predictions: PredictionServiceDep,
    task: Text | None = None,
    status: PredictionStatus | None = None,
    site: Text | None = None,
    model_version: Text | None = None,
    autonomy_level: AutonomyLevel | None = None,
    created_after: FilterDatetime | None = None,
    created_before: FilterDatetime | None = None,
    accession_number: Annotated[
        Text | None, Query(max_length=64, description="The hospital's accession number, in clear.")
    ] = None,
    external_id: Annotated[
        Text | None, Query(max_length=128, description="The calling system's own id, in clear.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> PredictionPage:
    filters = PredictionFilter(
        task=task,
        status=status,
        site=site,
        model_version=model_version,
        autonomy_level=autonomy_level,
        created_after=created_after,
        created_before=created_before,
        accession_number=accession_number,
        external_id=external_id,
    )
    items, total = predictions.page(filters, limit=limit, offset=offset)
    return PredictionPage(
        items=[PredictionPublic.from_record(p, reader) for p in items],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/{prediction_id}",
    summary="Get a prediction",
    responses=error_responses(404, 422),
)
def get_prediction(
    prediction_id: uuid.UUID, reader: CanRead, predictions: PredictionServiceDep
) -> PredictionPublic:
    return PredictionPublic.from_record(predictions.get(prediction_id), reader)


@router.get(
    "/{prediction_id}/heatmap",
    summary="Heatmap of a prediction",
    description=(
        "A Grad-CAM class-activation overlay (PNG) computed with the model version that made the "
        "prediction: warm colours mark the regions that raised the label's score. For the predicted "
        "label unless `label` names another. Cached after the first request. Refused (409 "
        "`answer_hidden`) while the case awaits its blind read."
    ),
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "PNG overlay."},
        **error_responses(404, 409, 422, 503),
    },
)
def get_heatmap(
    prediction_id: uuid.UUID,
    reader: CanRead,
    predictions: PredictionServiceDep,
    label: Annotated[
        Text | None, Query(max_length=64, description="Label to explain (default: the predicted one).")
    ] = None,
) -> Response:
    png = predictions.heatmap(predictions.get(prediction_id), label, reader)
    return Response(content=png, media_type="image/png", headers={"cache-control": "no-store"})
