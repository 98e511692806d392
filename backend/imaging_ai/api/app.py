"""The FastAPI application: routers, middleware, error envelope, OpenAPI metadata and the SPA."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from imaging_ai import __version__
from imaging_ai.api.errors import install_error_handlers
from imaging_ai.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from imaging_ai.api.routes import health, images
from imaging_ai.api.state import AppState
from imaging_ai.settings import Settings

DESCRIPTION = """
Doctor-supervised medical image AI. Clinicians upload images (chest X-rays first), get a
classification with calibrated confidence, and confirm or correct it; verified cases train better
model versions that are promoted only when proven.

Every error is answered with the same envelope: `{"error": {"code", "message", "details", "request_id"}}`,
where `code` is stable and safe to branch on.
"""

TAGS = [
    {"name": "images", "description": "Upload, de-identify, store and render medical images."},
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
    app.add_middleware(RequestContextMiddleware)

    _mount_frontend(app, settings.frontend_dir)
    return app


def _mount_frontend(app: FastAPI, frontend_dir: Path) -> None:
    """Serves the built SPA (`frontend/dist`) at `/`, or the placeholder page until it is built."""
    for candidate in (frontend_dir / "dist", frontend_dir / "placeholder"):
        if (candidate / "index.html").is_file():
            app.mount("/", StaticFiles(directory=candidate, html=True), name="frontend")
            return
