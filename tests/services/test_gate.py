"""Each rule of the promotion gate, on hand-made paired comparisons."""

from __future__ import annotations

from imaging_ai.ml.comparison import Comparison
from imaging_ai.ml.tasks import TASKS
from imaging_ai.services.training.gate import GatePolicy, judge

POLICY = GatePolicy(noninferiority_margin=0.02, superiority_confidence=0.95, sensitivity_margin=0.05)
CXR = TASKS["chest-xray-pneumonia"]
MRI = TASKS["brain-mri-tumor"]


def comparison(
    name: str = "sequestered: site nih",
    *,
    active: float = 0.60,
    candidate: float = 0.75,
    low: float = 0.05,
    high: float = 0.25,
    better: float = 0.99,
    n: int = 40,
    sensitivity: tuple[float, float] = (0.85, 0.90),
) -> Comparison:
    return Comparison(
        cases=name,
        n=n,
        patients=n,
        counts_per_label={"normal": n // 2, "pneumonia": n - n // 2},
        active_auc=active,
        candidate_auc=candidate,
        auc_difference=round(candidate - active, 4),
        difference_ci95=(low, high),
        probability_better=better,
        active_threshold=0.5,
        candidate_threshold=0.4,
        active_sensitivity=sensitivity[0],
        candidate_sensitivity=sensitivity[1],
        active_specificity=0.5,
        candidate_specificity=0.6,
    )


SOURCE = comparison("source gate half", active=0.956, candidate=0.954, low=-0.01, high=0.006, better=0.3)


def test_proven_at_the_site_and_nowhere_worse_serves_the_site_and_becomes_the_default() -> None:
    decision = judge(CXR, site="nih", target=comparison(), others=[], source_gate=SOURCE, policy=POLICY)
    assert decision.promote_for_site and decision.promote_as_default
    assert decision.reason.startswith("promoted for site nih and as the task's default")
    assert decision.to_json()["target"]["difference_ci95"] == [0.05, 0.25]


def test_too_few_sequestered_cases_hold_it_back() -> None:
    decision = judge(CXR, site="nih", target=comparison(n=19), others=[], source_gate=SOURCE, policy=POLICY)
    assert not decision.promoted and "cannot prove" in decision.reason


def test_one_label_only_holds_it_back() -> None:
    one_label = comparison()
    one_label = Comparison(**{**one_label.__dict__, "counts_per_label": {"normal": 0, "pneumonia": 40}})
    decision = judge(CXR, site="nih", target=one_label, others=[], source_gate=SOURCE, policy=POLICY)
    assert not decision.promoted and "both labels" in decision.reason


def test_a_point_gain_that_resamples_do_not_confirm_is_held_back() -> None:
    noisy = comparison(active=0.70, candidate=0.74, low=-0.01, high=0.09, better=0.80)
    decision = judge(CXR, site="nih", target=noisy, others=[], source_gate=SOURCE, policy=POLICY)
    assert not decision.promoted and "not proven better" in decision.reason


def test_possibly_worse_beyond_the_margin_is_held_back() -> None:
    risky = comparison(active=0.70, candidate=0.72, low=-0.05, high=0.10, better=0.96)
    decision = judge(CXR, site="nih", target=risky, others=[], source_gate=SOURCE, policy=POLICY)
    assert not decision.promoted and "may be worse" in decision.reason


def test_losing_sensitivity_at_the_served_operating_point_is_held_back() -> None:
    blunt = comparison(sensitivity=(0.92, 0.83))
    decision = judge(CXR, site="nih", target=blunt, others=[], source_gate=SOURCE, policy=POLICY)
    assert not decision.promoted and "lower sensitivity" in decision.reason


def test_sensitivity_below_the_task_floor_is_held_back() -> None:
    floor = CXR.sensitivity_floor
    assert floor is not None
    low = comparison(sensitivity=(floor - 0.05, floor - 0.02))
    decision = judge(CXR, site="nih", target=low, others=[], source_gate=SOURCE, policy=POLICY)
    assert not decision.promoted and "floor" in decision.reason


def test_a_candidate_that_forgets_another_site_serves_its_site_but_is_not_the_default() -> None:
    forgets = comparison(
        "sequestered: site hannover", active=0.80, candidate=0.70, low=-0.18, high=-0.02, better=0.01
    )
    decision = judge(
        CXR, site="nih", target=comparison(), others=[forgets], source_gate=SOURCE, policy=POLICY
    )
    assert decision.promote_for_site and not decision.promote_as_default
    assert "not the default" in decision.reason and "hannover" in decision.reason


def test_another_site_with_too_few_cases_is_not_judged() -> None:
    small = comparison(
        "sequestered: site tiny", active=0.9, candidate=0.5, low=-0.6, high=-0.2, better=0.0, n=6
    )
    decision = judge(CXR, site="nih", target=comparison(), others=[small], source_gate=SOURCE, policy=POLICY)
    assert decision.promote_as_default


def test_forgetting_the_source_keeps_it_off_the_default() -> None:
    forgets = comparison("source gate half", active=0.956, candidate=0.90, low=-0.09, high=-0.03, better=0.0)
    decision = judge(CXR, site="nih", target=comparison(), others=[], source_gate=forgets, policy=POLICY)
    assert decision.promote_for_site and not decision.promote_as_default
    assert "source gate half" in decision.reason


def test_without_the_source_gate_set_nothing_becomes_the_default() -> None:
    decision = judge(CXR, site="nih", target=comparison(), others=[], source_gate=None, policy=POLICY)
    assert decision.promote_for_site and not decision.promote_as_default
    every_site = judge(CXR, site=None, target=comparison(), others=[], source_gate=None, policy=POLICY)
    assert not every_site.promoted and "unavailable" in every_site.reason


def test_a_job_without_a_site_can_only_change_the_default() -> None:
    decision = judge(
        CXR,
        site=None,
        target=comparison("sequestered: every site"),
        others=[],
        source_gate=SOURCE,
        policy=POLICY,
    )
    assert decision.promote_as_default and not decision.promote_for_site


def test_multi_label_tasks_are_judged_on_auc_alone() -> None:
    no_sensitivity = Comparison(
        **{**comparison().__dict__, "active_sensitivity": None, "candidate_sensitivity": None}
    )
    decision = judge(MRI, site="a", target=no_sensitivity, others=[], source_gate=SOURCE, policy=POLICY)
    assert decision.promote_for_site


def test_each_decision_records_its_looks() -> None:
    decision = judge(
        CXR, site="nih", target=comparison(), others=[], source_gate=SOURCE, policy=POLICY, looks=4
    )
    assert decision.looks == 4 and decision.to_json()["looks"] == 4
