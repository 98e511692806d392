"""Alembic, driven from code: the schema is only ever made by these migrations."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from imaging_ai.persistence.database import ensure_sqlite_directory
from imaging_ai.settings import MIGRATIONS_DIR


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's ini interpolation treats % specially; URL-encoded passwords contain it.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def upgrade(database_url: str, revision: str = "head", *, pseudonym_key: bytes | None = None) -> None:
    """``pseudonym_key``: for migrations that pseudonymise stored values (0007); without it they read
    the key from the settings, and only when there is something to hash."""
    ensure_sqlite_directory(database_url)
    config = alembic_config(database_url)
    if pseudonym_key is not None:
        config.attributes["pseudonym_key"] = pseudonym_key
    command.upgrade(config, revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revisions() -> set[str]:
    return set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def is_at_head(engine: Engine) -> bool:
    return current_revisions(engine) == head_revisions()
