"""Small, dependency-free statistics for the evidence behind autonomy: proportions with Wilson
intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from imaging_ai.ml.metrics import wilson_bounds

Z_95 = 1.959964


@dataclass(frozen=True)
class Proportion:
    successes: int
    n: int
    rate: float | None
    low: float | None
    high: float | None


def wilson(successes: int, n: int, z: float = Z_95) -> Proportion:
    """The proportion with its Wilson score interval (`ml.metrics.wilson_bounds`)."""
    if n <= 0:
        return Proportion(successes, n, None, None, None)
    low, high = wilson_bounds(successes, n, z)
    return Proportion(successes, n, round(successes / n, 4), round(low, 4), round(high, 4))


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float | None:
    """Gap between confidence and accuracy, weighted over equal-width confidence bins."""
    if not confidences:
        return None
    total = sum(
        b.n / len(confidences) * abs(b.accuracy - b.confidence_mean)
        for b in reliability_bins(confidences, correct, bins)
        if b.accuracy is not None and b.confidence_mean is not None
    )
    return round(total, 4)


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    n: int
    confidence_mean: float | None
    accuracy: float | None


def reliability_bins(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> list[ReliabilityBin]:
    """The reliability diagram: per equal-width confidence bin, mean confidence against accuracy."""
    result = []
    for index in range(bins):
        low, high = index / bins, (index + 1) / bins
        members = [
            (c, ok)
            for c, ok in zip(confidences, correct, strict=True)
            if low < c <= high or (index == 0 and c == 0)
        ]
        n = len(members)
        result.append(
            ReliabilityBin(
                round(low, 4),
                round(high, 4),
                n,
                round(sum(c for c, _ in members) / n, 4) if n else None,
                round(sum(ok for _, ok in members) / n, 4) if n else None,
            )
        )
    return result
