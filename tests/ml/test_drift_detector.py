"""The drift detector: three one-sided CUSUMs on normal scores, with hysteresis."""

from __future__ import annotations

import numpy as np
import pytest

from imaging_ai.ml.drift_detector import (
    FEATURES,
    OUTPUT_HIGH,
    OUTPUT_LOW,
    CusumBank,
    CusumState,
    DriftPolicy,
    alarms,
    detect,
    step,
)

POLICY = DriftPolicy()


def _null(count: int, seed: int) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(count).tolist(), rng.standard_normal(count).tolist()


def test_the_threshold_is_the_calibrated_one() -> None:
    assert (POLICY.k, POLICY.h, POLICY.window) == (0.5, 7.8, 500)


def test_quiet_on_two_thousand_in_distribution_images() -> None:
    feature_z, output_z = _null(2000, seed=12)
    assert alarms(feature_z, output_z, POLICY) == []
    state = detect(feature_z, output_z, POLICY)
    assert not state.drifted and state.which is None
    assert state.images == 500 and state.threshold == 7.8 and state.statistic < 7.8


def test_a_shift_of_three_in_the_features_fires_within_a_few_images() -> None:
    feature_z, output_z = _null(300, seed=1)
    shifted = feature_z + [3.0 + z for z in _null(20, seed=2)[0]]
    found = alarms(shifted, output_z + [0.0] * 20, POLICY)
    assert [alarm.which for alarm in found] == [FEATURES] * len(found) and found
    assert 300 <= found[0].index < 300 + 6
    state = detect(shifted[: 300 + 6], (output_z + [0.0] * 20)[: 300 + 6], POLICY)
    assert state.drifted and state.which == FEATURES and state.statistic > POLICY.h


@pytest.mark.parametrize(("shift", "which"), [(-2.5, OUTPUT_LOW), (2.5, OUTPUT_HIGH)])
def test_a_shift_of_the_outputs_fires_the_cusum_on_its_side(shift: float, which: str) -> None:
    feature_z, output_z = _null(200, seed=3)
    output_z = output_z + [shift] * 10
    state = detect(feature_z + [0.0] * 10, output_z, POLICY)
    assert state.drifted and state.which == which


def test_drift_holds_until_every_cusum_is_back_at_zero() -> None:
    state = CusumState()
    for _ in range(4):  # features + 3 per image: S = 2.5, 5, 7.5, 10 > h
        state = step(state, 3.0, 0.0, POLICY)
    assert state.drifted and state.which == FEATURES
    # Below h but above 0: still drifted (no flicker at the boundary).
    state = step(state, -4.0, 0.0, POLICY)
    assert state.features == pytest.approx(5.5) and state.drifted
    # The features' CUSUM is back at 0 but the output's is not: still drifted, still blamed on features.
    state = step(state, -6.0, 2.0, POLICY)
    assert state.features == 0 and state.output_high == pytest.approx(1.5)
    assert state.drifted and state.which == FEATURES
    state = step(state, 0.0, -2.0, POLICY)
    assert (state.features, state.output_high, state.output_low) == (0.0, 0.0, 1.5) and state.drifted
    state = step(step(state, 0.0, 0.0, POLICY), 0.0, 0.0, POLICY)
    assert state.output_low == pytest.approx(0.5) and state.drifted
    state = step(state, 0.0, 0.0, POLICY)
    assert state.statistic == 0.0 and not state.drifted and state.which is None


def test_detect_reads_only_the_window() -> None:
    policy = DriftPolicy(window=50)
    feature_z = [3.0] * 20 + [0.0] * 50  # drift long ago, washed out of the window
    assert detect(feature_z, [0.0] * 70, policy) == detect([0.0] * 50, [0.0] * 50, policy)
    assert detect(feature_z, [0.0] * 70, DriftPolicy(window=70)).drifted  # hysteresis: still above 0
    with pytest.raises(ValueError):
        detect([0.0], [], policy)


def test_scores_without_a_density_count_as_no_evidence() -> None:
    assert not detect([float("nan")] * 100, [float("nan")] * 100, POLICY).drifted


def test_the_vectorised_bank_counts_the_alarms_of_the_incremental_rule() -> None:
    rng = np.random.default_rng(5)
    # Streams drifting in the features, in the outputs upwards and downwards, so every CUSUM matters.
    shifts = np.repeat([[0.4, 0.0], [0.0, 0.4], [0.0, -0.4], [0.0, 0.0]], 5, axis=0)
    feature_z = rng.standard_normal((20, 3000)) * 1.2 + shifts[:, :1]
    output_z = rng.standard_normal((20, 3000)) * 1.2 + shifts[:, 1:]
    bank, counts = CusumBank(20, POLICY), np.zeros(20, dtype=int)
    for t in range(3000):
        counts += bank.update(feature_z[:, t], output_z[:, t])
    expected = [len(alarms(feature_z[m].tolist(), output_z[m].tolist(), POLICY)) for m in range(20)]
    assert counts.tolist() == expected
    assert all(sum(expected[group : group + 5]) >= 5 for group in (0, 5, 10))
