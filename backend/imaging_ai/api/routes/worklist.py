"""The worklist: what to read next."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from imaging_ai.api.deps import WorklistDep
from imaging_ai.api.paging import Offset
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.text import Text
from imaging_ai.api.schemas.vocabulary import AutonomyLevel
from imaging_ai.api.schemas.worklist import WorklistEntry, WorklistPage
from imaging_ai.api.security import CanRead

router = APIRouter(prefix="/api/v1/worklist", tags=["worklist"])


@router.get(
    "",
    summary="The worklist",
    description=(
        "Cases waiting for a clinician (pending review, and automatic answers drawn for audit), ordered by "
        "priority = 0.5 x uncertainty (normalised entropy) + 0.3 x disagreement risk (half the AI's doubt, "
        "half the site's disagreement rate with the active version) + 0.2 x waiting (hours / 24, at most 1); "
        "ties: oldest first. A case awaiting its blind read shows no answer and no priority components. "
        "With `group=study`, a DICOM study's waiting cases of one task are one item: its highest-priority "
        "case, with `cases_in_study` (open `GET /api/v1/studies/{study_instance_uid}` for the rest)."
    ),
    responses=error_responses(404, 422),
)
def get_worklist(
    reader: CanRead,
    worklist: WorklistDep,
    task: Text | None = None,
    site: Annotated[Text | None, Query(max_length=128)] = None,
    level: AutonomyLevel | None = None,
    group: Annotated[
        Literal["case", "study"],
        Query(description="`case`: one item per case (default); `study`: one item per study and task."),
    ] = "case",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> WorklistPage:
    items, total = worklist.page(
        task=task, site=site, level=level, limit=limit, offset=offset, by_study=group == "study"
    )
    return WorklistPage(
        items=[WorklistEntry.of(item, reader) for item in items], total=total, limit=limit, offset=offset
    )
