"""Shared fixtures: real SQLite and PostgreSQL databases (migrated by Alembic), real files, the real app."""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from imaging_ai.persistence import migrations
from imaging_ai.persistence.base import Base
from imaging_ai.settings import PROJECT_ROOT, Settings

POSTGRES_URL = os.environ.get(
    "IMAGING_AI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def datasets_dir() -> Path:
    configured = os.environ.get("IMAGING_AI_DATASETS_DIR")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def datasets() -> Path:
    path = datasets_dir()
    if not path.is_dir():
        pytest.fail(f"datasets not found at {path}; set IMAGING_AI_DATASETS_DIR")
    return path


# --- PostgreSQL: one throwaway database per use, created and dropped on the local server -----------


@pytest.fixture(scope="session")
def make_postgres_database() -> Iterator[Callable[[], str]]:
    admin_url = make_url(POSTGRES_URL)
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # a missing server must fail loudly, never skip silently
        pytest.fail(f"PostgreSQL is not reachable at {admin_url.render_as_string()}: {exc}")
    created: list[str] = []

    def make() -> str:
        name = f"imaging_ai_test_{os.getpid()}_{secrets.token_hex(4)}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return admin_url.set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as connection:
        for name in created:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_postgres_url(make_postgres_database: Callable[[], str]) -> str:
    url = make_postgres_database()
    migrations.upgrade(url)
    return url


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "migrated.sqlite3"
    migrations.upgrade(f"sqlite:///{path}")
    return path


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind; every test using it runs once per database."""
    if request.param == "sqlite":
        # A copy of a database migrated once per session: the same schema the migrations make, without
        # running them for each of hundreds of tests (the migration tests run them on empty databases).
        path = tmp_path / "test.sqlite3"
        with (
            sqlite3.connect(request.getfixturevalue("migrated_sqlite_template")) as source,
            sqlite3.connect(path) as copy,
        ):
            source.backup(copy)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("migrated_postgres_url")
        _truncate_all(url)
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        pseudonym_key="test-pseudonym-key",
        max_upload_bytes=8 * 1024 * 1024,
        max_image_pixels=30_000_000,
        # The test client talks plain http://testserver; a Secure cookie would never be sent back.
        cookie_secure=False,
        # Blind reads hide answers at random; the tests of blinding and autonomy turn them on themselves.
        blind_read_fraction=0.0,
    )
