"""The evidence for autonomy at a site, for the active version: how often clinicians agree, how well
the answers match the label of record, how well calibrated they are, and what a confidence threshold
would achieve."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from imaging_ai.ml.tasks import TaskSpec
from imaging_ai.persistence.reviews import ReviewedPrediction
from imaging_ai.services.statistics import Proportion, expected_calibration_error, wilson


@dataclass(frozen=True)
class Evidence:
    verdicts: int
    agreement: Proportion
    sensitivity: Proportion | None
    """Binary tasks: among cases whose label of record is the positive label, the share the AI called so."""
    specificity: Proportion | None
    calibration_error: float | None
    above_threshold: Proportion | None
    """Agreement among cases at or above the level's confidence threshold (semi-autonomy)."""
    threshold_meeting_target: float | None
    """The lowest confidence threshold whose cases' agreement has a lower bound at or above the target,
    over at least the minimum number of verdicts; None when no threshold does."""
    threshold_evidence: Proportion | None
    audited: Proportion
    """Agreement on the automatically finalised cases drawn for audit, since the level was set."""


def gather(
    task: TaskSpec,
    reviewed: Sequence[ReviewedPrediction],
    *,
    target: float | None,
    min_verdicts: int,
    threshold: float | None,
    audited: Sequence[ReviewedPrediction],
) -> Evidence:
    """`target` None: no autonomy question is asked (monitoring), so no threshold is searched for."""
    agreement = wilson(sum(case.agreed for case in reviewed), len(reviewed))
    sensitivity = specificity = None
    if task.is_binary and task.positive_label is not None:
        positive = task.positive_label
        positives = [case for case in reviewed if case.label == positive]
        negatives = [case for case in reviewed if case.label != positive]
        sensitivity = wilson(sum(case.predicted_label == positive for case in positives), len(positives))
        specificity = wilson(sum(case.predicted_label != positive for case in negatives), len(negatives))
    above = None
    if threshold is not None:
        members = [case for case in reviewed if case.confidence >= threshold]
        above = wilson(sum(case.agreed for case in members), len(members))
    meeting, meeting_evidence = (
        threshold_for(reviewed, target=target, min_verdicts=min_verdicts)
        if target is not None
        else (None, None)
    )
    return Evidence(
        verdicts=len(reviewed),
        agreement=agreement,
        sensitivity=sensitivity,
        specificity=specificity,
        calibration_error=expected_calibration_error(
            [case.confidence for case in reviewed], [case.agreed for case in reviewed]
        ),
        above_threshold=above,
        threshold_meeting_target=meeting,
        threshold_evidence=meeting_evidence,
        audited=wilson(sum(case.agreed for case in audited), len(audited)),
    )


def threshold_for(
    reviewed: Sequence[ReviewedPrediction], *, target: float, min_verdicts: int
) -> tuple[float | None, Proportion | None]:
    """Scans thresholds from the most confident case down; keeps the lowest that still meets the target."""
    ordered = sorted(reviewed, key=lambda case: case.confidence, reverse=True)
    best: tuple[float | None, Proportion | None] = (None, None)
    agreed = 0
    for index, case in enumerate(ordered):
        agreed += case.agreed
        n = index + 1
        if n < len(ordered) and ordered[index + 1].confidence == case.confidence:
            continue  # a threshold takes all cases of equal confidence together
        if n < min_verdicts:
            continue
        proportion = wilson(agreed, n)
        if proportion.low is not None and proportion.low >= target:
            best = (round(case.confidence, 6), proportion)
    return best
