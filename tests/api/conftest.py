"""The real app over the real databases, through FastAPI's in-process test client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from imaging_ai.api.app import create_app
from imaging_ai.api.state import AppState
from imaging_ai.persistence.models import Image, User
from imaging_ai.settings import Settings
from tests.accounts import create_user, sign_in_client


@pytest.fixture
def anonymous_client(settings: Settings) -> Iterator[TestClient]:
    """The real app, not signed in."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def client(anonymous_client: TestClient) -> TestClient:
    return sign_in_admin(anonymous_client)


def sign_in_admin(client: TestClient) -> TestClient:
    """Signs the client in as `dr.admin`, who holds both roles (clinician and admin); sets the CSRF header."""
    factory = app_state(client).session_factory
    return sign_in_client(client, factory, create_user(factory, "dr.admin", ("clinician", "admin")))


def client_as(
    client: TestClient, user: User | None = None, headers: dict[str, str] | None = None
) -> TestClient:
    """Another client on the same app: signed in as `user`, or sending `headers` (an API key), or neither."""
    other = TestClient(client.app, raise_server_exceptions=False)
    if user is not None:
        sign_in_client(other, app_state(client).session_factory, user)
    other.headers.update(headers or {})
    return other


def app_state(client: TestClient) -> AppState:
    state: AppState = client.app.state.imaging_ai  # type: ignore[attr-defined]
    return state


def stored_files(client: TestClient) -> list[str]:
    root = app_state(client).blob_store.root
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def image_rows(client: TestClient) -> int:
    with app_state(client).session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(Image)) or 0)
