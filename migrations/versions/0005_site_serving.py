"""Site-scoped serving: a version per (task, site), operating points, the site of a training job.

The task's active version stays what it was and becomes the task's default: every site without a
version of its own is served by it, as before. Existing predictions were made by the default version
at the label of highest probability, which is what the new columns' server defaults say.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_versions",
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=128), nullable=False),
        sa.Column("model_version_id", sa.String(length=128), nullable=False),
        sa.Column("changed_by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_site_versions_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("task", "site", name=op.f("pk_site_versions")),
    )
    op.create_table(
        "operating_points",
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=128), nullable=False),
        sa.Column("model_version_id", sa.String(length=128), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("target_sensitivity", sa.Float(), nullable=False),
        sa.Column("sensitivity", sa.Float(), nullable=True),
        sa.Column("sensitivity_low", sa.Float(), nullable=True),
        sa.Column("sensitivity_high", sa.Float(), nullable=True),
        sa.Column("specificity", sa.Float(), nullable=True),
        sa.Column("positives", sa.Integer(), nullable=False),
        sa.Column("negatives", sa.Integer(), nullable=False),
        sa.Column("chosen_on", sa.String(length=255), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "threshold >= 0 AND threshold <= 1", name=op.f("ck_operating_points_threshold_range")
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_operating_points_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("task", "site", "model_version_id", name=op.f("pk_operating_points")),
    )
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("routing", sa.String(length=16), server_default="default", nullable=False)
        )
        batch_op.add_column(sa.Column("decision_threshold", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("operating_point", sa.String(length=16), server_default="argmax", nullable=False)
        )
        batch_op.create_check_constraint("routing", "routing IN ('default', 'site')")
        batch_op.create_check_constraint(
            "operating_point", "operating_point IN ('site', 'version', 'argmax')"
        )
    with op.batch_alter_table("training_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site", sa.String(length=128), nullable=True))
        batch_op.create_index(batch_op.f("ix_training_jobs_site"), ["site"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("training_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_jobs_site"))
        batch_op.drop_column("site")
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_predictions_operating_point"), type_="check")
        batch_op.drop_constraint(op.f("ck_predictions_routing"), type_="check")
        batch_op.drop_column("operating_point")
        batch_op.drop_column("decision_threshold")
        batch_op.drop_column("routing")
    op.drop_table("operating_points")
    op.drop_table("site_versions")
