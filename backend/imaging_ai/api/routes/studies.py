"""Received DICOM studies and series, with each series' answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from imaging_ai.api.deps import StudiesDep
from imaging_ai.api.paging import Offset
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.studies import SeriesDetail, SeriesSummary, StudyDetail, StudyPage, StudySummary
from imaging_ai.api.schemas.text import Text
from imaging_ai.api.security import CanRead
from imaging_ai.services.cases.studies import SERIES_RULE

studies_router = APIRouter(prefix="/api/v1/studies", tags=["studies"])
series_router = APIRouter(prefix="/api/v1/series", tags=["studies"])

UidPath = Annotated[
    str,
    Path(max_length=64, pattern=r"^[0-9]+(\.[0-9]+)*$", description="A pseudonymised UID as stored."),
]


@studies_router.get(
    "",
    summary="Received studies",
    description=(
        "DICOM studies received (listener, STOW-RS, pulls, uploads), most recently received first; "
        "`site` filters by site label. The UIDs are the keyed pseudonyms stored, never the sender's: "
        "the same study sent again keeps the same UID."
    ),
    responses=error_responses(422),
)
def list_studies(
    _reader: CanRead,
    studies: StudiesDep,
    site: Annotated[Text | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> StudyPage:
    rows, total = studies.page(site=site, limit=limit, offset=offset)
    return StudyPage(items=[StudySummary.of(row) for row in rows], total=total, limit=limit, offset=offset)


@studies_router.get(
    "/{study_instance_uid}",
    summary="A study and its series",
    responses=error_responses(404, 422),
)
def get_study(_reader: CanRead, studies: StudiesDep, study_instance_uid: UidPath) -> StudyDetail:
    study, series = studies.study(study_instance_uid)
    return StudyDetail(
        **StudySummary.of(study).model_dump(), series=[SeriesSummary.of(row) for row in series]
    )


@series_router.get(
    "/{series_instance_uid}",
    summary="A series: its instances and its answer",
    description=(
        "The series' instances ordered by instance number, each with its image id and latest prediction, "
        "and one series-level answer per task. The rule: " + SERIES_RULE + " A blind read's answer is "
        "never shown before the clinician's verdict (nor, for a hospital system, before it is final)."
    ),
    responses=error_responses(404, 422),
)
def get_series(reader: CanRead, studies: StudiesDep, series_instance_uid: UidPath) -> SeriesDetail:
    return SeriesDetail.of_view(studies.series(series_instance_uid, reader), reader)
