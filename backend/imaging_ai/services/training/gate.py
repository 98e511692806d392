"""The promotion gate: does a candidate serve a site better than the version serving it now, and may it
also become the task's default without costing any other site or the source?

The rules (reasons in docs/adaptation.md), each on a paired, patient-clustered comparison of the
candidate and the active version on the same cases (`ml/comparison.py`):

For the site (or, for a job without a site, all sequestered cases pooled):
1. enough sequestered cases: at least ``min_sequestered`` with both labels;
2. non-inferior: the lower 95% bound of the AUC difference is above ``-noninferiority_margin``;
3. better in expectation: the candidate's AUC is higher in at least ``superiority_confidence`` of the
   patient resamples (a one-sided test at 1 - that level, so equal versions pass about 5% of the time);
4. two-label tasks: its sensitivity at the operating point it would serve is no more than
   ``sensitivity_margin`` below the active version's at its own, and not below the task's floor.

For the default, additionally: rules 2 and 4 on the source gate half and on every other site with
enough sequestered cases. The report half of the source test split is never an input here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from imaging_ai.ml.comparison import Comparison
from imaging_ai.ml.tasks import TaskSpec


@dataclass(frozen=True)
class GatePolicy:
    noninferiority_margin: float = 0.02
    superiority_confidence: float = 0.95
    sensitivity_margin: float = 0.05
    min_sequestered: int = 20


@dataclass(frozen=True)
class GateDecision:
    promote_for_site: bool
    """The candidate serves the job's site from now on (for a job without a site: always false)."""
    promote_as_default: bool
    """The candidate becomes the task's default, serving every site without a version of its own."""
    reason: str
    site: str | None
    target: Comparison | None
    others: tuple[Comparison, ...]
    policy: GatePolicy
    looks: int = 1
    """Comparisons made so far on this site's sequestered cases, this one included."""

    @property
    def promoted(self) -> bool:
        return self.promote_for_site or self.promote_as_default

    def to_json(self) -> dict[str, Any]:
        return {
            "promote_for_site": self.promote_for_site,
            "promote_as_default": self.promote_as_default,
            "reason": self.reason,
            "site": self.site,
            "target": self.target.to_json() if self.target else None,
            "others": [comparison.to_json() for comparison in self.others],
            "policy": asdict(self.policy),
            "looks": self.looks,
        }


def _enough(comparison: Comparison, policy: GatePolicy) -> bool:
    return comparison.n >= policy.min_sequestered and comparison.has_both_labels


def _noninferior(comparison: Comparison, policy: GatePolicy) -> str | None:
    """None when non-inferior in AUC; else why not."""
    if comparison.difference_ci95 is None:
        return f"no AUC difference on {comparison.cases} (one label only?)"
    low = comparison.difference_ci95[0]
    if low <= -policy.noninferiority_margin:
        return (
            f"may be worse on {comparison.cases}: AUC difference {comparison.auc_difference:+.3f}, "
            f"95% interval from {low:+.3f} (margin -{policy.noninferiority_margin})"
        )
    return None


def _sensitivity_kept(comparison: Comparison, task: TaskSpec, policy: GatePolicy) -> str | None:
    candidate, active = comparison.candidate_sensitivity, comparison.active_sensitivity
    if not task.is_binary or candidate is None:
        return None
    if active is not None and candidate < active - policy.sensitivity_margin:
        return (
            f"lower sensitivity on {comparison.cases} at the operating point it would serve "
            f"({candidate:.3f} vs {active:.3f}, margin {policy.sensitivity_margin})"
        )
    if task.sensitivity_floor is not None and candidate < task.sensitivity_floor:
        return (
            f"sensitivity on {comparison.cases} {candidate:.3f} is below the task's floor "
            f"{task.sensitivity_floor}"
        )
    return None


def judge(
    task: TaskSpec,
    *,
    site: str | None,
    target: Comparison | None,
    others: Sequence[Comparison],
    source_gate: Comparison | None,
    policy: GatePolicy,
    looks: int = 1,
) -> GateDecision:
    """``target``: the site's sequestered cases (pooled for a job without a site); ``others``: every other
    site's sequestered cases; ``source_gate``: the gate half of the source test split, if available."""
    all_others = tuple(others) + ((source_gate,) if source_gate is not None else ())

    def decide(for_site: bool, as_default: bool, reason: str) -> GateDecision:
        return GateDecision(for_site, as_default, reason, site, target, all_others, policy, looks)

    where = f"site {site}" if site else "the pooled sequestered cases"
    if target is None or not _enough(target, policy):
        n = target.n if target else 0
        return decide(
            False,
            False,
            f"held back: {n} sequestered cases at {where} (both labels needed, at least "
            f"{policy.min_sequestered}) cannot prove the candidate better yet",
        )
    refusal = _noninferior(target, policy) or _sensitivity_kept(target, task, policy)
    if refusal is not None:
        return decide(False, False, f"held back: {refusal}")
    assert target.probability_better is not None
    if target.probability_better < policy.superiority_confidence:
        return decide(
            False,
            False,
            f"held back: not proven better at {where} (AUC {target.candidate_auc:.3f} vs "
            f"{target.active_auc:.3f}; better in {target.probability_better:.0%} of patient resamples, "
            f"{policy.superiority_confidence:.0%} needed)",
        )
    proven = (
        f"AUC {target.candidate_auc:.3f} vs {target.active_auc:.3f} at {where} (better in "
        f"{target.probability_better:.0%} of patient resamples, n={target.n})"
    )
    blockers = []
    if source_gate is None:
        blockers.append("the source gate set is unavailable, so forgetting cannot be ruled out")
    for comparison in all_others:
        if comparison is not source_gate and not _enough(comparison, policy):
            continue
        problem = _noninferior(comparison, policy) or _sensitivity_kept(comparison, task, policy)
        if problem is not None:
            blockers.append(problem)
    for_site = site is not None
    if blockers:
        if for_site:
            return decide(True, False, f"promoted for site {site}: {proven}; not the default: {blockers[0]}")
        return decide(False, False, f"held back: {blockers[0]}")
    scope = f"for site {site} and as the task's default" if for_site else "as the task's default"
    return decide(
        for_site, True, f"promoted {scope}: {proven}; non-inferior on every other site and the source"
    )
