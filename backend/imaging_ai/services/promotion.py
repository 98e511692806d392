"""The promotion gate, promotion and rollback.

A candidate is promoted automatically only when it is better than the active version on the
sequestered verified cases (which no version ever trains on) and not worse on the task's source test
set beyond a margin (so nothing the task knew is forgotten). Otherwise it stays a candidate, with
the reason written on its job. An administrator may promote or roll back by hand, with a reason;
every change of the active version is one transaction and one audit event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from imaging_ai.errors import DomainError
from imaging_ai.persistence.audit import record_audit_event
from imaging_ai.persistence.model_versions import ModelVersionRepository
from imaging_ai.persistence.models import ModelVersion
from imaging_ai.services.autonomy import fall_back_on_promotion
from imaging_ai.services.identity import Actor
from imaging_ai.services.tasks import UnknownModelVersionError, get_task


class PromotionError(DomainError):
    status_code = 409
    code = "promotion_refused"


@dataclass(frozen=True)
class GatePolicy:
    source_margin: float = 0.01
    """Largest source-test AUC drop tolerated."""
    min_sequestered: int = 20
    """Fewest sequestered cases (with both classes) that can prove a candidate better."""


@dataclass
class GateDecision:
    promote: bool
    reason: str
    evaluation: dict[str, Any] = field(default_factory=dict)


def _auc(metrics: dict[str, Any] | None) -> float:
    value = (metrics or {}).get("auc")
    return float("nan") if value is None else float(value)


def judge(
    *,
    sequestered: dict[str, dict[str, Any]],
    source: dict[str, dict[str, Any]] | None,
    policy: GatePolicy,
    root_source_auc: float | None = None,
) -> GateDecision:
    """``sequestered``/``source``: {"active": metrics, "candidate": metrics}; sequestered also per site
    under "sites": {site: {"active": ..., "candidate": ...}}. ``root_source_auc``: the lineage's base
    version on the same source test set; the margin is measured from the better of it and the active
    version, so that a chain of promotions cannot each forget a little more."""
    evaluation = {
        "sequestered": sequestered,
        "source_test": source,
        "root_source_auc": root_source_auc,
        "policy": policy.__dict__,
    }
    pooled_active, pooled_candidate = _auc(sequestered.get("active")), _auc(sequestered.get("candidate"))
    n = int((sequestered.get("candidate") or {}).get("n") or 0)
    if n < policy.min_sequestered or math.isnan(pooled_candidate) or math.isnan(pooled_active):
        return GateDecision(
            False,
            f"held back: {n} sequestered cases (both labels needed, at least {policy.min_sequestered}) "
            "cannot prove the candidate better yet",
            evaluation,
        )
    if pooled_candidate <= pooled_active:
        return GateDecision(
            False,
            f"held back: not better on the sequestered cases (AUC {pooled_candidate:.3f} vs active "
            f"{pooled_active:.3f}, n={n})",
            evaluation,
        )
    for site, pair in (sequestered.get("sites") or {}).items():
        site_n = int((pair.get("candidate") or {}).get("n") or 0)
        site_active, site_candidate = _auc(pair.get("active")), _auc(pair.get("candidate"))
        if site_n >= policy.min_sequestered and site_candidate < site_active - policy.source_margin:
            return GateDecision(
                False,
                f"held back: worse at site {site} (AUC {site_candidate:.3f} vs {site_active:.3f})",
                evaluation,
            )
    if source is None:
        return GateDecision(
            False,
            "held back: the source test set is unavailable, so forgetting cannot be ruled out",
            evaluation,
        )
    source_active, source_candidate = _auc(source.get("active")), _auc(source.get("candidate"))
    reference = max(source_active, root_source_auc) if root_source_auc is not None else source_active
    if math.isnan(source_candidate) or source_candidate < reference - policy.source_margin:
        return GateDecision(
            False,
            f"held back: forgets the source site (source-test AUC {source_candidate:.3f} vs "
            f"{reference:.3f}, the better of the active and the base version; margin {policy.source_margin})",
            evaluation,
        )
    return GateDecision(
        True,
        f"promoted: sequestered AUC {pooled_candidate:.3f} vs {pooled_active:.3f} (n={n}); source-test AUC "
        f"{source_candidate:.3f} vs {source_active:.3f}",
        evaluation,
    )


class PromotionService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.versions = ModelVersionRepository(session)

    def activate(
        self,
        version_id: str,
        *,
        actor: Actor,
        reason: str,
        action: str = "model.promote",
        metrics: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Makes a version the task's active one, in this transaction, with an audit event."""
        version = self.versions.get(version_id)
        if version is None:
            raise UnknownModelVersionError(f"No model version {version_id!r}.")
        if version.status == "rejected":
            raise PromotionError("A rejected version (weights failed their check) cannot be activated.")
        current = self.versions.active(version.task)
        if current is not None and current.id == version.id:
            raise PromotionError(f"{version.id} is already active.")
        if current is not None:
            current.status = "retired"
            # Flush the retirement first: the one-active-per-task index checks each statement.
            self.session.flush()
        version.status = "active"
        version.activated_at = datetime.now(UTC)
        self.session.flush()
        fall_back_on_promotion(self.session, version.task, version.id)
        record_audit_event(
            self.session,
            actor=actor.username,
            action=action,
            target_type="model_version",
            target_id=version.id,
            client_address=actor.client_address,
            details={
                "task": version.task,
                "previous": current.id if current else None,
                "reason": reason,
                "metrics": metrics or {},
            },
        )
        return version

    def rollback(self, task: str, *, actor: Actor, reason: str) -> ModelVersion:
        """Re-activates the version the active one replaced (its parent, else the latest retired)."""
        get_task(task)
        current = self.versions.active(task)
        if current is None:
            raise PromotionError(f"Task {task} has no active version to roll back.")
        target = self.versions.get(current.parent_id) if current.parent_id else None
        if target is None or target.status == "rejected":
            retired = [v for v in self.versions.for_task(task) if v.status == "retired" and v.activated_at]
            target = max(
                retired, key=lambda v: v.activated_at or datetime.min.replace(tzinfo=UTC), default=None
            )
        if target is None:
            raise PromotionError(f"{current.id} has no earlier version to roll back to.")
        return self.activate(target.id, actor=actor, reason=reason, action="model.rollback")
