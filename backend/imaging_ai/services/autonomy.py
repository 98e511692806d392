"""Earned autonomy: per task and site, from `supervised` to `semi_autonomous` to `autonomous`, and back.

- `supervised`: every answer waits for a clinician.
- `semi_autonomous`: answers at or above the level's confidence threshold are final at once; the rest
  wait. A random audit fraction of the final ones is also put to a clinician.
- `autonomous`: every answer is final; the audit fraction still goes to review.

A level is raised only by an administrator, with a reason, and only as far as the evidence recommends
(the recommendation rule is `recommend`). It falls back to `supervised` by itself, with an alert,
when the audited agreement's upper bound falls below the target, when another version is promoted
(the evidence belongs to the version that earned it), or when the site's input drifts.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from imaging_ai.errors import DomainError, NotFoundError
from imaging_ai.persistence.audit import record_audit_event
from imaging_ai.persistence.autonomy import AutonomyRepository
from imaging_ai.persistence.model_versions import ModelVersionRepository
from imaging_ai.persistence.models import (
    ANY_SITE,
    AUTONOMY_LEVELS,
    Alert,
    AutonomyPolicy,
    ModelVersion,
    Prediction,
)
from imaging_ai.persistence.reviews import ReviewedPrediction, reviewed_predictions
from imaging_ai.services.drift import DriftMonitor, DriftReport
from imaging_ai.services.evidence import Evidence, gather
from imaging_ai.services.identity import Actor, SystemActor
from imaging_ai.services.serving import NoServingVersionError, ServingService
from imaging_ai.services.statistics import wilson
from imaging_ai.services.tasks import get_task

RANK = {level: rank for rank, level in enumerate(AUTONOMY_LEVELS)}
SYSTEM = SystemActor("system")


class AutonomyRefusedError(DomainError):
    status_code = 409
    code = "autonomy_not_earned"


class UnknownAlertError(NotFoundError):
    code = "unknown_alert"


@dataclass(frozen=True)
class AutonomyPolicyDefaults:
    target: float = 0.95
    """The agreement a level must prove (lower 95% bound) and keep (upper bound)."""
    min_verdicts: int = 200
    audit_fraction: float = 0.10


@dataclass(frozen=True)
class LevelInForce:
    level: str
    confidence_threshold: float | None
    audit_fraction: float
    source: str
    """The policy's site key (`*` for the task-wide one), or `default` when none was ever set."""
    model_version_id: str | None
    changed_by: str | None
    changed_at: datetime | None
    reason: str | None


@dataclass(frozen=True)
class Recommendation:
    level: str
    confidence_threshold: float | None
    reason: str


@dataclass(frozen=True)
class SiteAutonomy:
    site: str
    level: LevelInForce
    evidence: Evidence
    drift: DriftReport
    recommendation: Recommendation
    model_version: str | None


def recommend(
    current: LevelInForce, evidence: Evidence, drift: DriftReport, defaults: AutonomyPolicyDefaults
) -> Recommendation:
    """The rule: drift or too few verdicts keep a site supervised; `semi_autonomous` needs a confidence
    threshold whose cases' agreement has a 95% lower bound >= target over >= min_verdicts verdicts;
    `autonomous` needs the same of all reviewed cases, from a semi-autonomous level."""
    target, minimum = defaults.target, defaults.min_verdicts
    if drift.drifted:
        return Recommendation(
            "supervised", None, f"input drift at this site (PSI {drift.score} > {drift.threshold})"
        )
    if evidence.verdicts < minimum:
        return Recommendation(
            current.level if RANK[current.level] == 0 else "supervised",
            None,
            f"{evidence.verdicts} verdicts on the active version; at least {minimum} are needed",
        )
    low = evidence.agreement.low
    if current.level in ("semi_autonomous", "autonomous") and low is not None and low >= target:
        return Recommendation(
            "autonomous",
            None,
            f"agreement {evidence.agreement.rate} (95% lower bound {low} >= {target}) "
            f"over {evidence.verdicts} verdicts",
        )
    if evidence.threshold_meeting_target is not None and evidence.threshold_evidence is not None:
        proof = evidence.threshold_evidence
        return Recommendation(
            "semi_autonomous",
            evidence.threshold_meeting_target,
            f"at confidence >= {evidence.threshold_meeting_target}: agreement {proof.rate} (95% lower bound "
            f"{proof.low} >= {target}) over {proof.n} verdicts",
        )
    return Recommendation(
        "supervised", None, f"no confidence threshold reaches agreement >= {target} (95% lower bound) yet"
    )


