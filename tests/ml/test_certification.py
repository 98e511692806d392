"""Per-class certification on blind reads: time-uniform bounds, the fixed sequence, the weighting."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from imaging_ai.ml.certification import (
    DEFAULT_THRESHOLDS,
    Audit,
    certified_after,
    certify_class,
    error_bound,
    exceeds_target,
)

ALPHA = 0.05
TARGET = 0.05


def stream(
    rng: np.random.Generator, n: int, error: float, probability: np.ndarray | float, confidence: float = 0.999
) -> list[Audit]:
    """A deployment's cases in time order: each drawn blind with its probability, wrong with `error`."""
    probabilities = np.broadcast_to(np.asarray(probability, dtype=float), (n,))
    blind = rng.random(n) < probabilities
    wrong = rng.random(n) < error
    return [
        Audit(confidence, bool(b), float(p), bool(w) if b else None)
        for b, w, p in zip(blind, wrong, probabilities, strict=True)
    ]


def correct(n: int, confidence: float = 0.999) -> list[Audit]:
    return [Audit(confidence, True, 1.0, False) for _ in range(n)]


def two_phase(n: int) -> np.ndarray:
    """0.25 while supervised, then 0.10 once semi-autonomous: the schedule the weighting must absorb."""
    return np.where(np.arange(n) < n // 2, 0.25, 0.10)


def test_a_stream_without_errors_certifies_after_enough_reads_and_not_after_ten() -> None:
    assert certify_class(correct(10), (0.0,), TARGET, ALPHA).threshold is None
    assert error_bound(correct(10), ALPHA).upper > TARGET
    result = certify_class(correct(300), (0.0,), TARGET, ALPHA)
    assert result.threshold == 0.0
    [step] = result.steps
    assert step.certified and step.bound.upper <= TARGET and step.bound.errors == 0
    needed = certified_after(correct(300), TARGET, ALPHA)
    # With no error at all a fixed-sample bound needs log(20) / 0.05 = 60 reads; the price of a bound
    # that may be looked at after every read is a few times that, not orders of magnitude.
    assert needed is not None and 60 < needed < 300


def test_a_twenty_percent_error_never_certifies_and_exceeds_the_target() -> None:
    audits = stream(np.random.default_rng(1), 1500, 0.2, two_phase(1500))
    result = certify_class(audits, DEFAULT_THRESHOLDS, TARGET, ALPHA)
    assert result.threshold is None and len(result.steps) == 1
    assert certified_after(audits, TARGET, ALPHA) is None
    assert exceeds_target(audits, TARGET, ALPHA)
    bound = error_bound(audits, ALPHA)
    assert TARGET < bound.lower < 0.2 < bound.upper


def test_an_error_at_a_third_of_the_target_does_not_exceed_it() -> None:
    audits = stream(np.random.default_rng(2), 1500, TARGET / 3, two_phase(1500))
    assert not exceeds_target(audits, TARGET, ALPHA)


def test_the_fixed_sequence_stops_at_the_first_failure() -> None:
    rng = np.random.default_rng(3)
    top = [Audit(0.995, True, 1.0, False) for _ in range(300)]
    high = [Audit(0.96, True, 1.0, False) for _ in range(300)]
    # Between 0.90 and 0.95 half the answers are wrong: 50 errors in 700 cases at threshold 0.9.
    middle = [Audit(0.92, True, 1.0, k % 2 == 0) for k in range(100)]
    low = [Audit(0.85, True, 1.0, False) for _ in range(5000)]
    audits = [*top, *high, *middle, *low]
    audits = [audits[k] for k in rng.permutation(len(audits))]
    thresholds = (0.99, 0.95, 0.9, 0.8)

    assert certify_class(audits, (0.8,), TARGET, ALPHA).threshold == 0.8  # on its own it would pass
    result = certify_class(audits, thresholds, TARGET, ALPHA)
    assert result.threshold == 0.95
    assert [step.threshold for step in result.steps] == [0.99, 0.95, 0.9]
    assert [step.certified for step in result.steps] == [True, True, False]
    assert result.steps[-1].bound.cases == 700 and result.steps[-1].bound.errors == 50


def test_a_threshold_without_audits_fails_and_ends_the_sequence() -> None:
    result = certify_class(correct(500, confidence=0.6), (0.99, 0.0), TARGET, ALPHA)
    assert result.threshold is None
    [step] = result.steps
    assert step.bound.cases == 0 and not step.certified and step.bound.upper == 1.0


@pytest.mark.slow
def test_the_weighted_estimate_is_unbiased_when_the_probability_follows_the_error() -> None:
    """Hard cases are read blind more often (pi 0.5, error 0.2) than easy ones (pi 0.05, error 0.02):
    the plain blind-read rate overstates the error; the weighted one does not."""
    rng = np.random.default_rng(4)
    hard_share, truth = 0.2, 0.2 * 0.2 + 0.8 * 0.02
    estimates, plain = [], []
    for _ in range(400):
        hard = rng.random(400) < hard_share
        probability = np.where(hard, 0.5, 0.05)
        blind = rng.random(400) < probability
        wrong = rng.random(400) < np.where(hard, 0.2, 0.02)
        audits = [
            Audit(0.9, bool(b), float(p), bool(w) if b else None)
            for b, w, p in zip(blind, wrong, probability, strict=True)
        ]
        bound = error_bound(audits, ALPHA)
        assert bound.estimate is not None and bound.blind_rate is not None
        estimates.append(bound.estimate)
        plain.append(bound.blind_rate)
    standard_error = float(np.std(estimates)) / math.sqrt(len(estimates))
    assert abs(float(np.mean(estimates)) - truth) < 3 * standard_error
    assert float(np.mean(plain)) > truth + 0.05  # 0.147 expected: the weighting is what removes it


def old_rule_certifies(audits: list[Audit]) -> bool:
    """The rule this replaces: after every blind read from the 200th on, a Wilson 95% upper bound."""
    wrong = np.array([bool(a.erroneous) for a in audits if a.blind])
    n = np.arange(1, wrong.size + 1)
    errors = np.cumsum(wrong)
    z = 1.959964
    rate = errors / n
    upper = (rate + z * z / (2 * n) + z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))) / (
        1 + z * z / n
    )
    return bool((upper[199:] < TARGET).any())


