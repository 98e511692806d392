"""Learning scores: each waiting case as scored by the version serving its site, for the learning queue.

One row per prediction: the probabilities and the penultimate features (float16) of the version that
scored it. Written with each prediction and refreshed by the worker when another version starts
serving the case's site. Nothing else depends on them: downgrading drops the table.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "learning_scores",
        sa.Column("prediction_id", sa.Uuid(), nullable=False),
        sa.Column("model_version_id", sa.String(length=128), nullable=False),
        sa.Column("probabilities", sa.JSON(), nullable=False),
        sa.Column("features", sa.LargeBinary(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["prediction_id"],
            ["predictions.id"],
            name=op.f("fk_learning_scores_prediction_id_predictions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_learning_scores_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("prediction_id", name=op.f("pk_learning_scores")),
    )
    op.create_index(
        op.f("ix_learning_scores_model_version_id"), "learning_scores", ["model_version_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_learning_scores_model_version_id"), table_name="learning_scores")
    op.drop_table("learning_scores")