class AutonomyService:
    def __init__(
        self,
        session: Session,
        drift: DriftMonitor,
        defaults: AutonomyPolicyDefaults,
        rng: random.Random | None = None,
    ) -> None:
        self.session = session
        self.drift = drift
        self.defaults = defaults
        self.rng = rng or random.SystemRandom()
        self.versions = ModelVersionRepository(session)
        self.policies = AutonomyRepository(session)

    def _serving(self, task: str, site: str | None) -> ModelVersion | None:
        """The version answering at the site (its own, else the default): the one whose evidence counts."""
        try:
            return ServingService(self.session).version_for(task, site).version
        except NoServingVersionError:
            return None

    # --- the level in force, and what it does to a new prediction ------------------------------------

    def level_for(self, task: str, site: str | None) -> LevelInForce:
        for key in ([site] if site else []) + [ANY_SITE]:
            policy = self.policies.policy(task, key)
            if policy is not None:
                return LevelInForce(
                    policy.level,
                    policy.confidence_threshold,
                    policy.audit_fraction,
                    key,
                    policy.model_version_id,
                    policy.changed_by,
                    policy.changed_at,
                    policy.reason,
                )
        return LevelInForce(
            "supervised", None, self.defaults.audit_fraction, "default", None, None, None, None
        )

    def finalise(self, prediction: Prediction) -> None:
        """Applies the level in force to a new prediction; then watches its site for drift."""
        level = self.level_for(prediction.task, prediction.site)
        prediction.autonomy_level = level.level
        automatic = level.level == "autonomous" or (
            level.level == "semi_autonomous"
            and level.confidence_threshold is not None
            and prediction.confidence >= level.confidence_threshold
        )
        if automatic:
            prediction.status = "final"
            prediction.finalized_by = (
                "rule:autonomous"
                if level.level == "autonomous"
                else f"rule:semi_autonomous(confidence>={level.confidence_threshold})"
            )
            prediction.finalized_at = datetime.now(UTC)
            prediction.audit_sample = self.rng.random() < level.audit_fraction
        else:
            prediction.status = "pending_review"
        self.session.flush()
        if level.level != "supervised":
            self.check_drift(prediction.task, prediction.site)

    # --- evidence and recommendations ---------------------------------------------------------------

    def site_autonomy(self, task: str, site: str) -> SiteAutonomy:
        spec = get_task(task)
        active = self._serving(task, None if site == ANY_SITE else site)
        level = self.level_for(task, None if site == ANY_SITE else site)
        site_filter = None if site == ANY_SITE else site
        reviewed = (
            reviewed_predictions(self.session, task, model_version=active.id, site=site_filter)
            if active
            else []
        )
        audited = audited_under(level, reviewed)
        evidence = gather(
            spec,
            reviewed,
            target=self.defaults.target,
            min_verdicts=self.defaults.min_verdicts,
            threshold=level.confidence_threshold,
            audited=audited,
        )
        drift = (
            self.drift.report(task, site_filter, active.id)
            if active is not None and site != ANY_SITE
            else DriftReport(site_filter, None, self.drift.policy.threshold, False, 0, "none")
        )
        return SiteAutonomy(
            site,
            level,
            evidence,
            drift,
            recommend(level, evidence, drift, self.defaults),
            active.id if active else None,
        )

    def overview(self, task: str) -> list[SiteAutonomy]:
        """The task-wide entry (`*`, every site pooled) and one per site that has sent images."""
        get_task(task)
        keys = sorted(self.policies.known_sites(task) - {ANY_SITE})
        return [self.site_autonomy(task, ANY_SITE)] + [self.site_autonomy(task, key) for key in keys]

    # --- changes: by an administrator, or automatic fall-back -----------------------------------------

    def apply(
        self,
        actor: Actor,
        task: str,
        *,
        site: str,
        level: str,
        reason: str,
        confidence_threshold: float | None = None,
        audit_fraction: float | None = None,
    ) -> SiteAutonomy:
        """Sets a level. Lowering is always allowed; raising only as far as the evidence recommends."""
        current = self.site_autonomy(task, site)
        if RANK[level] > RANK[current.level.level]:
            recommended = current.recommendation
            if RANK[recommended.level] < RANK[level]:
                raise AutonomyRefusedError(
                    f"The evidence does not support {level} here: {recommended.reason}.",
                    details={"recommended_level": recommended.level},
                )
        if level == "semi_autonomous":
            confidence_threshold = (
                confidence_threshold
                or current.level.confidence_threshold
                or current.recommendation.confidence_threshold
                or current.evidence.threshold_meeting_target
            )
            floor = current.evidence.threshold_meeting_target
            if confidence_threshold is None or (floor is not None and confidence_threshold < floor):
                raise AutonomyRefusedError(
                    "Semi-autonomy needs a confidence threshold at or above the one the evidence supports.",
                    details={"threshold_meeting_target": floor},
                )
        set_level(
            self.session,
            task,
            site,
            level,
            actor,
            reason,
            threshold=confidence_threshold if level == "semi_autonomous" else None,
            audit_fraction=audit_fraction if audit_fraction is not None else self.defaults.audit_fraction,
            version=current.model_version,
            action="autonomy.change",
        )
        return self.site_autonomy(task, site)

    def check_after_verdict(self, task: str, site: str | None) -> None:
        """Falls back when the audited agreement's upper bound is below the target."""
        for key in ([site] if site else []) + [ANY_SITE]:
            policy = self.policies.policy(task, key)
            if policy is None or policy.level == "supervised":
                continue
            # Only the audits since the level was set: this runs after every verdict at the site.
            site_filter = None if key == ANY_SITE else key
            active = self._serving(task, site_filter)
            recent = (
                reviewed_predictions(
                    self.session, task, model_version=active.id, site=site_filter, since=policy.changed_at
                )
                if active
                else []
            )
            audited = wilson(*_agreed_of(audited_under(self.level_for(task, site_filter), recent)))
            if audited.high is not None and audited.high < self.defaults.target:
                fall_back(
                    self.session,
                    task,
                    key,
                    "agreement_dropped",
                    f"Audited agreement {audited.rate} (95% upper bound {audited.high}) is below the target "
                    f"{self.defaults.target}.",
                    {"audited": audited.__dict__},
                )

    def check_drift(self, task: str, site: str | None) -> None:
        active = self._serving(task, site)
        if active is None or site is None:
            return
        report = self.drift.report(task, site, active.id)
        if report.drifted and self.level_for(task, site).level != "supervised":
            fall_back(
                self.session,
                task,
                site,
                "input_drift",
                f"The images from {site} have drifted from the training data (PSI {report.score} > "
                f"{report.threshold}).",
                {"score": report.score, "threshold": report.threshold, "recent_images": report.recent_images},
            )

    # --- alerts -------------------------------------------------------------------------------------

    def alerts(self, *, task: str | None, open_only: bool, limit: int, offset: int) -> Sequence[Alert]:
        return self.policies.alerts(task=task, open_only=open_only, limit=limit, offset=offset)

    def acknowledge(self, actor: Actor, alert_id: uuid.UUID) -> Alert:
        alert = self.policies.alert(alert_id)
        if alert is None:
            raise UnknownAlertError("No alert with this id.", details={"alert_id": str(alert_id)})
        if alert.acknowledged_at is None:
            alert.acknowledged_at = datetime.now(UTC)
            alert.acknowledged_by = actor.username
        return alert


