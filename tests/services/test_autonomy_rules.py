"""The autonomy rules as plain functions: the recommendation from per-label certification and the drift
test, and what a level in force finalises (the HTTP tests in tests/api/test_autonomy.py exercise them
end to end)."""

from __future__ import annotations

from imaging_ai.ml.certification import ClassCertification, ErrorBound, ThresholdStep
from imaging_ai.ml.tasks import TASKS
from imaging_ai.services.trust.autonomy import LevelInForce, recommend
from imaging_ai.services.trust.certification import EVERY_CASE, ClassEvidence
from imaging_ai.services.trust.drift import DriftReport
from imaging_ai.vocabulary import AutonomyLevel

CXR = TASKS["chest-xray-pneumonia"]
QUIET = DriftReport(
    site="ward", drifted=False, statistic=1.0, threshold=8.0, images=300, which=None, out_of_distribution=0
)
DRIFTED = DriftReport(
    site="ward",
    drifted=True,
    statistic=9.5,
    threshold=8.0,
    images=300,
    which="features",
    out_of_distribution=4,
)


def _bound(upper: float) -> ErrorBound:
    return ErrorBound(
        cases=400,
        blind_reads=80,
        errors=2,
        waiting=0,
        estimate=0.02,
        blind_rate=0.025,
        upper=upper,
        lower=0.0,
    )


def _evidence(label: str, certified: float | None) -> ClassEvidence:
    """A label certified down to `certified` (None: its first step failed)."""
    if certified is None:
        steps = [ThresholdStep(0.995, _bound(0.4), certified=False)]
    else:
        steps = [ThresholdStep(certified, _bound(0.03), certified=True)]
    certification = ClassCertification(target=0.05, alpha=0.05, threshold=certified, steps=steps)
    return ClassEvidence(label, 0.05, 0.05, certification, None, None, exceeded=False)


def _level(level: AutonomyLevel, thresholds: dict[str, float | None] | None = None) -> LevelInForce:
    return LevelInForce(level, thresholds or {}, 0.2, "site", "v1", "admin", None, None)


SUPERVISED = _level(AutonomyLevel.supervised)
SEMI = _level(AutonomyLevel.semi_autonomous, {"pneumonia": 0.9})


def test_no_serving_version_or_drift_keeps_a_site_supervised() -> None:
    certified = [_evidence("normal", EVERY_CASE), _evidence("pneumonia", EVERY_CASE)]
    assert recommend(SEMI, certified, None).level is AutonomyLevel.supervised
    drifted = recommend(SEMI, certified, DRIFTED)
    assert drifted.level is AutonomyLevel.supervised and "drift test fired" in drifted.reason
    assert drifted.class_thresholds == {}


def test_one_certified_label_supports_semi_autonomy_for_that_label_only() -> None:
    result = recommend(SUPERVISED, [_evidence("normal", None), _evidence("pneumonia", 0.9)], QUIET)
    assert result.level is AutonomyLevel.semi_autonomous
    assert result.class_thresholds == {"normal": None, "pneumonia": 0.9}
    assert "pneumonia: certified at confidence >= 0.9" in result.reason
    assert "normal: not certified" in result.reason


def test_nothing_certified_stays_supervised() -> None:
    result = recommend(SUPERVISED, [_evidence("normal", None), _evidence("pneumonia", None)], QUIET)
    assert result.level is AutonomyLevel.supervised and result.class_thresholds == {}


def test_autonomy_is_recommended_only_from_semi_autonomy_with_every_answer_certified() -> None:
    everything = [_evidence("normal", EVERY_CASE), _evidence("pneumonia", EVERY_CASE)]
    assert recommend(SEMI, everything, QUIET).level is AutonomyLevel.autonomous
    # From supervised the same evidence earns one step only.
    assert recommend(SUPERVISED, everything, QUIET).level is AutonomyLevel.semi_autonomous
    # One label certified only on its confident answers is not every answer.
    partly = [_evidence("normal", EVERY_CASE), _evidence("pneumonia", 0.5)]
    assert recommend(SEMI, partly, QUIET).level is AutonomyLevel.semi_autonomous


def test_a_level_finalises_only_what_it_certified() -> None:
    assert not SUPERVISED.finalises("pneumonia", 0.999)
    assert SEMI.finalises("pneumonia", 0.9) and not SEMI.finalises("pneumonia", 0.89)
    assert not SEMI.finalises("normal", 0.999)  # no threshold for this label
    assert _level(AutonomyLevel.autonomous).finalises("normal", 0.51)
    assert SEMI.thresholds_in_force(CXR) == {"normal": None, "pneumonia": 0.9}
    assert _level(AutonomyLevel.autonomous).thresholds_in_force(CXR) == {
        "normal": EVERY_CASE,
        "pneumonia": EVERY_CASE,
    }


def test_levels_are_ordered() -> None:
    assert [level.rank for level in AutonomyLevel] == [0, 1, 2]
    assert list(AutonomyLevel) == [
        AutonomyLevel.supervised,
        AutonomyLevel.semi_autonomous,
        AutonomyLevel.autonomous,
    ]
