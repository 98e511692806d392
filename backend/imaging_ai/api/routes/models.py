"""Tasks and their model versions."""

from __future__ import annotations

from fastapi import APIRouter

from imaging_ai.api.deps import ModelCatalogDep
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.models import (
    ModelVersionDetail,
    ModelVersionPublic,
    OperatingPointPublic,
    SiteOperatingPointPublic,
    TaskPublic,
)
from imaging_ai.api.schemas.text import Text
from imaging_ai.api.security import requires
from imaging_ai.services.accounts.identity import Permission

tasks_router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], dependencies=[requires(Permission.READ)])
models_router = APIRouter(prefix="/api/v1/models", tags=["models"], dependencies=[requires(Permission.READ)])


@tasks_router.get(
    "",
    summary="List tasks",
    description="Every task with its labels, its default version and the version serving each site.",
)
def list_tasks(catalog: ModelCatalogDep) -> list[TaskPublic]:
    return [TaskPublic.from_view(view) for view in catalog.tasks()]


@tasks_router.get(
    "/{task}",
    summary="Get a task",
    description="The default version, and for each site the version that serves it (its own, or the "
    "default) and the decision threshold in force there.",
    responses=error_responses(404),
)
def get_task(task: Text, catalog: ModelCatalogDep) -> TaskPublic:
    return TaskPublic.from_view(catalog.task(task))


@tasks_router.get(
    "/{task}/models",
    summary="List a task's model versions",
    description="Oldest first, with status and the metrics of each version's card.",
    responses=error_responses(404),
)
def list_task_models(task: Text, catalog: ModelCatalogDep) -> list[ModelVersionPublic]:
    return [
        ModelVersionPublic.from_record(version, card, sites)
        for version, card, sites in catalog.versions_of(task)
    ]


@models_router.get(
    "/{version}",
    summary="Get a model version",
    description="Status, lineage (ancestors and children) and the full model card.",
    responses=error_responses(404),
)
def get_model_version(version: Text, catalog: ModelCatalogDep) -> ModelVersionDetail:
    view = catalog.version(version)
    base = ModelVersionPublic.from_record(view.record, view.card, view.serving_sites)
    return ModelVersionDetail(
        **base.model_dump(),
        lineage=view.lineage,
        children=view.children,
        card=view.card,
        operating_points=[
            SiteOperatingPointPublic(site=point.site, **OperatingPointPublic.from_record(point).model_dump())
            for point in view.operating_points
        ],
    )
