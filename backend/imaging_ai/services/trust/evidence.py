"""What the clinicians' verdicts say about a version at a site: agreement, sensitivity, specificity and
calibration. Descriptive only: readers who saw the AI's answer are anchored by it, so no level of
autonomy is certified on these figures (see `services/trust/certification.py`, blind reads)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from imaging_ai.ml.tasks import TaskSpec
from imaging_ai.persistence.reviews import ReviewedPrediction
from imaging_ai.services.trust.statistics import Proportion, expected_calibration_error, wilson


@dataclass(frozen=True)
class Evidence:
    verdicts: int
    agreement: Proportion
    sensitivity: Proportion | None
    """Binary tasks: among cases whose label of record is the positive label, the share the AI called so."""
    specificity: Proportion | None
    calibration_error: float | None


def gather(task: TaskSpec, reviewed: Sequence[ReviewedPrediction]) -> Evidence:
    agreement = wilson(sum(case.agreed for case in reviewed), len(reviewed))
    sensitivity = specificity = None
    if task.is_binary and task.positive_label is not None:
        positive = task.positive_label
        positives = [case for case in reviewed if case.label == positive]
        negatives = [case for case in reviewed if case.label != positive]
        sensitivity = wilson(sum(case.predicted_label == positive for case in positives), len(positives))
        specificity = wilson(sum(case.predicted_label != positive for case in negatives), len(negatives))
    return Evidence(
        verdicts=len(reviewed),
        agreement=agreement,
        sensitivity=sensitivity,
        specificity=specificity,
        calibration_error=expected_calibration_error(
            [case.confidence for case in reviewed], [case.agreed for case in reviewed]
        ),
    )
