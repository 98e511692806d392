"""Evaluation of a loaded version on labelled images: the numbers on the model card and of `evaluate`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from imaging_ai.ml.comparison import ScoredCases
from imaging_ai.ml.data import ImageSet, load_image_set
from imaging_ai.ml.loading import LoadedModel
from imaging_ai.ml.manifest import ManifestItem, group_key
from imaging_ai.ml.metrics import expected_calibration_error, metrics_with_intervals, patient_bootstrap
from imaging_ai.ml.operating_point import ThresholdChoice, at_threshold, choose_if_enough


def evaluate_probabilities(
    probabilities: np.ndarray, labels: np.ndarray, label_names: Sequence[str], positive_index: int | None
) -> dict[str, Any]:
    with_ci = metrics_with_intervals(probabilities, labels, positive_index)
    result: dict[str, Any] = {name: metric.value for name, metric in with_ci.items()}
    result["ci95"] = {name: [metric.ci_low, metric.ci_high] for name, metric in with_ci.items()}
    result["n"] = len(labels)
    result["counts_per_label"] = {name: int((labels == k).sum()) for k, name in enumerate(label_names)}
    result["ece"] = expected_calibration_error(probabilities, labels) if len(labels) else float("nan")
    rounded: dict[str, Any] = _rounded(result)
    return rounded


def served_at_threshold(
    scores: np.ndarray, positives: np.ndarray, groups: Sequence[str], threshold: float
) -> dict[str, Any]:
    """Sensitivity and specificity of the positive label served at ``threshold``, with 95% intervals
    over patients (``groups``: each case's patient)."""
    positives = positives.astype(bool)
    point = at_threshold(scores, positives, threshold)

    def sensitivity(rows: np.ndarray) -> float:
        return at_threshold(scores[rows], positives[rows], threshold).sensitivity

    def specificity(rows: np.ndarray) -> float:
        return at_threshold(scores[rows], positives[rows], threshold).specificity

    served: dict[str, Any] = {"threshold": threshold}  # exactly the threshold served, not rounded
    served |= _rounded(
        {
            "sensitivity": point.sensitivity,
            "specificity": point.specificity,
            "ci95": {
                "sensitivity": list(patient_bootstrap(sensitivity, groups)),
                "specificity": list(patient_bootstrap(specificity, groups)),
            },
            "interval": "95% percentile bootstrap over patients",
        }
    )
    return served


def evaluate_image_set(model: LoadedModel, images: ImageSet) -> dict[str, Any]:
    probabilities = model.predict_images(images.images).numpy()
    positive = model.task.label_index(model.task.positive_label) if model.task.positive_label else None
    return evaluate_probabilities(probabilities, images.labels.numpy(), model.labels, positive)


def evaluate_items(model: LoadedModel, items: Sequence[ManifestItem]) -> dict[str, Any]:
    images = load_image_set(
        items, model.labels, model.preprocessing.input_size, window=model.preprocessing.modality_window
    )
    return evaluate_image_set(model, images)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return None if np.isnan(value) else round(value, 4)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def scored_cases(model: LoadedModel, images: ImageSet) -> ScoredCases:
    """One version's calibrated probabilities on labelled images, grouped by patient for paired comparison."""
    positive = model.task.label_index(model.task.positive_label) if model.task.positive_label else None
    return ScoredCases(
        probabilities=model.predict_images(images.images).numpy(),
        labels=images.labels.numpy(),
        groups=[group_key(item) for item in images.items],
        positive_index=positive,
    )


def threshold_on(model: LoadedModel, images: ImageSet, *, minimum_per_label: int) -> ThresholdChoice | None:
    """A version's threshold for its task's target sensitivity, chosen on held-out labelled images."""
    task = model.task
    if not task.is_binary or task.positive_label is None or task.target_sensitivity is None:
        return None
    positive = task.label_index(task.positive_label)
    labels = images.labels.numpy()
    if not len(labels):
        return None
    scores = model.predict_images(images.images).numpy()[:, positive]
    return choose_if_enough(scores, labels == positive, task.target_sensitivity, minimum_per_label)
