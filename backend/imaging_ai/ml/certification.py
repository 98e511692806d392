"""Error bounds for earned autonomy that stay valid however often they are looked at.

A level finalises answers without a clinician only for the classes it is certified for. For class c
and confidence threshold t, the population is the answers served as c with confidence >= t; its error
is the share a clinician reading blind would label otherwise. The evidence is the blind reads only:
each case is drawn for one independently, with a probability pi_i recorded before the case is seen
(it differs between cases: higher while supervised than while semi-autonomous). Z_i = blind_i *
error_i / pi_i has mean p, the population's error, whatever the pi_i, so the tests below bet on Z.

Why the bounds survive a look after every verdict. The test of H0: p >= m keeps the capital
K_n = prod (1 + lambda_i (m - Z_i)), each bet lambda_i >= 0 fixed before case i's outcome. Under H0
every factor has conditional mean <= 1, so K is a nonnegative supermartingale and Ville's inequality
gives P(K_n >= 1/alpha at ANY n) <= alpha. A fixed-n interval (Wilson, Clopper-Pearson) makes no such
promise: recomputed after every verdict it crosses the target by chance far more often than alpha
(the agreement rule this replaces certified 13% of simulated deployments whose error was exactly the
target; this test 1.4%, docs/bench/certification).
Rejections are kept (the running intersection of the confidence sets), so a bound never widens.

Why no multiplicity correction across thresholds of one class. The thresholds are tested in a fixed
order, most conservative first, each at level alpha, stopping at the first failure (Learn then Test,
fixed-sequence). A wrong certification needs a threshold whose error is >= target to pass; to reach
it, every threshold before it passed, in particular the first threshold in the order whose error is
>= target. That one test is a true-null test at level alpha, so the chance of any wrong certification
in the class is <= alpha. Going on after a failure would break this: the later passes are no longer
guarded by a single true-null test.

Why classes use alpha / number_of_classes. The classes are separate families, each with its own
fixed sequence; Bonferroni across them keeps the chance that ANY class is wrongly certified <= alpha,
with no assumption about how their errors depend on each other.

What the caller must keep. Audits come in time order. A blind draw whose reader has not answered yet
holds back every later case (`waiting`): dropping it but keeping the non-blind cases around it would
count those as evidence while the case that could show an error is missing, a bias that grows with
the reading backlog and would recur at every look. The probability must be the one the case was
drawn with, fixed before its outcome and independent of it given what was known then.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

DEFAULT_THRESHOLDS = (0.995, 0.99, 0.98, 0.97, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5, 0.0)

GRID_STEP = 0.0005
GRID = np.round(np.arange(0.0, 1.0 + GRID_STEP / 2, GRID_STEP), 6)
"""The error values each bound is tested at; a bound is resolved to one step."""

MAX_BET = 0.5
"""The most of its capital a bet may lose on one case: a single blind error at most halves the
capital, so one early unlucky read never ends a test."""

PRIOR_CASES = 20.0
"""The bets start as if this many cases had shown an error exactly at the value tested, so the first
cases (whose weighted mean is noisy when blind reads are rare) move the bet only gradually."""

_COLUMNS = 32
_FIRST_ROWS = 64
_MAX_ROWS = 2048
_TINY = 1e-12


@dataclass(frozen=True)
class Audit:
    """One case of a population, as the tests see it."""

    confidence: float
    blind: bool
    """Drawn for a blind read."""
    probability: float
    """The chance it had of being drawn, fixed before the case (0 < pi <= 1)."""
    erroneous: bool | None
    """The blind reader labelled it otherwise; None when it was not read blind (or not yet)."""

    def __post_init__(self) -> None:
        if not 0.0 < self.probability <= 1.0:
            raise ValueError(f"blind-read probability must be in (0, 1], got {self.probability}")


@dataclass(frozen=True)
class ErrorBound:
    cases: int
    """Cases whose blind draw is resolved (not drawn, or drawn and read), up to the first waiting one."""
    blind_reads: int
    errors: int
    waiting: int
    """Later cases held back behind a blind read that has no answer yet."""
    estimate: float | None
    """The weighted (unbiased) error estimate, sum(Z) / cases."""
    blind_rate: float | None
    """Errors / blind reads: the plain rate, biased when the blind-read probability has varied."""
    upper: float
    """Time-uniform upper confidence bound on the error (1.0 when nothing is ruled out)."""
    lower: float
    """Time-uniform lower confidence bound on the error (0.0 when nothing is ruled out)."""


@dataclass(frozen=True)
class ThresholdStep:
    threshold: float
    bound: ErrorBound
    certified: bool


@dataclass(frozen=True)
class ClassCertification:
    target: float
    alpha: float
    threshold: float | None
    """The lowest threshold certified before the first failure; None when the first one fails."""
    steps: list[ThresholdStep]
    """Every threshold tested, in order, ending with the first failure (nothing after it is tested)."""


@dataclass(frozen=True)
class Observations:
    """The resolved prefix of a population as the weighted observations Z and their 1/pi."""

    z: NDArray[np.float64]
    inverse_probability: NDArray[np.float64]
    blind_reads: int
    errors: int
    waiting: int


def observations(audits: Sequence[Audit]) -> Observations:
    resolved = len(audits)
    for index, audit in enumerate(audits):
        if audit.blind and audit.erroneous is None:
            resolved = index
            break
    prefix = audits[:resolved]
    inverse = np.array([1.0 / audit.probability for audit in prefix], dtype=np.float64)
    wrong = np.array([audit.blind and bool(audit.erroneous) for audit in prefix], dtype=bool)
    return Observations(
        z=np.where(wrong, inverse, 0.0),
        inverse_probability=inverse,
        blind_reads=sum(audit.blind for audit in prefix),
        errors=int(wrong.sum()),
        waiting=len(audits) - resolved,
    )


def first_rejections(
    data: Observations, values: NDArray[np.float64], alpha: float, *, above: bool
) -> NDArray[np.int64]:
    """For each value m, the number of cases after which the test first rejected (0: never).

    `above` False tests H0: p >= m (rejection: the error is below m); True tests H0: p <= m.
    The bets are the Kelly bets for Z's two values {0, 1/pi_i} at a shrunken running estimate of p,
    capped at MAX_BET; any bet fixed before the outcome keeps the test valid, this one only makes it
    quick. Columns are dropped as soon as they reject, so values far from the truth cost few rows.
    """
    result = np.zeros(values.size, dtype=np.int64)
    z, inverse = data.z, data.inverse_probability
    n = z.size
    if n == 0 or values.size == 0:
        return result
    zero = values <= 0.0
    if above and zero.any():
        # H0: p <= 0 says no case is ever wrong: the first error refutes it outright.
        hits = np.flatnonzero(z > 0)
        result[zero] = hits[0] + 1 if hits.size else 0
    active = np.flatnonzero(~zero)  # H0: p >= 0 always holds, so m = 0 is never rejected below
    seen = np.arange(n, dtype=np.float64)
    before = np.concatenate(([0.0], np.cumsum(z)[:-1]))
    log_capital = np.zeros(active.size)
    threshold = math.log(1.0 / alpha)
    start, rows = 0, _FIRST_ROWS
    while start < n and active.size:
        stop = min(n, start + rows)
        m = values[active][None, :]
        count, total = seen[start:stop, None], before[start:stop, None]
        zs, inv = z[start:stop, None], inverse[start:stop, None]
        room = np.maximum(inv - m, _TINY)
        if above:
            bet = np.clip((total - m * count) / ((count + PRIOR_CASES) * room), 0.0, MAX_BET)
            factor = 1.0 + bet * (zs / m - 1.0)
        else:
            bet = np.clip((count - total / m) / (count + PRIOR_CASES), 0.0, MAX_BET)
            factor = 1.0 + bet * (m - zs) / room
        path = np.cumsum(np.log(factor), axis=0) + log_capital
        crossed = path >= threshold
        hit = crossed.any(axis=0)
        result[active[hit]] = start + crossed.argmax(axis=0)[hit] + 1
        log_capital = path[-1, ~hit]
        active = active[~hit]
        start, rows = stop, min(2 * rows, _MAX_ROWS)
    return result


def _edge_unrejected(data: Observations, alpha: float, *, above: bool) -> float | None:
    """The smallest (`above`) or largest grid value not rejected, scanning from the end where
    rejections come quickly and stopping at the first block holding one that survives."""
    order = GRID if above else GRID[::-1]
    for start in range(0, order.size, _COLUMNS):
        block = order[start : start + _COLUMNS]
        survivors = block[first_rejections(data, block, alpha, above=above) == 0]
        if survivors.size:
            return float(survivors.min() if above else survivors.max())
    return None


def _bound(data: Observations, alpha: float) -> ErrorBound:
    cases = int(data.z.size)
    # The step beyond the edge, not the first rejected value: the bets differ between values, so a
    # rejection need not imply the rejection of every value beyond it; this stays valid when not.
    top = _edge_unrejected(data, alpha, above=False)
    bottom = _edge_unrejected(data, alpha, above=True)
    return ErrorBound(
        cases=cases,
        blind_reads=data.blind_reads,
        errors=data.errors,
        waiting=data.waiting,
        estimate=round(float(data.z.sum()) / cases, 6) if cases else None,
        blind_rate=round(data.errors / data.blind_reads, 6) if data.blind_reads else None,
        upper=1.0 if top is None else round(min(1.0, top + GRID_STEP), 6),
        lower=1.0 if bottom is None else round(max(0.0, bottom - GRID_STEP), 6),
    )


def error_bound(audits: Sequence[Audit], alpha: float) -> ErrorBound:
    _check_alpha(alpha)
    return _bound(observations(audits), alpha)


def certified_after(audits: Sequence[Audit], target: float, alpha: float) -> int | None:
    """The number of resolved cases after which the error was certified below `target` (every value
    from the target up rejected, so the upper bound is <= a target on the grid), or None if not yet.
    Looking after every verdict and certifying at the first look that passes gives exactly this."""
    _check(target, alpha)
    values = np.concatenate(([target], GRID[target < GRID]))
    data = observations(audits)
    times = np.zeros(0, dtype=np.int64)
    # From the top down: the values far above the error reject early, and one survivor ends it.
    for stop in range(values.size, 0, -_COLUMNS):
        block = values[max(0, stop - _COLUMNS) : stop]
        block_times = first_rejections(data, block, alpha, above=False)
        if (block_times == 0).any():
            return None
        times = np.concatenate((times, block_times))
    return int(times.max()) if times.size else None


def exceeds_target(audits: Sequence[Audit], target: float, alpha: float) -> bool:
    """Evidence that the error is above `target`: every value up to it rejected by the mirror test
    (the lower bound reaches the target), at any time since these audits began."""
    _check(target, alpha)
    values = np.concatenate((GRID[target > GRID], [target]))
    data = observations(audits)
    for start in range(0, values.size, _COLUMNS):
        if (first_rejections(data, values[start : start + _COLUMNS], alpha, above=True) == 0).any():
            return False
    return True


def certify_class(
    audits: Sequence[Audit], thresholds: Sequence[float], target: float, alpha: float
) -> ClassCertification:
    """Learn then Test, fixed sequence: `thresholds` strictly descending (the most conservative first),
    each tested on the audits at or above it, stopping at the first that fails. `alpha` is the class's
    share (alpha / number of classes for a level over several classes)."""
    _check(target, alpha)
    if any(later >= earlier for earlier, later in itertools.pairwise(thresholds)):
        raise ValueError("thresholds must be strictly descending")
    steps: list[ThresholdStep] = []
    chosen: float | None = None
    for threshold in thresholds:
        members = [audit for audit in audits if audit.confidence >= threshold]
        data = observations(members)
        bound = _bound(data, alpha)
        certified = bound.cases > 0 and certified_after(members, target, alpha) is not None
        steps.append(ThresholdStep(threshold, bound, certified))
        if not certified:
            break
        chosen = threshold
    return ClassCertification(target=target, alpha=alpha, threshold=chosen, steps=steps)


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def _check(target: float, alpha: float) -> None:
    _check_alpha(alpha)
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be in (0, 1), got {target}")
