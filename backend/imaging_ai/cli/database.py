"""The database a command works on: opened from the settings, disposed of when the command is done."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from imaging_ai.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session


@contextmanager
def database(settings: Settings) -> Iterator[Engine]:
    """The settings' database engine, disposed of on the way out."""
    from imaging_ai.persistence.database import create_db_engine

    engine = create_db_engine(settings.resolved_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def transaction(settings: Settings) -> Iterator[Session]:
    """One session in one transaction on the settings' database: committed if the block succeeds,
    rolled back if it raises (as the API's requests and the worker's jobs are)."""
    from imaging_ai.persistence.database import create_session_factory
    from imaging_ai.persistence.unit_of_work import transaction as unit_of_work

    with database(settings) as engine, unit_of_work(create_session_factory(engine)) as session:
        yield session
