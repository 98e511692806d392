"""The outbox of results sent back to the PACS: one row per prediction and destination.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "result_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("prediction_id", sa.Uuid(), nullable=False),
        sa.Column("destination", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_final", sa.Boolean(), nullable=True),
        sa.Column("sent_sop_instance_uids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_result_deliveries_status")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_result_deliveries_attempts_non_negative")),
        sa.ForeignKeyConstraint(
            ["prediction_id"],
            ["predictions.id"],
            name=op.f("fk_result_deliveries_prediction_id_predictions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result_deliveries")),
    )
    op.create_index(
        op.f("ix_result_deliveries_prediction_id"), "result_deliveries", ["prediction_id"], unique=False
    )
    op.create_index(op.f("ix_result_deliveries_status"), "result_deliveries", ["status"], unique=False)
    op.create_index(
        op.f("ix_result_deliveries_next_attempt_at"), "result_deliveries", ["next_attempt_at"], unique=False
    )
    op.create_index(
        "uq_result_deliveries_prediction_destination",
        "result_deliveries",
        ["prediction_id", "destination"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_result_deliveries_prediction_destination", table_name="result_deliveries")
    op.drop_index(op.f("ix_result_deliveries_next_attempt_at"), table_name="result_deliveries")
    op.drop_index(op.f("ix_result_deliveries_status"), table_name="result_deliveries")
    op.drop_index(op.f("ix_result_deliveries_prediction_id"), table_name="result_deliveries")
    op.drop_table("result_deliveries")
