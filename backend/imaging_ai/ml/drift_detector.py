"""Drift as sequential tests on the normal scores of each image (`FeatureDensity.feature_z` and
`output_z`): three one-sided CUSUMs, pure functions of the scores, oldest first.

- ``features``:    S = max(0, S + z_feat - k)   images further from the training features than usual;
- ``output_high``: S = max(0, S + z_out - k)    outputs higher than usual (more positive calls);
- ``output_low``:  S = max(0, S - z_out - k)    outputs lower than usual.

The threshold ``h`` was chosen before any real image was scored, by simulation on i.i.d. N(0, 1)
scores (``bench/drift_calibration.py``), for a false alarm of the three together about once per
5,000 in-distribution images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FEATURES = "features"
OUTPUT_HIGH = "output_high"
OUTPUT_LOW = "output_low"

CALIBRATED_H = 7.8
"""`bench/drift_calibration.py`, k = 0.5, 4,000 N(0, 1) streams of 50,000 images (2e8 images): a false
alarm of any of the three CUSUMs every 5,218 images (95% interval 5,166-5,271); h = 7.7 gave 4,708.
Chosen on simulated scores only, before any real image was scored."""


@dataclass(frozen=True)
class DriftPolicy:
    k: float = 0.5
    """The reference value: half the shift (in standard deviations) the tests are tuned to catch."""
    h: float = CALIBRATED_H
    window: int = 500
    """`detect` reads the latest this many images."""


@dataclass(frozen=True)
class CusumState:
    features: float = 0.0
    output_high: float = 0.0
    output_low: float = 0.0
    drifted: bool = False
    which: str | None = None
    """The CUSUM that raised the alarm, while drifted."""

    @property
    def statistic(self) -> float:
        return max(self.features, self.output_high, self.output_low)


def step(state: CusumState, feature_z: float, output_z: float, policy: DriftPolicy) -> CusumState:
    """One image. A score that is not finite (an image scored without a density) counts as 0: no
    evidence either way. Hysteresis: drifted once any CUSUM exceeds h, until all three are back at 0,
    so a drifted site does not flicker in and out of the state at the boundary."""
    zf = feature_z if math.isfinite(feature_z) else 0.0
    zo = output_z if math.isfinite(output_z) else 0.0
    sums = {
        FEATURES: max(0.0, state.features + zf - policy.k),
        OUTPUT_HIGH: max(0.0, state.output_high + zo - policy.k),
        OUTPUT_LOW: max(0.0, state.output_low - zo - policy.k),
    }
    if state.drifted:
        drifted = any(value > 0 for value in sums.values())
        which = state.which if drifted else None
    else:
        over = {name: value for name, value in sums.items() if value > policy.h}
        drifted = bool(over)
        which = max(over, key=lambda name: over[name]) if over else None
    return CusumState(sums[FEATURES], sums[OUTPUT_HIGH], sums[OUTPUT_LOW], drifted, which)


@dataclass(frozen=True)
class DriftState:
    drifted: bool
    statistic: float
    """The largest of the three CUSUMs after the latest image."""
    threshold: float
    images: int
    """Images read (at most the policy's window)."""
    which: str | None


def detect(
    feature_z: Sequence[float], output_z: Sequence[float], policy: DriftPolicy | None = None
) -> DriftState:
    """The state after the latest ``policy.window`` images (oldest first), the CUSUMs starting at 0."""
    policy = policy or DriftPolicy()
    if len(feature_z) != len(output_z):
        raise ValueError("one feature score and one output score per image")
    count = min(len(feature_z), policy.window)
    state = CusumState()
    for zf, zo in zip(feature_z[len(feature_z) - count :], output_z[len(output_z) - count :], strict=True):
        state = step(state, zf, zo, policy)
    return DriftState(state.drifted, state.statistic, policy.h, count, state.which)


@dataclass(frozen=True)
class Alarm:
    index: int
    """0-based position in the stream of the image that raised it."""
    which: str


def alarms(feature_z: Sequence[float], output_z: Sequence[float], policy: DriftPolicy) -> list[Alarm]:
    """Every alarm over a long stream, run incrementally with `step` (the rule `detect` applies), all
    CUSUMs reset to 0 after each alarm as when someone acknowledges it."""
    if len(feature_z) != len(output_z):
        raise ValueError("one feature score and one output score per image")
    found = []
    state = CusumState()
    for index, (zf, zo) in enumerate(zip(feature_z, output_z, strict=True)):
        state = step(state, zf, zo, policy)
        if state.drifted:
            assert state.which is not None
            found.append(Alarm(index, state.which))
            state = CusumState()
    return found


class CusumBank:
    """The CUSUMs of many streams at once, with the reset after each alarm of `alarms`: the same
    recursion vectorised for the Monte Carlo calibration (a test holds the two equal)."""

    def __init__(self, streams: int, policy: DriftPolicy) -> None:
        self.policy = policy
        self.features = np.zeros(streams)
        self.high = np.zeros(streams)
        self.low = np.zeros(streams)

    def update(self, feature_z: np.ndarray, output_z: np.ndarray) -> np.ndarray:
        """One image per stream, (M,) scores each; returns the (M,) mask of streams that alarmed."""
        k, h = self.policy.k, self.policy.h
        feature_z = np.where(np.isfinite(feature_z), feature_z, 0.0)
        output_z = np.where(np.isfinite(output_z), output_z, 0.0)
        self.features = np.maximum(0.0, self.features + feature_z - k)
        self.high = np.maximum(0.0, self.high + output_z - k)
        self.low = np.maximum(0.0, self.low - output_z - k)
        alarm: np.ndarray = (self.features > h) | (self.high > h) | (self.low > h)
        self.features[alarm] = self.high[alarm] = self.low[alarm] = 0.0
        return alarm
