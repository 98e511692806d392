"""Each rule of the promotion gate, on hand-made evaluations."""

from __future__ import annotations

from typing import Any

from imaging_ai.services.promotion import GatePolicy, judge

POLICY = GatePolicy(source_margin=0.01, min_sequestered=20)


def pair(active: float, candidate: float, n: int = 50) -> dict[str, Any]:
    return {"active": {"auc": active, "n": n}, "candidate": {"auc": candidate, "n": n}}


def test_better_and_not_forgetting_is_promoted() -> None:
    decision = judge(sequestered=pair(0.60, 0.75), source=pair(0.956, 0.950), policy=POLICY)
    assert decision.promote and decision.reason.startswith("promoted")


def test_too_few_sequestered_cases_hold_it_back() -> None:
    decision = judge(sequestered=pair(0.60, 0.95, n=19), source=pair(0.956, 0.956), policy=POLICY)
    assert not decision.promote and "cannot prove" in decision.reason


def test_not_better_on_sequestered_cases_holds_it_back() -> None:
    decision = judge(sequestered=pair(0.75, 0.75), source=pair(0.956, 0.960), policy=POLICY)
    assert not decision.promote and "not better" in decision.reason


def test_forgetting_the_source_holds_it_back() -> None:
    decision = judge(sequestered=pair(0.60, 0.90), source=pair(0.956, 0.945), policy=POLICY)
    assert not decision.promote and "forgets the source" in decision.reason


def test_the_margin_is_measured_from_the_base_version_too() -> None:
    # The active version already lost 0.009; another 0.009 would pass against it, not against the base.
    decision = judge(
        sequestered=pair(0.70, 0.80), source=pair(0.947, 0.938), policy=POLICY, root_source_auc=0.956
    )
    assert not decision.promote and "forgets the source" in decision.reason
    ok = judge(sequestered=pair(0.70, 0.80), source=pair(0.947, 0.947), policy=POLICY, root_source_auc=0.956)
    assert ok.promote


def test_a_site_that_gets_worse_holds_it_back() -> None:
    sequestered = {**pair(0.60, 0.80, n=80), "sites": {"a": pair(0.5, 0.9, n=40), "b": pair(0.8, 0.7, n=40)}}
    decision = judge(sequestered=sequestered, source=pair(0.956, 0.956), policy=POLICY)
    assert not decision.promote and "worse at site b" in decision.reason


def test_without_the_source_test_set_nothing_is_promoted() -> None:
    decision = judge(sequestered=pair(0.60, 0.90), source=None, policy=POLICY)
    assert not decision.promote and "unavailable" in decision.reason
