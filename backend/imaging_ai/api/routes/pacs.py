"""Pulling studies from the configured PACS."""

from __future__ import annotations

from fastapi import APIRouter

from imaging_ai.api.deps import DicomIntakeDep, SettingsDep
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.pacs import PacsImportRequest, PacsImportResult
from imaging_ai.api.security import requires
from imaging_ai.services.accounts.identity import Permission
from imaging_ai.services.cases.pacs_import import PacsImporter

router = APIRouter(prefix="/api/v1/pacs", tags=["pacs"])


@router.post(
    "/imports",
    dependencies=[requires(Permission.PREDICT)],
    summary="Pull a study from the PACS",
    description=(
        "Fetches the study from the DICOMweb server at `IMAGING_AI_DICOMWEB_SOURCE_URL`: QIDO-RS finds "
        "it (404 `study_not_found` when the PACS has no such study) and its series, WADO-RS retrieves "
        "them instance by instance as stored (no transcoding). Each instance goes through the same "
        "de-identification, ingestion and prediction as an upload, in its own transaction: a refused "
        "instance is listed with its error code while the others are kept; an instance received before "
        "gets the earlier answer (`received_before`). 409 `pacs_not_configured` when no source URL is "
        "set, 502 `pacs_unreachable` when the PACS cannot be reached, 502 `pacs_error` when it answers "
        "with an error."
    ),
    responses=error_responses(404, 409, 422, 502),
)
def import_study(body: PacsImportRequest, intake: DicomIntakeDep, settings: SettingsDep) -> PacsImportResult:
    importer = PacsImporter(
        intake,
        settings.dicomweb_source_url,
        source_site=settings.dicomweb_source_site,
    )
    result = importer.import_study(body.study_instance_uid, task=body.task, site=body.site)
    return PacsImportResult.of(result)
