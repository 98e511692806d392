"""DICOMweb STOW-RS (DICOM PS3.18 10.5): a PACS or a modality stores studies here over HTTP."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from imaging_ai.api.deps import DicomIntakeDep
from imaging_ai.api.multipart import MultipartError, multipart_parts, parse_content_type
from imaging_ai.api.schemas.dicomweb import (
    DICOM_JSON,
    MULTIPART_DICOM,
    STOW_RESPONSE_EXAMPLE,
    stow_response,
)
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.text import Text
from imaging_ai.api.security import requires
from imaging_ai.errors import DomainError
from imaging_ai.services.accounts.identity import Permission
from imaging_ai.services.cases.dicom_intake import DicomIntake, InstanceOutcome, IntakeRoute
from imaging_ai.services.cases.pacs_import import receive_instances

router = APIRouter(prefix="/dicom-web", tags=["dicomweb"], dependencies=[requires(Permission.PREDICT)])

UID_PATTERN = r"^[0-9]+(\.[0-9]+)*$"

_DESCRIPTION = (
    'STOW-RS: stores DICOM instances sent as `multipart/related; type="application/dicom"` (one '
    "instance per part; the boundary from the Content-Type). Each instance goes through the same "
    "de-identification, ingestion and prediction as an upload, in its own transaction: a part that is "
    "refused leaves the others stored. An instance sent again gets the earlier answer.\n\n"
    "**Where it goes:** `site` (query) is the site label of every instance; without it, as for uploads, "
    "the instance's Institution Name, normalised. `task` (query) is the task every instance is for; "
    "without it, the task is chosen from each instance's Modality and Body Part Examined (CR/DX chest: "
    "`chest-xray-pneumonia`; CT chest: `chest-ct-covid`; MR brain or head: `brain-mri-tumor`), and an "
    "instance no task fits is refused.\n\n"
    "**Answer** (`application/dicom+json`, PS3.18 10.5.3): HTTP 200 when every instance was stored, "
    "202 when some were refused, 409 when all were. Stored instances are listed in the "
    "ReferencedSOPSequence (0008,1199), refused ones in the FailedSOPSequence (0008,1198), each by the "
    "SOP Class and Instance UIDs the sender gave it (0008,1150 / 0008,1155), with a FailureReason "
    "(0008,1197): 0xC000 cannot understand (not DICOM, undecodable pixels, no task fits, wrong modality "
    "for the task), 0xA900 data set does not match (an instance of another study than `{study}`), "
    "0xA700 out of resources (image too large), 0x0110 processing failure (a failure on our side: retry). "
    "Each item also carries our answer in the private block `IMAGING_AI 1.0` (group 0077): "
    "(0077,1001) image id, (0077,1002) prediction id, (0077,1003) task, (0077,1004) `RECEIVED_BEFORE` for an "
    "instance stored before, and for a refused one (0077,1010) the stable error code and (0077,1011) "
    "its explanation. UIDs are never stored as sent: the stored copies carry keyed pseudonyms that keep "
    "the study and series grouping.\n\n"
    "A body that is not `multipart/related` (or whose `type` is not `application/dicom`) is refused whole "
    "with 415 `unsupported_media_type`; a malformed multipart body with 400 `invalid_multipart`. The "
    "request is bounded by `IMAGING_AI_MAX_UPLOAD_BYTES` (413). Machines authenticate with an API key "
    "holding the `predict` scope (`Authorization: Bearer iai_...`)."
)

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Every instance was stored.",
        "content": {DICOM_JSON: {"schema": {"type": "object"}, "example": STOW_RESPONSE_EXAMPLE}},
    },
    202: {
        "description": "Some instances were stored, some refused (FailedSOPSequence).",
        "content": {DICOM_JSON: {"schema": {"type": "object"}, "example": STOW_RESPONSE_EXAMPLE}},
    },
    409: {
        "description": "Every instance was refused (FailedSOPSequence says why).",
        "content": {DICOM_JSON: {"schema": {"type": "object"}}},
    },
    **error_responses(400, 413, 415, 422),
}

_OPENAPI_EXTRA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One DICOM file (PS3.10, with its file meta) per part, each part "
        "`Content-Type: application/dicom`.",
        "content": {MULTIPART_DICOM: {"schema": {"type": "string", "format": "binary"}}},
    }
}


class UnsupportedStowMediaTypeError(DomainError):
    status_code = 415
    code = "unsupported_media_type"


class InvalidMultipartError(DomainError):
    status_code = 400
    code = "invalid_multipart"


SiteQuery = Annotated[
    Text | None,
    Query(
        max_length=128,
        description="Site label of every instance; default: each instance's institution, as for uploads.",
    ),
]
TaskQuery = Annotated[
    Text | None,
    Query(
        max_length=64,
        description="Task of every instance; default: chosen from each instance's modality and body part.",
    ),
]


@router.post(
    "/studies",
    summary="Store instances (STOW-RS)",
    description=_DESCRIPTION,
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra=_OPENAPI_EXTRA,
)
async def store_instances(
    request: Request, intake: DicomIntakeDep, site: SiteQuery = None, task: TaskQuery = None
) -> Response:
    return await _store(request, intake, IntakeRoute(site=site, task=task), study=None)


@router.post(
    "/studies/{study}",
    summary="Store instances of one study (STOW-RS)",
    description=_DESCRIPTION
    + "\n\nHere every instance must belong to the study `{study}` (its Study Instance UID as sent); "
    "one of another study is refused with FailureReason 0xA900 and error code `study_mismatch`.",
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra=_OPENAPI_EXTRA,
)
async def store_study_instances(
    request: Request,
    intake: DicomIntakeDep,
    study: Annotated[
        str, Path(max_length=64, pattern=UID_PATTERN, description="The Study Instance UID, as sent.")
    ],
    site: SiteQuery = None,
    task: TaskQuery = None,
) -> Response:
    return await _store(request, intake, IntakeRoute(site=site, task=task), study=study)


async def _store(request: Request, intake: DicomIntake, route: IntakeRoute, study: str | None) -> Response:
    media_type, params = parse_content_type(request.headers.get("content-type"))
    part_type = params.get("type", "application/dicom").lower()
    if media_type != "multipart/related" or part_type != "application/dicom":
        raise UnsupportedStowMediaTypeError(
            f"STOW-RS takes {MULTIPART_DICOM} (one DICOM file per part).",
            details={"content_type": media_type[:100]},
        )
    body = await request.body()
    try:
        parts = multipart_parts(body, params.get("boundary", ""))
    except MultipartError as exc:
        raise InvalidMultipartError(str(exc)) from exc
    if not parts:
        raise InvalidMultipartError("The body holds no instance.")
    instances: list[bytes] = []
    refused: list[InstanceOutcome] = []
    for headers, content in parts:
        media, _ = parse_content_type(headers.get("content-type", part_type))
        if media == "application/dicom":
            instances.append(content)
        else:
            refused.append(
                InstanceOutcome(
                    None,
                    None,
                    error_code="unsupported_media_type",
                    error_message="The part is not application/dicom (metadata and bulk data are not taken).",
                    error_status=415,
                )
            )
    del body, parts
    outcomes = await run_in_threadpool(receive_instances, intake, instances, route, study_instance_uid=study)
    status, dataset = stow_response([*outcomes, *refused])
    return Response(json.dumps(dataset), status_code=status, media_type=DICOM_JSON)
