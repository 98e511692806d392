"""The domain's records. Schema changes go through Alembic migrations in ``migrations/`` only.

Status columns are strings with CHECK constraints rather than native enums: both SQLite and
PostgreSQL enforce them, and adding a state later is a one-line migration on either database.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from imaging_ai.persistence.base import Base, new_id, utcnow
from imaging_ai.vocabulary import (
    AlertKind,
    AutonomyLevel,
    DeliveryStatus,
    ModelVersionStatus,
    OperatingPointSource,
    PredictionStatus,
    PromotionDecision,
    Role,
    Routing,
    TrainingJobStatus,
    TrainingTrigger,
    UserKind,
    Verdict,
)


def _one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Image(Base):
    """A stored (de-identified) image; the bytes live in the content-addressed store under its hash."""

    __tablename__ = "images"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    content_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))
    modality: Mapped[str | None] = mapped_column(String(16))
    body_part: Mapped[str | None] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    cols: Mapped[int] = mapped_column(Integer)
    bits_stored: Mapped[int] = mapped_column(Integer)
    photometric_interpretation: Mapped[str] = mapped_column(String(32))
    pixel_spacing_row_mm: Mapped[float | None] = mapped_column(Float)
    pixel_spacing_col_mm: Mapped[float | None] = mapped_column(Float)
    number_of_frames: Mapped[int] = mapped_column(Integer, default=1)
    frame_index: Mapped[int] = mapped_column(Integer, default=0)
    site: Mapped[str | None] = mapped_column(String(128), index=True)
    patient_key: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # DICOM only: the (pseudonymised) UIDs that keep an instance in its study and series.
    study_instance_uid: Mapped[str | None] = mapped_column(String(64), index=True)
    series_instance_uid: Mapped[str | None] = mapped_column(String(64), index=True)
    sop_instance_uid: Mapped[str | None] = mapped_column(String(64), index=True)
    sop_class_uid: Mapped[str | None] = mapped_column(String(64))
    instance_number: Mapped[int | None] = mapped_column(Integer)
    # The decoded frame's modality values (HU for CT) and its default window, for viewers that window
    # in modality units. Null for images stored before migration 0009.
    value_min: Mapped[float | None] = mapped_column(Float)
    value_max: Mapped[float | None] = mapped_column(Float)
    window_center: Mapped[float | None] = mapped_column(Float)
    window_width: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        CheckConstraint("rows > 0 AND cols > 0", name="positive_size"),
        CheckConstraint("frame_index >= 0 AND frame_index < number_of_frames", name="frame_in_range"),
    )


class ModelVersion(Base):
    """An immutable model version; its weights and card live in the model store at ``store_path``."""

    __tablename__ = "model_versions"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    task: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="candidate")
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("model_versions.id"))
    store_path: Mapped[str] = mapped_column(String(512))
    weights_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        CheckConstraint(_one_of("status", ModelVersionStatus), name="status"),
        # At most one active version per task, enforced by the database itself.
        Index(
            "uq_model_versions_one_active_per_task",
            "task",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )


class TrainingJob(Base):
    """A queued or finished fine-tuning job; its whole state lives here so any worker can pick it up."""

    __tablename__ = "training_jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    task: Mapped[str] = mapped_column(String(64), index=True)
    site: Mapped[str | None] = mapped_column(String(128), index=True)
    """The site whose verified cases the candidate learns from, and where it is judged; null: every site."""
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    trigger: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")
    requested_by: Mapped[str | None] = mapped_column(String(128))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cancel_requested: Mapped[bool] = mapped_column(default=False, server_default=false())
    decision: Mapped[str | None] = mapped_column(String(16))
    evaluation: Mapped[dict[str, Any] | None] = mapped_column()
    training_set: Mapped[dict[str, Any] | None] = mapped_column()
    candidate_version_id: Mapped[str | None] = mapped_column(ForeignKey("model_versions.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        CheckConstraint(_one_of("status", TrainingJobStatus), name="status"),
        CheckConstraint(_one_of("trigger", TrainingTrigger), name="trigger"),
        CheckConstraint(f"decision IS NULL OR {_one_of('decision', PromotionDecision)}", name="decision"),
    )


class Prediction(Base):
    """One model answer for one image; never overwritten (verdicts are separate, append-only rows)."""

    __tablename__ = "predictions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    image_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("images.id"), index=True)
    task: Mapped[str] = mapped_column(String(64), index=True)
    model_version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id"), index=True)
    predicted_label: Mapped[str] = mapped_column(String(64))
    probabilities: Mapped[dict[str, Any]] = mapped_column()
    confidence: Mapped[float] = mapped_column(Float)
    uncertainty: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(32), default="pending_review", index=True)
    site: Mapped[str | None] = mapped_column(String(128), index=True)
    accession_number: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(128))
    inference_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    autonomy_level: Mapped[str] = mapped_column(String(16), default="supervised", server_default="supervised")
    finalized_by: Mapped[str | None] = mapped_column(String(128))
    """The rule that finalised the answer without a clinician (`rule:...`); null when a clinician must."""
    finalized_at: Mapped[datetime | None] = mapped_column()
    audit_sample: Mapped[bool] = mapped_column(default=False, server_default=false())
    """An automatically finalised answer drawn for a (blind) review anyway, so measurement never stops."""
    blind_read: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Drawn to be read blind: no client is shown the answer until a clinician has given a label."""
    blind_read_probability: Mapped[float | None] = mapped_column(Float)
    """The chance it had of being drawn (its inverse weights the evidence); null before migration 0006."""
    ood_distance: Mapped[float | None] = mapped_column(Float)
    """Mahalanobis distance of the image's features from the version's training features."""
    out_of_distribution: Mapped[bool | None] = mapped_column()
    """Beyond the version's out-of-distribution threshold: never finalised automatically. Null: the
    version has no feature density (nothing can be finalised automatically then either)."""
    feature_z: Mapped[float | None] = mapped_column(Float)
    """The distance's normal score against the version's held-out images: the drift test's input."""
    output_z: Mapped[float | None] = mapped_column(Float)
    """The output's normal score against the version's held-out images: the drift test's other input."""
    routing: Mapped[str] = mapped_column(String(16), default="default", server_default="default")
    decision_threshold: Mapped[float | None] = mapped_column(Float)
    """The probability of the positive label at or above which it was the served label (two-label tasks)."""
    operating_point: Mapped[str] = mapped_column(String(16), default="argmax", server_default="argmax")

    __table_args__ = (
        CheckConstraint(_one_of("status", PredictionStatus), name="status"),
        CheckConstraint(
            "blind_read_probability IS NULL OR (blind_read_probability > 0 AND blind_read_probability <= 1)",
            name="blind_read_probability_range",
        ),
        CheckConstraint("NOT blind_read OR blind_read_probability IS NOT NULL", name="blind_read_weighted"),
        CheckConstraint(_one_of("routing", Routing), name="routing"),
        CheckConstraint(_one_of("operating_point", OperatingPointSource), name="operating_point"),
        CheckConstraint(_one_of("autonomy_level", AutonomyLevel), name="autonomy_level"),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence_range"),
    )

    @property
    def awaits_blind_read(self) -> bool:
        """Drawn to be read blind and not read yet: its answer is shown to no clinician until then."""
        return self.blind_read and self.status != PredictionStatus.reviewed


