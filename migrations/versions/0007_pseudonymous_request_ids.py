"""Accession numbers and callers' external ids are kept as keyed hashes, like patient ids.

Both identify a patient's study in the hospital's systems (RIS, PACS), so they are pseudonymised with
the same HMAC and key as patient ids (`IMAGING_AI_PSEUDONYM_KEY`, or the key generated under the data
directory). The key comes from the settings: `imaging-ai migrate` and `serve --migrate` read them, as
does this migration when it is run without one (`config.attributes["pseudonym_key"]`, which
`persistence.migrations.upgrade` sets when given a key). It is needed, and read, only when there are
values to hash. Empty values become NULL.

The hash is a frozen copy of `services.ingestion.pseudonymise` (a migration must not change when the
code does); a test checks they agree. Downgrading keeps the hashes: clear values cannot come back.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import hashlib
import hmac

import sqlalchemy as sa
from alembic import context, op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _pseudonym(value: str | None, key: bytes) -> str | None:
    if value is None or not value.strip():
        return None
    return hmac.new(key, value.strip().encode(), hashlib.sha256).hexdigest()[:32]


def _key() -> bytes:
    key = context.config.attributes.get("pseudonym_key")
    if isinstance(key, bytes):
        return key
    from imaging_ai.settings import Settings

    return Settings().pseudonym_key_bytes


def upgrade() -> None:
    predictions = sa.table(
        "predictions",
        sa.column("id", sa.Uuid),
        sa.column("accession_number", sa.String),
        sa.column("external_id", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(predictions.c.id, predictions.c.accession_number, predictions.c.external_id).where(
            sa.or_(predictions.c.accession_number.is_not(None), predictions.c.external_id.is_not(None))
        )
    ).all()
    if not rows:
        return
    key = _key()
    for row in rows:
        connection.execute(
            predictions.update()
            .where(predictions.c.id == row.id)
            .values(
                accession_number=_pseudonym(row.accession_number, key),
                external_id=_pseudonym(row.external_id, key),
            )
        )


def downgrade() -> None:
    """Nothing to undo in the schema; the hashes stay (the clear values are gone)."""
