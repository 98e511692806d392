"""Metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imaging_ai.ml.calibration import fit_temperature
from imaging_ai.ml.metrics import (
    binary_auc,
    expected_calibration_error,
    macro_auc,
    metrics_with_intervals,
    patient_bootstrap,
    point_metrics,
)


def test_auc_known_values() -> None:
    assert binary_auc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])) == 1.0
    assert binary_auc(np.array([0.9, 0.8, 0.2, 0.1]), np.array([0, 0, 1, 1])) == 0.0
    # One inversion out of four positive/negative pairs.
    assert binary_auc(np.array([0.1, 0.6, 0.5, 0.9]), np.array([0, 0, 1, 1])) == 0.75
    # Ties count one half.
    assert binary_auc(np.array([0.5, 0.5]), np.array([0, 1])) == 0.5
    assert np.isnan(binary_auc(np.array([0.1, 0.2]), np.array([1, 1])))


def test_auc_matches_the_pairwise_definition_on_random_data() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 20, 300).astype(float)  # many ties
    labels = rng.integers(0, 2, 300)
    pos, neg = scores[labels == 1], scores[labels == 0]
    pairwise = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (
        len(pos) * len(neg)
    )
    assert binary_auc(scores, labels) == pytest.approx(pairwise)


def test_sensitivity_specificity_accuracy() -> None:
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    labels = np.array([0, 1, 0, 1])
    metrics = point_metrics(probabilities, labels, positive_index=1)
    assert metrics["accuracy"] == 0.5
    assert metrics["sensitivity"] == 0.5
    assert metrics["specificity"] == 0.5


def test_macro_auc_for_three_classes() -> None:
    labels = np.array([0, 1, 2, 0, 1, 2])
    perfect = np.eye(3)[labels] * 0.8 + 0.2 / 3
    assert macro_auc(perfect, labels) == 1.0


def test_bootstrap_interval_contains_the_point_and_narrows_with_data() -> None:
    rng = np.random.default_rng(0)

    def interval(n: int) -> tuple[float, float, float]:
        labels = rng.integers(0, 2, n)
        scores = np.clip(labels * 0.3 + rng.normal(0.35, 0.2, n), 0, 1)
        result = metrics_with_intervals(np.stack([1 - scores, scores], 1), labels, 1, resamples=300)["auc"]
        return result.ci_low, result.value, result.ci_high

    low, value, high = interval(100)
    assert low <= value <= high
    big_low, _, big_high = interval(2000)
    assert (big_high - big_low) < (high - low)


def test_temperature_scaling_recovers_a_known_temperature_and_lowers_ece() -> None:
    generator = torch.Generator().manual_seed(0)
    true_logits = torch.randn(4000, 2, generator=generator) * 2
    labels = torch.multinomial(torch.softmax(true_logits, 1), 1, generator=generator).squeeze(1)
    overconfident = true_logits * 3  # a network that is three times too sure
    temperature = fit_temperature(overconfident, labels)
    assert temperature == pytest.approx(3.0, rel=0.15)
    before = expected_calibration_error(torch.softmax(overconfident, 1).numpy(), labels.numpy())
    after = expected_calibration_error(torch.softmax(overconfident / temperature, 1).numpy(), labels.numpy())
    assert after < before / 2


def test_the_patient_bootstrap_draws_a_patients_images_together() -> None:
    # Ten patients with five identical images each: resampling images would pretend to 50 independent
    # cases and give a narrower interval than resampling the ten patients.
    values = np.repeat(np.arange(10, dtype=float), 5)
    groups = [f"p{v:.0f}" for v in values]

    def mean(rows: np.ndarray) -> float:
        return float(values[rows].mean())

    by_patient = patient_bootstrap(mean, groups, resamples=500)
    by_image = patient_bootstrap(mean, [str(i) for i in range(50)], resamples=500)
    assert by_patient[0] < 4.5 < by_patient[1]
    assert by_patient[1] - by_patient[0] > 1.5 * (by_image[1] - by_image[0])
    # Every resample holds whole patients: five rows each.
    sizes = []
    patient_bootstrap(lambda rows: float(sizes.append(len(rows)) or 0.0), groups, resamples=20)
    assert sizes == [50] * 20