class LearningScore(Base):
    """A waiting case as scored by the version serving its site, for the learning queue
    (`services/cases/learning_queue.py`); refreshed when another version starts serving the site."""

    __tablename__ = "learning_scores"

    prediction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("predictions.id", ondelete="CASCADE"), primary_key=True
    )
    model_version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id"), index=True)
    probabilities: Mapped[dict[str, Any]] = mapped_column()
    features: Mapped[bytes] = mapped_column(LargeBinary)
    """Penultimate features, float16 (`persistence.learning_scores.encode_features`)."""
    scored_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Feedback(Base):
    """A clinician's verdict on a prediction. Append-only: the latest row is the label of record."""

    __tablename__ = "feedback"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    prediction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("predictions.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(64))
    reviewer: Mapped[str] = mapped_column(String(128))
    # The authenticated account that gave the verdict (null only for verdicts from before accounts).
    reviewer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    blind: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Given without the AI's answer in view (a blind read): the only verdicts certification counts."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint(_one_of("verdict", Verdict), name="verdict"),
        CheckConstraint("verdict != 'disagree' OR label IS NOT NULL", name="disagree_has_label"),
        # Serialises concurrent verdicts on one prediction: two writers cannot take the same sequence.
        Index("uq_feedback_prediction_sequence", "prediction_id", "sequence", unique=True),
    )


class AuditEvent(Base):
    """Who did what, when and from where. Never holds patient data."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(128))
    client_address: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class User(Base):
    """A person (signs in with a password) or a service account (authenticates with API keys)."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), default="person")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()
    password_changed_at: Mapped[datetime | None] = mapped_column()

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin", order_by="UserRole.role"
    )

    __table_args__ = (
        CheckConstraint(_one_of("kind", UserKind), name="kind"),
        # Service accounts never have a password: they cannot sign in to the web app.
        CheckConstraint("kind = 'person' OR password_hash IS NULL", name="service_has_no_password"),
    )

    @property
    def role_names(self) -> list[str]:
        return sorted(grant.role for grant in self.roles)


