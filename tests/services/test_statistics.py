"""The evidence's statistics against values computed by hand."""

from __future__ import annotations

import pytest

from imaging_ai.services.trust.statistics import (
    expected_calibration_error,
    reliability_bins,
    wilson,
)


def test_wilson_interval_matches_the_textbook_values() -> None:
    # 195/200: p = 0.975; Wilson 95% interval (z = 1.96) is [0.9428, 0.9893].
    proportion = wilson(195, 200)
    assert (proportion.rate, proportion.low, proportion.high) == (0.975, 0.9428, 0.9893)
    perfect = wilson(200, 200)
    assert perfect.low == 0.9812 and perfect.high == 1.0  # never a zero-width interval at the edge
    assert wilson(0, 0).rate is None
    assert wilson(0, 10).low == 0.0 and wilson(0, 10).high == pytest.approx(0.2775, abs=1e-4)


def test_reliability_bins_and_calibration_error() -> None:
    confidences = [0.95, 0.95, 0.65, 0.65]
    correct = [True, True, True, False]
    bins = reliability_bins(confidences, correct)
    filled = [b for b in bins if b.n]
    assert [(b.low, b.n, b.confidence_mean, b.accuracy) for b in filled] == [
        (0.6, 2, 0.65, 0.5),
        (0.9, 2, 0.95, 1.0),
    ]
    # half the cases off by 0.15, half by 0.05
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.5 * 0.15 + 0.5 * 0.05)
    assert expected_calibration_error([], []) is None
