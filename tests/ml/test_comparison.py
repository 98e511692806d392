"""The paired, patient-clustered comparison: it tells noise from a gain."""

from __future__ import annotations

import numpy as np
import pytest

from imaging_ai.ml.comparison import ScoredCases, compare

LABELS = ("normal", "pneumonia")


def scored(scores: np.ndarray, labels: np.ndarray, groups: list[str]) -> ScoredCases:
    return ScoredCases(np.stack([1 - scores, scores], axis=1), labels, groups, 1)


def cases(n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    return labels, [f"p{i // 2}" for i in range(n)]  # two images per patient


def test_identical_versions_differ_by_nothing() -> None:
    labels, groups = cases(60, 0)
    scores = np.random.default_rng(1).random(60)
    result = compare("same", scored(scores, labels, groups), scored(scores, labels, groups), LABELS,
                     active_threshold=0.5, candidate_threshold=0.5, resamples=300)  # fmt: skip
    assert result.auc_difference == 0 and result.difference_ci95 == (0.0, 0.0)
    assert result.probability_better == 0.0 and result.patients == 30


def test_a_clearly_better_candidate_is_better_in_nearly_every_resample() -> None:
    labels, groups = cases(80, 2)
    rng = np.random.default_rng(3)
    noise = rng.random(80)
    good = 0.6 * labels + 0.4 * rng.random(80)
    result = compare("gain", scored(noise, labels, groups), scored(good, labels, groups), LABELS,
                     active_threshold=0.5, candidate_threshold=0.5, resamples=500)  # fmt: skip
    assert result.difference_ci95 is not None and result.difference_ci95[0] > 0
    assert result.probability_better is not None and result.probability_better > 0.99
    assert result.candidate_sensitivity is not None and result.counts_per_label["pneumonia"] == labels.sum()


def test_equal_but_different_versions_rarely_look_better() -> None:
    """Two versions of the same skill (independent noise): better at 0.95 in about 5% of trials."""
    promoted = 0
    trials = 60
    for trial in range(trials):
        labels, groups = cases(40, 100 + trial)
        rng = np.random.default_rng(200 + trial)
        a = 0.3 * labels + rng.random(40)
        b = 0.3 * labels + rng.random(40)
        result = compare(
            "null", scored(a, labels, groups), scored(b, labels, groups), LABELS,
            active_threshold=None, candidate_threshold=None, resamples=200, seed=trial,
        )  # fmt: skip
        promoted += int((result.probability_better or 0) >= 0.95)
    assert promoted / trials <= 0.12


def test_cases_must_be_the_same_on_both_sides() -> None:
    labels, groups = cases(10, 4)
    with pytest.raises(ValueError):
        compare("bad", scored(np.zeros(10), labels, groups), scored(np.zeros(10), 1 - labels, groups), LABELS,
                active_threshold=None, candidate_threshold=None)  # fmt: skip