@pytest.mark.slow
def test_looking_after_every_verdict_keeps_false_certification_below_alpha() -> None:
    """300 deployments whose error is exactly the target, judged by the function the service calls.
    Its verdict on the whole stream is the verdict of the first look that would have certified (the
    next test checks that), so this is the rate under a look after every verdict."""
    rng = np.random.default_rng(5)
    # Every case read blind, then half: enough reads for the repeated Wilson bound to show its rate.
    probability = np.where(np.arange(1500) < 750, 1.0, 0.5)
    new, old = 0, 0
    for _ in range(300):
        audits = stream(rng, 1500, TARGET, probability)
        new += certify_class(audits, DEFAULT_THRESHOLDS, TARGET, ALPHA).threshold is not None
        old += old_rule_certifies(audits)
    # Binomial(300, 0.05) exceeds 25 with probability about 5%; the bound is conservative, so the
    # observed count sits well below. The same streams catch the repeated Wilson bound.
    assert new / 300 <= ALPHA + 0.03
    assert old / 300 > ALPHA + 0.03


@pytest.mark.slow
def test_the_verdict_on_the_whole_stream_is_the_first_look_that_passes() -> None:
    rng = np.random.default_rng(6)
    checked = 0
    for _ in range(20):
        audits = stream(rng, 600, 0.01, 1.0)
        at = certified_after(audits, TARGET, ALPHA)
        if at is None:
            continue
        checked += 1
        assert certify_class(audits[: at - 1], (0.0,), TARGET, ALPHA).threshold is None
        for look in range(at, len(audits) + 1, 37):
            assert certify_class(audits[:look], (0.0,), TARGET, ALPHA).threshold == 0.0
        assert error_bound(audits[:at], ALPHA).upper <= TARGET < error_bound(audits[: at - 1], ALPHA).upper
    assert checked >= 15


def test_bounds_only_tighten_as_cases_arrive() -> None:
    audits = stream(np.random.default_rng(7), 1200, 0.03, two_phase(1200))
    bounds = [error_bound(audits[:n], ALPHA) for n in range(0, 1201, 100)]
    assert all(a.upper >= b.upper and a.lower <= b.lower for a, b in itertools.pairwise(bounds))
    assert bounds[-1].lower <= 0.03 <= bounds[-1].upper


def test_a_blind_read_still_waiting_holds_back_every_later_case() -> None:
    audits = [*correct(5), Audit(0.9, True, 0.2, None), *correct(7)]
    bound = error_bound(audits, ALPHA)
    assert (bound.cases, bound.waiting, bound.blind_reads) == (5, 8, 5)


def test_only_blind_reads_count_as_errors() -> None:
    """An answer someone looked at because they chose to is no evidence: only the draw makes it so."""
    looked_at = [Audit(0.9, False, 0.1, True) for _ in range(20)]
    bound = error_bound(looked_at, ALPHA)
    assert bound.errors == 0 and bound.estimate == 0.0 and bound.blind_reads == 0


def test_a_blind_error_weighs_one_over_its_probability() -> None:
    audits = [Audit(0.9, True, 0.25, True), *[Audit(0.9, False, 0.25, None) for _ in range(7)]]
    assert error_bound(audits, ALPHA).estimate == pytest.approx(4 / 8)


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError):
        Audit(0.9, True, 0.0, False)
    with pytest.raises(ValueError):
        certify_class(correct(5), (0.9, 0.95), TARGET, ALPHA)
    with pytest.raises(ValueError):
        error_bound(correct(5), 0.0)
