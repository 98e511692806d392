"""The real app over the real databases, through FastAPI's in-process test client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from imaging_ai.api.app import create_app
from imaging_ai.api.state import AppState
from imaging_ai.persistence.models import Image
from imaging_ai.settings import Settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def app_state(client: TestClient) -> AppState:
    state: AppState = client.app.state.imaging_ai  # type: ignore[attr-defined]
    return state


def stored_files(client: TestClient) -> list[str]:
    root = app_state(client).blob_store.root
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def image_rows(client: TestClient) -> int:
    with app_state(client).session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(Image)) or 0)
