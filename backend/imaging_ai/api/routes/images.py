"""Image ingestion and retrieval."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status

from imaging_ai.api.deps import IngestionServiceDep
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.images import ImagePublic
from imaging_ai.api.schemas.text import Text
from imaging_ai.api.security import requires
from imaging_ai.services.accounts.identity import Permission

router = APIRouter(prefix="/api/v1/images", tags=["images"])

_EXTENSIONS = {"png": "png", "jpeg": "jpg", "dicom": "dcm"}


@router.post(
    "",
    dependencies=[requires(Permission.PREDICT)],
    status_code=status.HTTP_201_CREATED,
    summary="Upload an image",
    description=(
        "Stores a PNG (8 or 16 bit), JPEG or DICOM (uncompressed, JPEG baseline, JPEG 2000, RLE). "
        "DICOM is de-identified (DICOM PS3.15 basic profile) before it is stored; the patient ID "
        "becomes a pseudonymous key. PNG and JPEG are stored without their metadata (text chunks, EXIF, "
        "XMP, ICC, comments), pixels untouched. Storage is content-addressed on the stored bytes: uploading "
        "the same image again, even with other metadata, returns the existing record with status 200."
    ),
    responses={
        200: {"model": ImagePublic, "description": "These bytes were already stored; the existing record."},
        **error_responses(413, 415, 422),
    },
)
def upload_image(
    service: IngestionServiceDep,
    response: Response,
    file: Annotated[UploadFile, File(description="The image file: PNG, JPEG or DICOM.")],
    site: Annotated[
        Text | None,
        Form(
            max_length=128, description="Site label (hospital or scanner); overrides the DICOM institution."
        ),
    ] = None,
    patient_id: Annotated[
        Text | None,
        Form(
            max_length=64,
            description="Hospital patient ID for non-DICOM uploads; only its keyed hash is kept.",
        ),
    ] = None,
) -> ImagePublic:
    result = service.ingest(file.file.read(), site=site, patient_id=patient_id)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return ImagePublic.from_record(result.image)


@router.get(
    "/{image_id}",
    dependencies=[requires(Permission.READ)],
    summary="Get an image record",
    responses=error_responses(404, 422),
)
def get_image(image_id: uuid.UUID, service: IngestionServiceDep) -> ImagePublic:
    return ImagePublic.from_record(service.get(image_id))


@router.get(
    "/{image_id}/render",
    dependencies=[requires(Permission.READ)],
    summary="Render an image for display",
    description=(
        "An 8-bit greyscale PNG of the frame used for inference. Without a window the default display "
        "is used (DICOM VOI LUT or window, MONOCHROME1 inverted); `window_center` and `window_width` "
        "(in modality units, e.g. Hounsfield units for CT) set a linear window. `size` limits the "
        "longer side in pixels (never upscales)."
    ),
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "PNG image."}, **error_responses(404, 422)},
)
def render_image(
    image_id: uuid.UUID,
    service: IngestionServiceDep,
    # Finite and bounded: nan, inf or 1e308 would turn the window arithmetic into nan or inf; 1e9 is
    # past any modality value (32-bit pixels after rescale included).
    window_center: Annotated[
        float | None, Query(allow_inf_nan=False, ge=-1e9, le=1e9, description="Window centre (|c| <= 1e9).")
    ] = None,
    window_width: Annotated[
        float | None, Query(allow_inf_nan=False, gt=0, le=2e9, description="Window width (0 < w <= 2e9).")
    ] = None,
    size: Annotated[int | None, Query(ge=16, le=4096, description="Longest side in pixels.")] = None,
) -> Response:
    png = service.render(image_id, window_center=window_center, window_width=window_width, max_size=size)
    return Response(content=png, media_type="image/png", headers={"cache-control": "no-store"})


@router.get(
    "/{image_id}/file",
    dependencies=[requires(Permission.READ)],
    summary="Download the stored file",
    description="The stored original: for DICOM, the de-identified file.",
    response_class=Response,
    responses={
        200: {
            "content": {"application/dicom": {}, "image/png": {}, "image/jpeg": {}},
            "description": "The stored bytes.",
        },
        **error_responses(404, 422),
    },
)
def download_image(image_id: uuid.UUID, service: IngestionServiceDep) -> Response:
    image = service.get(image_id)
    data = service.read_stored(image)
    # The download name is the record id: the uploader's file name may itself identify a patient.
    filename = f"{image.id}.{_EXTENSIONS.get(image.format, 'bin')}"
    return Response(
        content=data,
        media_type=image.media_type,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )
