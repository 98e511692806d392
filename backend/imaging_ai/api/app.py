"""The FastAPI application: routers, middleware, error envelope, OpenAPI metadata and the SPA."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError

from imaging_ai import __version__
from imaging_ai.api.errors import install_error_handlers
from imaging_ai.api.middleware import (
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from imaging_ai.api.routes import (
    audit,
    auth,
    autonomy,
    deliveries,
    dicomweb,
    feedback,
    health,
    images,
    learning,
    models,
    monitoring,
    pacs,
    predictions,
    studies,
    training,
    users,
    worklist,
)
from imaging_ai.api.security import enforce_route_policies
from imaging_ai.api.state import AppState
from imaging_ai.persistence import migrations
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.services.models.catalog import sync_store_to_database
from imaging_ai.settings import Settings

logger = logging.getLogger(__name__)

DESCRIPTION = """
Doctor-supervised medical image AI. Clinicians upload images (chest X-rays first), get a
classification with calibrated confidence, and confirm or correct it; verified cases train better
model versions that are promoted only when proven.

Every error is answered with the same envelope: `{"error": {"code", "message", "details", "request_id"}}`,
where `code` is stable and safe to branch on.
"""

TAGS = [
    {"name": "images", "description": "Upload, de-identify, store and render medical images."},
    {
        "name": "predictions",
        "description": "Classify an image with a task's active model version; heatmaps of the evidence.",
    },
    {"name": "feedback", "description": "Clinicians' verdicts: agree, correct the label, or unreadable."},
    {"name": "training", "description": "Adaptation jobs: fine-tune on verified cases, prove, promote."},
    {"name": "tasks", "description": "Classification tasks, their labels and their model versions."},
    {"name": "models", "description": "Model versions: cards, metrics, lineage."},
    {
        "name": "auth",
        "description": "Sign in and out (web app sessions). Machines use API keys: `Authorization: Bearer`.",
    },
    {"name": "users", "description": "Administrators manage people, roles, service accounts and API keys."},
    {"name": "audit", "description": "Who did what, when and from where (administrators)."},
    {
        "name": "worklist",
        "description": "What to read next: waiting cases, most informative and riskiest first.",
    },
    {
        "name": "learning",
        "description": "What to verify next so the model learns most: the learning queue, and why each case "
        "is in it.",
    },
    {
        "name": "autonomy",
        "description": "Earned autonomy per task and site: levels, evidence, recommendations, alerts.",
    },
    {
        "name": "monitoring",
        "description": "Performance over time per site and version; Prometheus `/metrics`.",
    },
    {
        "name": "dicomweb",
        "description": "DICOMweb for PACS and modalities: STOW-RS stores studies (each instance is "
        "de-identified, stored and predicted).",
    },
    {"name": "pacs", "description": "Pull studies from the configured PACS by DICOMweb (QIDO-RS, WADO-RS)."},
    {
        "name": "studies",
        "description": "Received DICOM studies and series (pseudonymised UIDs) and each series' answer.",
    },
    {
        "name": "deliveries",
        "description": "Results sent back to the PACS (a DICOM Structured Report and a heatmap image by "
        "STOW-RS): delivery state and retry.",
    },
    {"name": "health", "description": "Liveness and readiness probes."},
]


def operation_id(route: APIRoute) -> str:
    """Stable operation ids `{tag}-{function}` that the generated TypeScript client is named after."""
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    state = AppState.build(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        register_model_versions(state)
        yield
        state.engine.dispose()

    app = FastAPI(
        title="Imaging AI",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
    )
    app.state.imaging_ai = state
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(images.router)
    app.include_router(predictions.router)
    app.include_router(feedback.router)
    app.include_router(models.tasks_router)
    app.include_router(models.models_router)
    app.include_router(training.jobs_router)
    app.include_router(training.changes_router)
    app.include_router(auth.router)
    app.include_router(users.users_router)
    app.include_router(users.keys_router)
    app.include_router(audit.router)
    app.include_router(worklist.router)
    app.include_router(learning.router)
    app.include_router(autonomy.router)
    app.include_router(monitoring.router)
    app.include_router(dicomweb.router)
    app.include_router(pacs.router)
    app.include_router(studies.studies_router)
    app.include_router(studies.series_router)
    app.include_router(deliveries.router)  # results back to the PACS (issue #16)
    enforce_route_policies(app)

    # Added last = outermost: request ids and the access log cover every answer, the 413s included.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_upload_bytes)
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["*"],
            allow_credentials=True,
        )
    app.add_middleware(SecurityHeadersMiddleware, strict_transport=settings.cookie_secure)
    app.add_middleware(RequestContextMiddleware)

    _mount_frontend(app, settings.frontend_dir)
    return app


def register_model_versions(state: AppState) -> None:
    """Mirrors the model stores into the database at start-up (a no-op when nothing changed)."""
    try:
        at_head = migrations.is_at_head(state.engine)
    except SQLAlchemyError:
        logger.error("database unreachable at start-up; /readyz reports it")
        return
    if not at_head:
        logger.error("database schema is not at head; run `imaging-ai migrate`")
        return
    with transaction(state.session_factory) as session:
        report = sync_store_to_database(session, state.settings.model_store_roots)
    if report.registered or report.activated or report.rejected:
        logger.info("model versions registered", extra=asdict(report))


def _mount_frontend(app: FastAPI, frontend_dir: Path) -> None:
    """Serves the built SPA (`frontend/dist`) at `/`, or the placeholder page until it is built."""
    for candidate in (frontend_dir / "dist", frontend_dir / "placeholder"):
        if (candidate / "index.html").is_file():
            app.mount("/", StaticFiles(directory=candidate, html=True), name="frontend")
            return
