"""Earned autonomy: per-task and per-site levels, alerts, and on each prediction its level, who or
which rule finalised it, whether it was drawn for audit, and its intensity histogram (drift).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 07:38:08.187774
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=True),
        sa.CheckConstraint(
            "kind IN ('agreement_dropped', 'new_version', 'input_drift')", name=op.f("ck_alerts_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_task"), ["task"], unique=False)

    op.create_table(
        "autonomy_policies",
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=128), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("confidence_threshold", sa.Float(), nullable=True),
        sa.Column("audit_fraction", sa.Float(), nullable=False),
        sa.Column("model_version_id", sa.String(length=128), nullable=True),
        sa.Column("changed_by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "level != 'semi_autonomous' OR confidence_threshold IS NOT NULL",
            name=op.f("ck_autonomy_policies_semi_has_threshold"),
        ),
        sa.CheckConstraint(
            "level IN ('supervised', 'semi_autonomous', 'autonomous')",
            name=op.f("ck_autonomy_policies_level"),
        ),
        sa.CheckConstraint(
            "audit_fraction >= 0 AND audit_fraction <= 1",
            name=op.f("ck_autonomy_policies_audit_fraction_range"),
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_autonomy_policies_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("task", "site", name=op.f("pk_autonomy_policies")),
    )
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("autonomy_level", sa.String(length=16), server_default="supervised", nullable=False)
        )
        batch_op.add_column(sa.Column("finalized_by", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("finalized_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("audit_sample", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("input_histogram", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_column("input_histogram")
        batch_op.drop_column("audit_sample")
        batch_op.drop_column("finalized_at")
        batch_op.drop_column("finalized_by")
        batch_op.drop_column("autonomy_level")

    op.drop_table("autonomy_policies")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_task"))
        batch_op.drop_index(batch_op.f("ix_alerts_created_at"))

    op.drop_table("alerts")
