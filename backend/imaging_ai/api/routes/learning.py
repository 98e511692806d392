"""The learning queue: which waiting cases to verify next so the model learns most."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from imaging_ai.api.deps import LearningQueueDep, SettingsDep
from imaging_ai.api.paging import Offset
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.learning import LearningQueueEntry, LearningQueuePage
from imaging_ai.api.schemas.text import Text
from imaging_ai.api.security import CanRead

router = APIRouter(prefix="/api/v1/learning-queue", tags=["learning"])


@router.get(
    "",
    summary="The learning queue",
    description=(
        "The cases waiting for a clinician, in the order in which their verdicts would teach the model "
        "most (not the worklist's order, which is for patient care). A share "
        "(`IMAGING_AI_LEARNING_RANDOM_SHARE`) is drawn at random; the rest is sampled by the estimated "
        "error of each predicted label at the site while the version serving it is uninformative there, "
        "then by uncertainty and diversity (BADGE) once it is. Each entry says why it is in the queue; a "
        "case awaiting its blind read keeps its answer, and the reason, hidden."
    ),
    responses=error_responses(404, 422),
)
def get_learning_queue(
    reader: CanRead,
    queue: LearningQueueDep,
    settings: SettingsDep,
    task: Text,
    site: Annotated[Text | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Offset = 0,
) -> LearningQueuePage:
    items, total = queue.page(task=task, site=site, limit=limit, offset=offset)
    return LearningQueuePage(
        items=[LearningQueueEntry.of(item, reader) for item in items],
        total=total,
        limit=limit,
        offset=offset,
        random_share=settings.learning_random_share,
    )
