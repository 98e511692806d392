"""Per-class certification of a version at a site, from blind reads (the rules in `ml.certification`).

For each label c, the population is the version's answers at the site served as c, inside the
distribution it was trained on (an out-of-distribution image is never finalised, so it is in no
population). Its error is the share a clinician reading blind labels otherwise: for a normal answer a
missed finding, for a finding a false alarm. Each label has its own target; the chance that any label
of a level is wrongly certified is at most `alpha` (each label is tested at alpha / number of labels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from imaging_ai.ml.certification import (
    DEFAULT_THRESHOLDS,
    Audit,
    ClassCertification,
    ErrorBound,
    certify_class,
    error_bound,
    exceeds_target,
)
from imaging_ai.ml.tasks import TaskSpec
from imaging_ai.persistence.reviews import ServedCase

EVERY_CASE = DEFAULT_THRESHOLDS[-1]
"""The last threshold tried (0: every answer of the label); certified for every label -> autonomy."""


@dataclass(frozen=True)
class CertificationRules:
    targets: Mapping[str, Mapping[str, float]]
    """Per task and label, the largest error a certified level may have."""
    alpha: float = 0.05
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS

    def target(self, task: TaskSpec, label: str) -> float:
        return float(self.targets[task.name][label])

    def class_alpha(self, task: TaskSpec) -> float:
        return self.alpha / len(task.labels)


@dataclass(frozen=True)
class ClassEvidence:
    label: str
    target: float
    alpha: float
    certification: ClassCertification
    """The fixed-sequence test over every blind read of the label at the site."""
    in_force_threshold: float | None
    """The confidence at or above which the level in force finalises this label (None: it does not)."""
    in_force: ErrorBound | None
    """The bound on the answers the level finalises, since it was set."""
    exceeded: bool
    """Those answers' error is above the target (time-uniform lower bound above it): the level drops."""

    @property
    def certified_threshold(self) -> float | None:
        return self.certification.threshold


def population(cases: Sequence[ServedCase], label: str) -> list[ServedCase]:
    """The label's answers, oldest first. A blind read not read yet stays in: it holds back the cases after
    it (`ml.certification`), or the evidence would grow around the one case that could show an error."""
    return [case for case in cases if case.predicted_label == label and case.out_of_distribution is False]


def audit_of(case: ServedCase) -> Audit:
    """A blind read called unreadable counts as an error: the answer would have been final on an image a
    clinician could not read, and dropping it would bias the error down where hard images are both."""
    erroneous = None
    if case.blind_read and case.reviewed:
        erroneous = case.blind_label is None or case.blind_label != case.predicted_label
    return Audit(
        confidence=case.confidence,
        blind=case.blind_read,
        probability=case.blind_read_probability,
        erroneous=erroneous,
    )


@dataclass(frozen=True)
class InForce:
    """What the level in force finalises of one label, and how those answers have fared since it was set."""

    threshold: float | None
    bound: ErrorBound | None
    exceeded: bool


def in_force(
    task: TaskSpec,
    cases: Sequence[ServedCase],
    rules: CertificationRules,
    thresholds: Mapping[str, float | None],
    since: datetime | None,
) -> dict[str, InForce]:
    """Per label, the bound on the answers the level finalises (confidence at or above its threshold)
    since `since`; `exceeded` when their error is shown above the target. Cheap enough for every verdict."""
    alpha = rules.class_alpha(task)
    result = {}
    for label in task.labels:
        threshold = thresholds.get(label)
        if threshold is None:
            result[label] = InForce(None, None, False)
            continue
        recent = [
            audit_of(case)
            for case in population(cases, label)
            if case.confidence >= threshold and (since is None or case.created_at >= since)
        ]
        target = rules.target(task, label)
        result[label] = InForce(threshold, error_bound(recent, alpha), exceeds_target(recent, target, alpha))
    return result


def certify(
    task: TaskSpec,
    cases: Sequence[ServedCase],
    rules: CertificationRules,
    *,
    thresholds: Mapping[str, float | None],
    since: datetime | None,
) -> list[ClassEvidence]:
    """Per label, the fixed-sequence certification on every blind read, and the level in force's state."""
    alpha = rules.class_alpha(task)
    current = in_force(task, cases, rules, thresholds, since)
    evidence = []
    for label in task.labels:
        target = rules.target(task, label)
        audits = [audit_of(case) for case in population(cases, label)]
        evidence.append(
            ClassEvidence(
                label=label,
                target=target,
                alpha=alpha,
                certification=certify_class(audits, rules.thresholds, target, alpha),
                in_force_threshold=current[label].threshold,
                in_force=current[label].bound,
                exceeded=current[label].exceeded,
            )
        )
    return evidence
