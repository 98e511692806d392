"""Small, dependency-free statistics for the evidence behind autonomy: proportions with Wilson
intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z_95 = 1.959964


@dataclass(frozen=True)
class Proportion:
    successes: int
    n: int
    rate: float | None
    low: float | None
    high: float | None


def wilson(successes: int, n: int, z: float = Z_95) -> Proportion:
    """The Wilson score interval: honest at small n and near 0 or 1, where the normal one is not."""
    if n <= 0:
        return Proportion(successes, n, None, None, None)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Proportion(
        successes, n, round(p, 4), round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)
    )


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
