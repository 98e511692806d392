"""Classification metrics with bootstrap confidence intervals (numpy only)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


def wilson_bounds(successes: int, n: int, z: float) -> tuple[float, float]:
    """The Wilson score interval of a proportion (n > 0): honest at small n and near 0 or 1, where
    the normal one is not."""
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def binary_auc(scores: np.ndarray, positives: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties); nan if one class is absent."""
    positives = positives.astype(bool)
    n_pos = int(positives.sum())
    n_neg = len(positives) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # Average ranks over ties.
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(scores)]))
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end - 1) / 2.0 + 1.0
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def macro_auc(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """One-vs-rest AUC averaged over the classes present."""
    values = [
        binary_auc(probabilities[:, k], labels == k)
        for k in range(probabilities.shape[1])
        if 0 < int((labels == k).sum()) < len(labels)
    ]
    return float(np.mean(values)) if values else float("nan")


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-label confidence over equal-width bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in itertools.pairwise(edges):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            error += float(in_bin.mean()) * abs(
                float(correct[in_bin].mean()) - float(confidence[in_bin].mean())
            )
    return error


def point_metrics(
    probabilities: np.ndarray, labels: np.ndarray, positive_index: int | None
) -> dict[str, float]:
    """AUC, accuracy and, for binary tasks, sensitivity and specificity at the argmax decision."""
    predicted = probabilities.argmax(axis=1)
    result = {"accuracy": float((predicted == labels).mean()) if len(labels) else float("nan")}
    if positive_index is not None:
        positive = labels == positive_index
        called = predicted == positive_index
        result["auc"] = binary_auc(probabilities[:, positive_index], positive)
        result["sensitivity"] = float(called[positive].mean()) if positive.any() else float("nan")
        result["specificity"] = float((~called[~positive]).mean()) if (~positive).any() else float("nan")
    else:
        result["auc"] = macro_auc(probabilities, labels)
    return result


@dataclass(frozen=True)
class MetricWithInterval:
    value: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, float | None]:
        def clean(x: float) -> float | None:
            return None if math.isnan(x) else round(x, 4)

        return {"value": clean(self.value), "ci_low": clean(self.ci_low), "ci_high": clean(self.ci_high)}


def metrics_with_intervals(
    probabilities: np.ndarray,
    labels: np.ndarray,
    positive_index: int | None,
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, MetricWithInterval]:
    """Point metrics with 95% percentile-bootstrap intervals (cases resampled with replacement)."""
    point = point_metrics(probabilities, labels, positive_index)
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in point}
    n = len(labels)
    for _ in range(resamples if n else 0):
        index = rng.integers(0, n, n)
        for name, value in point_metrics(probabilities[index], labels[index], positive_index).items():
            if not math.isnan(value):
                samples[name].append(value)
    result = {}
    for name, value in point.items():
        values = np.asarray(samples[name])
        if len(values):
            low, high = np.percentile(values, [2.5, 97.5])
        else:
            low = high = float("nan")
        result[name] = MetricWithInterval(value=value, ci_low=float(low), ci_high=float(high))
    return result


def patient_bootstrap(
    statistic: Callable[[np.ndarray], float], groups: Sequence[str], *, resamples: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95% percentile interval of ``statistic(rows)`` over resamples of whole patients: a patient's
    images are not independent, so they are drawn together (``groups``: each row's patient)."""
    members: dict[str, list[int]] = {}
    for row, group in enumerate(groups):
        members.setdefault(group, []).append(row)
    patients = [np.asarray(rows) for rows in members.values()]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples if patients else 0):
        rows = np.concatenate([patients[i] for i in rng.integers(0, len(patients), len(patients))])
        value = statistic(rows)
        if not math.isnan(value):
            values.append(value)
    if not values:
        return float("nan"), float("nan")
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)
