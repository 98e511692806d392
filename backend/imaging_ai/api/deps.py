"""Dependencies shared by the routes, as Annotated aliases that keep route signatures short."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from imaging_ai.api.state import AppState
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.services.ingestion import IngestionService
from imaging_ai.settings import Settings


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.imaging_ai
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_session(state: StateDep) -> Iterator[Session]:
    # "function" scope: the transaction commits when the route returns, before the response is
    # sent, so a failed commit is answered as an error instead of a success that was lost.
    with transaction(state.session_factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_ingestion_service(state: StateDep, session: SessionDep) -> IngestionService:
    return IngestionService(
        session,
        state.blob_store,
        max_image_pixels=state.settings.max_image_pixels,
        pseudonym_key=state.settings.pseudonym_key_bytes,
    )


IngestionServiceDep = Annotated[IngestionService, Depends(get_ingestion_service)]

