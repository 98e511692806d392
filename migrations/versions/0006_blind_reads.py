"""Autonomy on blind reads: per-site levels only, per-class thresholds, blind reads and their sampling
probability, the out-of-distribution guard and the drift test's inputs on each prediction; uploaders'
file names are no longer kept.

Existing levels were earned on agreement with clinicians who could see the AI's answer, which the new
rules do not count as evidence, and task-wide (`*`) levels no longer exist: every task-wide row is
deleted and every raised site level is set back to `supervised`, with the reason on the row.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

DEFAULT_BLIND_READ_FRACTION = 0.2
RESET_REASON = (
    "Migration 0006: levels are now certified on blind reads, per class; this level was earned on "
    "agreement with unblinded reviewers and must be earned again."
)


def upgrade() -> None:
    policies = sa.table(
        "autonomy_policies",
        sa.column("site", sa.String),
        sa.column("level", sa.String),
        sa.column("audit_fraction", sa.Float),
        sa.column("confidence_threshold", sa.Float),
        sa.column("model_version_id", sa.String),
        sa.column("changed_by", sa.String),
        sa.column("reason", sa.Text),
        sa.column("changed_at", sa.DateTime(timezone=True)),
    )
    op.execute(policies.delete().where(policies.c.site == "*"))
    op.execute(
        policies.update()
        .where(policies.c.level != "supervised")
        .values(
            level="supervised",
            confidence_threshold=None,
            model_version_id=None,
            changed_by="system",
            reason=RESET_REASON,
            changed_at=datetime.now(UTC),
        )
    )
    op.execute(
        policies.update()
        .where(policies.c.audit_fraction <= 0)
        .values(audit_fraction=DEFAULT_BLIND_READ_FRACTION)
    )
    with op.batch_alter_table("autonomy_policies", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_autonomy_policies_semi_has_threshold"), type_="check")
        batch_op.drop_constraint(op.f("ck_autonomy_policies_audit_fraction_range"), type_="check")
        batch_op.drop_column("confidence_threshold")
        batch_op.alter_column("audit_fraction", new_column_name="blind_read_fraction")
        batch_op.add_column(sa.Column("class_thresholds", sa.JSON(), nullable=True))
        batch_op.create_check_constraint(
            "blind_read_fraction_range", "blind_read_fraction >= 0 AND blind_read_fraction <= 1"
        )
        batch_op.create_check_constraint(
            "semi_has_thresholds", "level != 'semi_autonomous' OR class_thresholds IS NOT NULL"
        )

    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("blind_read", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("blind_read_probability", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("ood_distance", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("out_of_distribution", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("feature_z", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("output_z", sa.Float(), nullable=True))
        # The intensity histogram fed the population-stability drift rule, replaced by the features.
        batch_op.drop_column("input_histogram")
        batch_op.create_check_constraint(
            "blind_read_probability_range",
            "blind_read_probability IS NULL OR (blind_read_probability > 0 AND blind_read_probability <= 1)",
        )
        batch_op.create_check_constraint(
            "blind_read_weighted", "NOT blind_read OR blind_read_probability IS NOT NULL"
        )

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("blind", sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_alerts_kind"), type_="check")
        batch_op.create_check_constraint(
            "kind", "kind IN ('agreement_dropped', 'new_version', 'input_drift', 'error_above_target')"
        )

    # File names given by uploaders often carry the patient's name: dropped, values and column.
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_column("original_filename")


def downgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("original_filename", sa.String(length=255), nullable=True))
    alerts = sa.table("alerts", sa.column("kind", sa.String))
    op.execute(alerts.delete().where(alerts.c.kind == "error_above_target"))
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_alerts_kind"), type_="check")
        batch_op.create_check_constraint(
            "kind", "kind IN ('agreement_dropped', 'new_version', 'input_drift')"
        )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_column("blind")
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("input_histogram", sa.JSON(), nullable=True))
        batch_op.drop_constraint(op.f("ck_predictions_blind_read_weighted"), type_="check")
        batch_op.drop_constraint(op.f("ck_predictions_blind_read_probability_range"), type_="check")
        for column in (
            "output_z",
            "feature_z",
            "out_of_distribution",
            "ood_distance",
            "blind_read_probability",
            "blind_read",
        ):
            batch_op.drop_column(column)
    # Per-class thresholds have no single-threshold equivalent: raised levels return to supervised.
    policies = sa.table(
        "autonomy_policies", sa.column("level", sa.String), sa.column("class_thresholds", sa.JSON)
    )
    op.execute(policies.update().values(level="supervised", class_thresholds=None))
    with op.batch_alter_table("autonomy_policies", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_autonomy_policies_semi_has_thresholds"), type_="check")
        batch_op.drop_constraint(op.f("ck_autonomy_policies_blind_read_fraction_range"), type_="check")
        batch_op.drop_column("class_thresholds")
        batch_op.alter_column("blind_read_fraction", new_column_name="audit_fraction")
        batch_op.add_column(sa.Column("confidence_threshold", sa.Float(), nullable=True))
        batch_op.create_check_constraint(
            "audit_fraction_range", "audit_fraction >= 0 AND audit_fraction <= 1"
        )
        batch_op.create_check_constraint(
            "semi_has_threshold", "level != 'semi_autonomous' OR confidence_threshold IS NOT NULL"
        )
