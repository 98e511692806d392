"""DICOM identity and modality values of images: study, series and instance UIDs (the keyed pseudonyms
written by de-identification), the instance number, the decoded frame's value range and default window.

Images stored before this revision keep nulls: their files still hold the UIDs, but re-reading every
stored file in a migration would make upgrades as slow as the archive is large.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_INDEXED = ("study_instance_uid", "series_instance_uid", "sop_instance_uid")


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        for name in _INDEXED:
            batch.add_column(sa.Column(name, sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("sop_class_uid", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("instance_number", sa.Integer(), nullable=True))
        for name in ("value_min", "value_max", "window_center", "window_width"):
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
    for name in _INDEXED:
        op.create_index(op.f(f"ix_images_{name}"), "images", [name], unique=False)


def downgrade() -> None:
    for name in _INDEXED:
        op.drop_index(op.f(f"ix_images_{name}"), table_name="images")
    with op.batch_alter_table("images") as batch:
        for name in (
            "window_width",
            "window_center",
            "value_max",
            "value_min",
            "instance_number",
            "sop_class_uid",
            *reversed(_INDEXED),
        ):
            batch.drop_column(name)
