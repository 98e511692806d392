"""The product's states and decisions, named once.

The database stores them as strings under CHECK constraints built from these enums
(`persistence/models.py`), the API's schemas declare them with the same values, and the services
compare against the members. A `StrEnum` member is its string value, so a value read back from the
database compares equal to the member that wrote it. Declaration order is meaningful where it says so.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """A StrEnum whose repr is its value's, so validation messages read `'final'`, as they did when
    the states were plain strings."""

    def __repr__(self) -> str:
        return repr(self.value)


class AutonomyLevel(State):
    """How much a site's answers wait for a clinician, from most to least supervised (ordered)."""

    supervised = "supervised"
    semi_autonomous = "semi_autonomous"
    autonomous = "autonomous"

    @property
    def rank(self) -> int:
        return list(AutonomyLevel).index(self)


class PredictionStatus(State):
    pending_review = "pending_review"
    reviewed = "reviewed"
    final = "final"


class Verdict(State):
    """A verdict as stored: the clinician agreed, gave another label, or could not read the image."""

    agree = "agree"
    disagree = "disagree"
    unreadable = "unreadable"


class GivenVerdict(State):
    """A verdict as sent: a stored one, or `read` (the label a clinician reads, with or without the
    AI's answer in view; the only way to answer a blind read), stored as `agree` or `disagree`."""

    agree = "agree"
    disagree = "disagree"
    unreadable = "unreadable"
    read = "read"


class ModelVersionStatus(State):
    candidate = "candidate"
    active = "active"
    retired = "retired"
    rejected = "rejected"


class TrainingJobStatus(State):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


class TrainingTrigger(State):
    manual = "manual"
    automatic = "automatic"


class PromotionDecision(State):
    promoted = "promoted"
    held_back = "held_back"


class UserKind(State):
    person = "person"
    service = "service"


class Role(State):
    clinician = "clinician"
    admin = "admin"


class ApiKeyScope(State):
    read = "read"
    predict = "predict"


class AlertKind(State):
    agreement_dropped = "agreement_dropped"
    """Only found on alerts from before per-class error bounds (migration 0006)."""
    new_version = "new_version"
    input_drift = "input_drift"
    error_above_target = "error_above_target"


class Routing(State):
    """How a prediction's version was chosen: the task's default, or the site's own promoted version."""

    site = "site"
    default = "default"


class OperatingPointSource(State):
    """Where a served decision threshold came from: the site's verified cases, the version's validation
    data, or none (the label of highest probability; multi-label tasks, and predictions made before
    per-site operating points)."""

    site = "site"
    version = "version"
    argmax = "argmax"


class DeliveryStatus(State):
    """Where a result's delivery to the PACS stands: waiting (or being retried), stored there, or given
    up after the last attempt (an administrator may retry it)."""

    pending = "pending"
    sent = "sent"
    failed = "failed"
