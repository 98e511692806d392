"""The decision threshold: the highest one that meets the target sensitivity, and the served labels."""

from __future__ import annotations

import numpy as np
import pytest

from imaging_ai.ml.metrics import wilson_bounds
from imaging_ai.ml.operating_point import (
    at_threshold,
    choose_threshold,
    choose_threshold_confidently,
    served_label_index,
)


def test_the_highest_threshold_meeting_the_target_is_chosen() -> None:
    positives = np.array([True] * 10 + [False] * 10)
    scores = np.concatenate([np.linspace(0.95, 0.05, 10), np.linspace(0.5, 0.0, 10)])
    choice = choose_threshold(scores, positives, 0.9)
    # Nine of ten positives must be called: the ninth-highest positive score is the threshold.
    assert choice.threshold == pytest.approx(np.sort(scores[:10])[::-1][8])
    assert choice.true_positives == 9 and choice.sensitivity == pytest.approx(0.9)
    # Any higher threshold would miss the target.
    higher = at_threshold(scores, positives, choice.threshold + 1e-6)
    assert higher.sensitivity < 0.9
    assert choice.specificity == pytest.approx(float((scores[10:] < choice.threshold).mean()))


def test_a_target_of_one_calls_every_positive() -> None:
    positives = np.array([True, True, False, False])
    choice = choose_threshold(np.array([0.9, 0.2, 0.3, 0.1]), positives, 1.0)
    assert choice.threshold == pytest.approx(0.2) and choice.sensitivity == 1.0 and choice.true_negatives == 1


def test_no_positives_is_an_error() -> None:
    with pytest.raises(ValueError):
        choose_threshold(np.array([0.1, 0.2]), np.array([False, False]), 0.9)


def test_served_labels_follow_the_threshold_for_two_labels_and_argmax_otherwise() -> None:
    probabilities = np.array([[0.7, 0.3], [0.4, 0.6], [0.9, 0.1]])
    assert served_label_index(probabilities, 1, 0.25).tolist() == [1, 1, 0]
    assert served_label_index(probabilities, 1, None).tolist() == [0, 1, 0]
    three = np.array([[0.2, 0.5, 0.3]])
    assert served_label_index(three, None, 0.1).tolist() == [1]


def test_a_confident_threshold_keeps_a_margin_that_shrinks_with_more_positives() -> None:
    rng = np.random.default_rng(0)
    margins = []
    for n in (60, 600):
        positives = np.array([True] * n + [False] * n)
        scores = np.concatenate([rng.uniform(0.2, 1.0, n), rng.uniform(0.0, 0.8, n)])
        plain = choose_threshold(scores, positives, 0.95)
        confident = choose_threshold_confidently(scores, positives, 0.95)
        # The lower bound at the chosen count reaches the target; one positive fewer would not.
        assert wilson_bounds(confident.true_positives, n, 1.6449)[0] >= 0.95
        assert wilson_bounds(confident.true_positives - 1, n, 1.6449)[0] < 0.95
        assert confident.threshold < plain.threshold and confident.sensitivity > plain.sensitivity
        margins.append(confident.sensitivity - plain.sensitivity)
    assert margins[1] < margins[0]


def test_a_confident_threshold_calls_every_positive_when_the_target_cannot_be_bounded() -> None:
    positives = np.array([True] * 5 + [False] * 5)
    scores = np.linspace(1.0, 0.0, 10)
    choice = choose_threshold_confidently(scores, positives, 0.95)
    assert choice.true_positives == 5 and choice.threshold == pytest.approx(scores[4])