class UserRole(Base):
    """One role held by a user; a user may hold several."""

    __tablename__ = "user_roles"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="roles")

    __table_args__ = (CheckConstraint(_one_of("role", Role), name="role"),)


class ApiKey(Base):
    """A service account's key. Only its SHA-256 is stored; the key itself is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any]] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()


class AuthSession(Base):
    """A signed-in browser session. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Not a credential on its own (it only works beside the HttpOnly cookie), so it is kept readable
    # for `GET /auth/me` to hand back to a reloaded web app.
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    client_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class LoginAttempt(Base):
    """Every password sign-in attempt, the throttle's memory. The name is as typed (it may not exist)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    username: Mapped[str] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column()
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_login_attempts_username_occurred_at", "username", "occurred_at"),
        Index("ix_login_attempts_client_address_occurred_at", "client_address", "occurred_at"),
    )


class AutonomyPolicy(Base):
    """The level of autonomy of a task at one site, set by an administrator. Nothing is task-wide: a site
    without a row of its own, or whose serving version is not the one that earned it, is supervised."""

    __tablename__ = "autonomy_policies"

    task: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(128), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    class_thresholds: Mapped[dict[str, Any] | None] = mapped_column()
    """Semi-autonomy: per label, the confidence at or above which an answer of that label is final
    (a label absent or null is never final automatically)."""
    blind_read_fraction: Mapped[float] = mapped_column(Float)
    model_version_id: Mapped[str | None] = mapped_column(ForeignKey("model_versions.id"))
    """The version whose evidence earned the level; a promotion of another one drops it."""
    changed_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint(_one_of("level", AutonomyLevel), name="level"),
        CheckConstraint(
            "blind_read_fraction >= 0 AND blind_read_fraction <= 1", name="blind_read_fraction_range"
        ),
        CheckConstraint(
            "level != 'semi_autonomous' OR class_thresholds IS NOT NULL", name="semi_has_thresholds"
        ),
    )


class Alert(Base):
    """Something a clinician or administrator must know: an automatic fall-back to supervision."""

    __tablename__ = "alerts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    task: Mapped[str] = mapped_column(String(64), index=True)
    site: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (CheckConstraint(_one_of("kind", AlertKind), name="kind"),)


class SiteVersion(Base):
    """The version that serves one site of a task, when it is not the task's default (the active one)."""

    __tablename__ = "site_versions"

    task: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(128), primary_key=True)
    model_version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id"))
    changed_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class OperatingPoint(Base):
    """The decision threshold a version serves at one site, chosen on that site's verified cases."""

    __tablename__ = "operating_points"

    task: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(128), primary_key=True)
    model_version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id"), primary_key=True)
    threshold: Mapped[float] = mapped_column(Float)
    target_sensitivity: Mapped[float] = mapped_column(Float)
    sensitivity: Mapped[float | None] = mapped_column(Float)
    sensitivity_low: Mapped[float | None] = mapped_column(Float)
    sensitivity_high: Mapped[float | None] = mapped_column(Float)
    specificity: Mapped[float | None] = mapped_column(Float)
    positives: Mapped[int] = mapped_column(Integer)
    negatives: Mapped[int] = mapped_column(Integer)
    chosen_on: Mapped[str] = mapped_column(String(255))
    """Which cases: the version's own verified predictions at the site, or a job's held-out site cases."""
    chosen_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (CheckConstraint("threshold >= 0 AND threshold <= 1", name="threshold_range"),)


class ResultDelivery(Base):
    """The outbox of results for the PACS: one row per prediction and destination, sent by the worker
    (`services/results/`). Holds no patient data: the error text is the sender's, never the PACS's body."""

    __tablename__ = "result_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    prediction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("predictions.id", ondelete="CASCADE"), index=True
    )
    destination: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    """The worker sending it now; with `claimed_until`, the claim no other worker may take."""
    claimed_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_final: Mapped[bool | None] = mapped_column()
    """Whether the last result sent was final (null: none sent yet); a preliminary one is sent again
    as final once the prediction is final."""
    sent_sop_instance_uids: Mapped[list[Any]] = mapped_column(default=list)
    """Every SOP Instance UID the destination accepted, oldest first."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        CheckConstraint(_one_of("status", DeliveryStatus), name="status"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("uq_result_deliveries_prediction_destination", "prediction_id", "destination", unique=True),
    )
