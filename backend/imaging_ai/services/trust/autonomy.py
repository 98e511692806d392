"""Earned autonomy: per task and site, from `supervised` to `semi_autonomous` to `autonomous`, and back.

- `supervised`: every answer waits for a clinician.
- `semi_autonomous`: an answer of label c whose confidence is at or above the level's threshold for c
  is final at once; the rest wait. A label without a threshold is never final automatically.
- `autonomous`: every answer is final.

At every level, an answer whose image is out of the version's distribution waits for a clinician, and
a share of the cases (the site's blind-read fraction) is read blind: the reader sees the image, not the
answer. Levels exist per site only: a site without its own level, a prediction without a site, and a
site whose serving version is not the one that earned its level are supervised.

A level is raised only by an administrator, with a reason, and only as far as the per-class
certification on blind reads allows (`services/trust/certification.py`). It falls back to `supervised` by
itself, with an alert, when a label's error since the level was set is shown to exceed its target,
when another version is promoted, or when the drift test fires at the site.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from imaging_ai.errors import DomainError, NotFoundError
from imaging_ai.ml.tasks import TaskSpec, get_task, require_label
from imaging_ai.persistence.audit import record_audit_event
from imaging_ai.persistence.autonomy import AutonomyRepository
from imaging_ai.persistence.models import Alert, AutonomyPolicy, ModelVersion, Prediction
from imaging_ai.persistence.reviews import reviewed_predictions, served_cases
from imaging_ai.services.accounts.identity import Actor, SystemActor
from imaging_ai.services.models.serving import NoServingVersionError, ServingService
from imaging_ai.services.trust.certification import (
    EVERY_CASE,
    CertificationRules,
    ClassEvidence,
    certify,
    in_force,
)
from imaging_ai.services.trust.drift import DriftMonitor, DriftReport
from imaging_ai.services.trust.evidence import Evidence, gather
from imaging_ai.vocabulary import AlertKind, AutonomyLevel, PredictionStatus

SYSTEM = SystemActor("system")


class AutonomyRefusedError(DomainError):
    status_code = 409
    code = "autonomy_not_earned"


class SiteRequiredError(DomainError):
    status_code = 422
    code = "site_required"


class UnknownAlertError(NotFoundError):
    code = "unknown_alert"


@dataclass(frozen=True)
class AutonomyRules:
    certification: CertificationRules
    blind_read_fraction: float = 0.2
    """The share of cases read blind at a site without a level of its own (and the default for one)."""


@dataclass(frozen=True)
class LevelInForce:
    level: AutonomyLevel
    class_thresholds: Mapping[str, float | None]
    """Per label, the confidence at or above which an answer is final (semi-autonomy; empty otherwise)."""
    blind_read_fraction: float
    source: str
    """`site` (the site's own level), `default` (none set), `no_site`, or `version_changed` (the site's
    level was earned by a version that no longer serves it)."""
    model_version_id: str | None
    changed_by: str | None
    changed_at: datetime | None
    reason: str | None

    def finalises(self, label: str, confidence: float) -> bool:
        if self.level == AutonomyLevel.autonomous:
            return True
        threshold = self.class_thresholds.get(label)
        return (
            self.level == AutonomyLevel.semi_autonomous and threshold is not None and confidence >= threshold
        )

    def thresholds_in_force(self, task: TaskSpec) -> dict[str, float | None]:
        """Per label, the confidence at or above which answers are final (None: never)."""
        return {
            label: EVERY_CASE if self.level == AutonomyLevel.autonomous else self.class_thresholds.get(label)
            for label in task.labels
        }


@dataclass(frozen=True)
class Recommendation:
    level: AutonomyLevel
    class_thresholds: Mapping[str, float | None]
    reason: str


@dataclass(frozen=True)
class SiteAutonomy:
    site: str
    level: LevelInForce
    evidence: Evidence
    """Descriptive: every verdict on the serving version at the site, blind or not."""
    classes: list[ClassEvidence]
    cases: int
    """Predictions by the serving version at the site under the blind-read rules."""
    blind_reads: int
    blind_reads_pending: int
    drift: DriftReport
    recommendation: Recommendation
    model_version: str | None


def recommend(
    current: LevelInForce, classes: Sequence[ClassEvidence], drift: DriftReport | None
) -> Recommendation:
    """Drift keeps a site supervised. Each label certified below its target (a fixed-sequence test from
    the most confident answers down) gets its threshold; any certified label supports semi-autonomy;
    every label certified on every answer supports autonomy, from a semi-autonomous level."""
    if drift is None:
        return Recommendation(AutonomyLevel.supervised, {}, "no version serves this site")
    if drift.drifted:
        return Recommendation(
            AutonomyLevel.supervised,
            {},
            f"the drift test fired at this site ({drift.which}, {drift.statistic} > {drift.threshold})",
        )
    certified = {item.label: item.certified_threshold for item in classes}
    described = "; ".join(_describe(item) for item in classes)
    if (
        all(t == EVERY_CASE for t in certified.values())
        and current.level.rank >= AutonomyLevel.semi_autonomous.rank
    ):
        return Recommendation(
            AutonomyLevel.autonomous, {}, f"every label certified on every answer: {described}"
        )
    if any(t is not None for t in certified.values()):
        return Recommendation(AutonomyLevel.semi_autonomous, certified, described)
    return Recommendation(AutonomyLevel.supervised, {}, described)


def _describe(item: ClassEvidence) -> str:
    steps = item.certification.steps
    if item.certified_threshold is None:
        bound = steps[0].bound if steps else None
        upper = f"{bound.upper:.3f}" if bound is not None else "n/a"
        return f"{item.label}: not certified (error bound {upper} vs target {item.target})"
    last = next(step for step in reversed(steps) if step.certified)
    return (
        f"{item.label}: certified at confidence >= {item.certified_threshold} (error bound "
        f"{last.bound.upper:.3f} < {item.target} on {last.bound.blind_reads} blind reads)"
    )


class AutonomyService:
    def __init__(
        self,
        session: Session,
        drift: DriftMonitor,
        rules: AutonomyRules,
        rng: random.Random | None = None,
    ) -> None:
        self.session = session
        self.drift = drift
        self.rules = rules
        self.rng = rng or random.SystemRandom()
        self.policies = AutonomyRepository(session)

    def _serving(self, task: str, site: str | None) -> ModelVersion | None:
        """The version answering at the site (its own, else the default): the one whose evidence counts."""
        try:
            return ServingService(self.session).version_for(task, site).version
        except NoServingVersionError:
            return None

    # --- the level in force, and what it does to a new prediction ------------------------------------

    def level_for(self, task: str, site: str | None, version_id: str | None = None) -> LevelInForce:
        """``version_id``: the version that answers (a new prediction's); default, the one serving the site.
        A level earned by another version is not in force."""
        fraction = self.rules.blind_read_fraction
        if site is None:
            return LevelInForce(AutonomyLevel.supervised, {}, fraction, "no_site", None, None, None, None)
        policy = self.policies.policy(task, site)
        if policy is None:
            return LevelInForce(AutonomyLevel.supervised, {}, fraction, "default", None, None, None, None)
        level, source = AutonomyLevel(policy.level), "site"
        if version_id is None and level != AutonomyLevel.supervised:
            serving = self._serving(task, site)
            version_id = serving.id if serving else None
        if level != AutonomyLevel.supervised and version_id != policy.model_version_id:
            level, source = AutonomyLevel.supervised, "version_changed"
        return LevelInForce(
            level,
            dict(policy.class_thresholds or {}) if level == AutonomyLevel.semi_autonomous else {},
            policy.blind_read_fraction,
            source,
            policy.model_version_id,
            policy.changed_by,
            policy.changed_at,
            policy.reason,
        )

    def finalise(self, prediction: Prediction) -> None:
        """Applies the site's level to a new prediction and draws it for a blind read; then watches the
        site for drift."""
        level = self.level_for(prediction.task, prediction.site, prediction.model_version_id)
        prediction.autonomy_level = level.level
        # Without a chance of a blind read a case can never be evidence: it stays out of every population.
        prediction.blind_read_probability = level.blind_read_fraction or None
        prediction.blind_read = self.rng.random() < level.blind_read_fraction
        # No guard (None) is as bad as a foreign image: nothing unchecked is final without a clinician.
        automatic = prediction.out_of_distribution is False and level.finalises(
            prediction.predicted_label, prediction.confidence
        )
        if automatic:
            prediction.status = PredictionStatus.final
            prediction.finalized_by = (
                "rule:autonomous"
                if level.level == AutonomyLevel.autonomous
                else f"rule:semi_autonomous({prediction.predicted_label}:confidence>="
                f"{level.class_thresholds[prediction.predicted_label]})"
            )
            prediction.finalized_at = datetime.now(UTC)
            prediction.audit_sample = prediction.blind_read
        else:
            prediction.status = PredictionStatus.pending_review
        self.session.flush()
        if level.level != AutonomyLevel.supervised:
            self.check_drift(prediction.task, prediction.site)

    # --- evidence and recommendations ---------------------------------------------------------------

    def site_autonomy(self, task: str, site: str) -> SiteAutonomy:
        spec = get_task(task)
        serving = self._serving(task, site)
        level = self.level_for(task, site)
        cases = served_cases(self.session, task, site=site, model_version=serving.id) if serving else []
        classes = certify(
            spec,
            cases,
            self.rules.certification,
            thresholds=level.thresholds_in_force(spec),
            since=level.changed_at,
        )
        reviewed = (
            reviewed_predictions(self.session, task, model_version=serving.id, site=site) if serving else []
        )
        drift = self.drift.report(task, site, serving.id) if serving else None
        return SiteAutonomy(
            site=site,
            level=level,
            evidence=gather(spec, reviewed),
            classes=classes,
            cases=len(cases),
            blind_reads=sum(case.blind_read and case.blind_label is not None for case in cases),
            blind_reads_pending=sum(case.blind_read and not case.reviewed for case in cases),
            drift=drift or self.drift.quiet(site),
            recommendation=recommend(level, classes, drift),
            model_version=serving.id if serving else None,
        )

    def overview(self, task: str) -> list[SiteAutonomy]:
        """One entry per site that has sent images for the task or has a level of its own."""
        get_task(task)
        return [self.site_autonomy(task, key) for key in sorted(self.policies.known_sites(task))]

    # --- changes: by an administrator, or automatic fall-back -----------------------------------------

    def apply(
        self,
        actor: Actor,
        task: str,
        *,
        site: str,
        level: str,
        reason: str,
        class_thresholds: Mapping[str, float | None] | None = None,
        blind_read_fraction: float | None = None,
    ) -> SiteAutonomy:
        """Sets a site's level. Lowering is always allowed; raising only as far as the certification."""
        if site == "*":
            raise SiteRequiredError(
                "Levels are set per site; there is no task-wide level.", details={"site": site}
            )
        spec = get_task(task)
        current = self.site_autonomy(task, site)
        recommended = current.recommendation
        wanted = AutonomyLevel(level).rank
        if wanted > current.level.level.rank and recommended.level.rank < wanted:
            raise AutonomyRefusedError(
                f"The evidence does not support {level} here: {recommended.reason}.",
                details={"recommended_level": recommended.level},
            )
        thresholds: dict[str, float | None] = {}
        if level == AutonomyLevel.semi_autonomous:
            chosen = (
                dict(class_thresholds) if class_thresholds is not None else dict(recommended.class_thresholds)
            )
            for label, threshold in chosen.items():
                require_label(spec, label)
                certified = next(c.certified_threshold for c in current.classes if c.label == label)
                if threshold is not None and (certified is None or threshold < certified):
                    raise AutonomyRefusedError(
                        f"Answers of label {label} may be final only at a confidence the evidence certifies.",
                        details={"label": label, "certified_threshold": certified},
                    )
            thresholds = {label: chosen.get(label) for label in spec.labels}
            if all(value is None for value in thresholds.values()):
                raise AutonomyRefusedError(
                    "Semi-autonomy needs at least one label with a certified threshold.",
                    details={"certified": {c.label: c.certified_threshold for c in current.classes}},
                )
        set_level(
            self.session,
            task,
            site,
            level,
            actor,
            reason,
            thresholds=thresholds or None,
            blind_read_fraction=blind_read_fraction,
            default_fraction=self.rules.blind_read_fraction,
            version=current.model_version,
            action="autonomy.change",
        )
        return self.site_autonomy(task, site)

    def check_after_verdict(self, task: str, site: str | None) -> None:
        """Falls back when a finalised label's error since the level was set is shown above its target.
        Runs after every verdict: only the level's own answers since it was set are read."""
        if site is None:
            return
        level = self.level_for(task, site)
        if level.level == AutonomyLevel.supervised or level.model_version_id is None:
            return
        spec = get_task(task)
        cases = served_cases(
            self.session, task, site=site, model_version=level.model_version_id, since=level.changed_at
        )
        checked = in_force(spec, cases, self.rules.certification, level.thresholds_in_force(spec), None)
        for label, state in checked.items():
            if state.exceeded and state.bound is not None:
                target = self.rules.certification.target(spec, label)
                fall_back(
                    self.session,
                    task,
                    site,
                    AlertKind.error_above_target,
                    f"Answers finalised as {label} are wrong more often than the target {target} "
                    f"(error {state.bound.estimate:.3f}, time-uniform lower bound {state.bound.lower:.3f}, "
                    f"on {state.bound.blind_reads} blind reads).",
                    {"label": label, "target": target, "lower": state.bound.lower},
                )
                return

    def check_drift(self, task: str, site: str | None) -> None:
        active = self._serving(task, site)
        if active is None or site is None:
            return
        report = self.drift.report(task, site, active.id)
        if report.drifted and self.level_for(task, site).level != AutonomyLevel.supervised:
            fall_back(
                self.session,
                task,
                site,
                AlertKind.input_drift,
                f"The drift test fired at {site} ({report.which}: {report.statistic} > {report.threshold} "
                f"over "
                f"the latest {report.images} images).",
                {"statistic": report.statistic, "threshold": report.threshold, "which": report.which},
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


def set_level(
    session: Session,
    task: str,
    site: str,
    level: str,
    actor: Actor,
    reason: str,
    *,
    thresholds: Mapping[str, float | None] | None,
    blind_read_fraction: float | None,
    default_fraction: float,
    version: str | None,
    action: str,
) -> None:
    """Writes a site's level, with an audit event. `blind_read_fraction` None keeps the site's."""
    policies = AutonomyRepository(session)
    existing = policies.policy(task, site)
    before = existing.level if existing else AutonomyLevel.supervised
    policy = existing or AutonomyPolicy(task=task, site=site, blind_read_fraction=default_fraction)
    policy.level = level
    policy.class_thresholds = dict(thresholds) if thresholds else None
    if blind_read_fraction is not None:
        policy.blind_read_fraction = blind_read_fraction
    policy.model_version_id = version
    policy.changed_by = actor.username
    policy.reason = reason
    policy.changed_at = datetime.now(UTC)
    if existing is None:
        policies.add_policy(policy)
    session.flush()
    record_audit_event(
        session,
        actor,
        action,
        target_type="autonomy",
        target_id=f"{task}/{site}",
        details={
            "before": before,
            "after": level,
            "class_thresholds": policy.class_thresholds,
            "blind_read_fraction": policy.blind_read_fraction,
            "reason": reason,
        },
    )


def fall_back(
    session: Session, task: str, site: str, kind: str, message: str, details: dict[str, Any]
) -> None:
    """Back to `supervised` by the system, with an alert for the web app and the API. A site without a
    level of its own is supervised already: it only gets the alert (and keeps the default blind reads)."""
    existing = AutonomyRepository(session).policy(task, site)
    if existing is not None:
        set_level(
            session,
            task,
            site,
            AutonomyLevel.supervised,
            SYSTEM,
            message,
            thresholds=None,
            blind_read_fraction=None,
            default_fraction=existing.blind_read_fraction,
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
            AlertKind.new_version,
            f"Version {version_id} now serves{where}; its autonomy must be earned again.",
            {"version": version_id, "site": site},
        )