def audited_under(level: LevelInForce, reviewed: Sequence[ReviewedPrediction]) -> list[ReviewedPrediction]:
    """The reviewed answers that were finalised automatically under the level and drawn for audit."""
    return [
        case
        for case in reviewed
        if case.audit_sample
        and case.autonomy_level == level.level
        and (level.changed_at is None or case.created_at >= level.changed_at)
    ]


def _agreed_of(cases: Sequence[ReviewedPrediction]) -> tuple[int, int]:
    return sum(case.agreed for case in cases), len(cases)


def set_level(
    session: Session,
    task: str,
    site: str,
    level: str,
    actor: Actor,
    reason: str,
    *,
    threshold: float | None,
    audit_fraction: float | None,
    version: str | None,
    action: str,
) -> None:
    """Writes a site's (or the task-wide) level, with an audit event. `audit_fraction` None keeps it."""
    policies = AutonomyRepository(session)
    existing = policies.policy(task, site)
    before = existing.level if existing else "supervised"
    policy = existing or AutonomyPolicy(
        task=task, site=site, audit_fraction=AutonomyPolicyDefaults.audit_fraction
    )
    policy.level = level
    policy.confidence_threshold = threshold
    if audit_fraction is not None:
        policy.audit_fraction = audit_fraction
    policy.model_version_id = version
    policy.changed_by = actor.username
    policy.reason = reason
    policy.changed_at = datetime.now(UTC)
    if existing is None:
        policies.add_policy(policy)
    session.flush()
    record_audit_event(
        session,
        actor=actor.username,
        action=action,
        target_type="autonomy",
        target_id=f"{task}/{site}",
        client_address=actor.client_address,
        details={"before": before, "after": level, "confidence_threshold": threshold, "reason": reason},
    )


def fall_back(
    session: Session, task: str, site: str, kind: str, message: str, details: dict[str, Any]
) -> None:
    """Back to `supervised` by the system, with an alert for the web app and the API."""
    set_level(
        session,
        task,
        site,
        "supervised",
        SYSTEM,
        message,
        threshold=None,
        audit_fraction=None,
        version=None,
        action="autonomy.fallback",
    )
    AutonomyRepository(session).add_alert(
        Alert(task=task, site=site, kind=kind, message=message, details=details)
    )


def fall_back_on_promotion(
    session: Session,
    task: str,
    version_id: str,
    *,
    site: str | None = None,
    keep: set[str] | frozenset[str] = frozenset(),
) -> None:
    """A version newly serving has no evidence of its own yet: the levels it now answers under drop.

    ``site``: the version serves that one site (a site-scoped promotion); otherwise it is the task's new
    default and every raised level drops except those of the sites in ``keep`` (their own versions).
    """
    for policy in AutonomyRepository(session).raised_policies(task):
        if (site is not None and policy.site != site) or (site is None and policy.site in keep):
            continue
        where = f" at site {site}" if site else ""
        fall_back(
            session,
            task,
            policy.site,
            "new_version",
            f"Version {version_id} now serves{where}; its autonomy must be earned again.",
            {"version": version_id, "site": site},
        )
