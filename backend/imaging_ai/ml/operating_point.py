"""Choosing a two-label task's decision threshold: the lowest-risk one that meets a target sensitivity.

"Lowest risk" here is the highest threshold that still calls at least the target share of the
positives: it keeps the sensitivity clinicians were promised and raises as few false alarms as the
cases allow. The served label is the positive one when its calibrated probability is at or above it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from imaging_ai.ml.metrics import wilson_bounds

ONE_SIDED_Z_95 = 1.6449

ARGMAX_THRESHOLD = 0.5
"""For two labels, the label of highest probability is the positive one at or above 0.5."""


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    true_positives: int
    positives: int
    true_negatives: int
    negatives: int

    @property
    def sensitivity(self) -> float:
        return self.true_positives / self.positives if self.positives else float("nan")

    @property
    def specificity(self) -> float:
        return self.true_negatives / self.negatives if self.negatives else float("nan")


def choose_threshold(scores: np.ndarray, positives: np.ndarray, target_sensitivity: float) -> ThresholdChoice:
    """``scores``: calibrated probability of the positive label; ``positives``: the true labels (bool)."""
    positives = positives.astype(bool)
    positive_scores = np.sort(scores[positives])[::-1]
    if len(positive_scores) == 0:
        raise ValueError("choosing a threshold needs positive cases")
    needed = max(1, math.ceil(target_sensitivity * len(positive_scores) - 1e-9))
    threshold = float(positive_scores[needed - 1])
    return at_threshold(scores, positives, threshold)


def choose_threshold_confidently(
    scores: np.ndarray, positives: np.ndarray, target_sensitivity: float, *, z: float = ONE_SIDED_Z_95
) -> ThresholdChoice:
    """The highest threshold whose sensitivity's one-sided 95% lower bound (Wilson) still reaches the
    target: a threshold that just meets the target on the cases it was chosen on misses it on about
    half of all new case sets, so the served promise needs a margin that shrinks as cases grow."""
    positives = positives.astype(bool)
    positive_scores = np.sort(scores[positives])[::-1]
    n = len(positive_scores)
    if n == 0:
        raise ValueError("choosing a threshold needs positive cases")
    needed = max(1, math.ceil(target_sensitivity * n - 1e-9))
    while needed < n and wilson_bounds(needed, n, z)[0] < target_sensitivity:
        needed += 1
    return at_threshold(scores, positives, float(positive_scores[needed - 1]))


def choose_if_enough(
    scores: np.ndarray, positives: np.ndarray, target_sensitivity: float, minimum_per_label: int
) -> ThresholdChoice | None:
    """The threshold, or None when either label has fewer than ``minimum_per_label`` cases."""
    n_positive = int(positives.astype(bool).sum())
    if n_positive < max(1, minimum_per_label) or len(positives) - n_positive < max(1, minimum_per_label):
        return None
    return choose_threshold(scores, positives, target_sensitivity)


def at_threshold(scores: np.ndarray, positives: np.ndarray, threshold: float) -> ThresholdChoice:
    positives = positives.astype(bool)
    called = scores >= threshold
    return ThresholdChoice(
        threshold=round(threshold, 6),
        true_positives=int((called & positives).sum()),
        positives=int(positives.sum()),
        true_negatives=int((~called & ~positives).sum()),
        negatives=int((~positives).sum()),
    )


def served_label_index(
    probabilities: np.ndarray, positive_index: int | None, threshold: float | None
) -> np.ndarray:
    """The label each row is served as: positive at or above the threshold (two labels), else argmax."""
    if positive_index is None or threshold is None:
        return np.asarray(probabilities.argmax(axis=1))
    negative_index = 1 - positive_index
    return np.where(probabilities[:, positive_index] >= threshold, positive_index, negative_index)
