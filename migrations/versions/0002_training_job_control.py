"""Training jobs: trigger, requester, cancellation request, promotion decision and evaluation.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 03:35:55.005510
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("training_jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trigger", sa.String(length=16), server_default="manual", nullable=False)
        )
        batch_op.add_column(sa.Column("requested_by", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("cancel_requested", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("decision", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("evaluation", sa.JSON(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_training_jobs_trigger"), "trigger IN ('manual', 'automatic')"
        )
        batch_op.create_check_constraint(
            op.f("ck_training_jobs_decision"), "decision IS NULL OR decision IN ('promoted', 'held_back')"
        )


def downgrade() -> None:
    with op.batch_alter_table("training_jobs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_training_jobs_decision"), type_="check")
        batch_op.drop_constraint(op.f("ck_training_jobs_trigger"), type_="check")
        batch_op.drop_column("evaluation")
        batch_op.drop_column("decision")
        batch_op.drop_column("cancel_requested")
        batch_op.drop_column("requested_by")
        batch_op.drop_column("trigger")
