"""The data recipe of an adaptation job, shared by the worker and the benchmarks.

From a site's verified training cases (never the sequestered ones: the caller leaves them out) and the
task's source training images:
- about 15% of the site's patients are held out for early stopping, calibration and the candidate's
  operating point at the site (fixed by patient, so a patient's images stay together);
- source images are replayed beside the site's cases (``replay_ratio`` per case, capped), a fixed
  seeded sample so the job is reproducible;
- when the held-out site cases are too few or one-labelled to steer early stopping, 100 further
  source images join the validation set.
The source *test* split is split by patient into a gate half (read by the promotion gate) and a report
half (reported on cards and in docs, never read by any decision).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from imaging_ai.ml.adaptation import AdaptationParams, concatenate, replay_count
from imaging_ai.ml.data import ImageSet
from imaging_ai.ml.manifest import ManifestItem, group_key, stable_fraction

MIN_TRAINING_CASES = 10
SITE_VALIDATION_FRACTION = 0.15
SITE_VALIDATION_SEED = 7
SOURCE_VALIDATION_SIZE = 100
MIN_SITE_VALIDATION = 20
SITE_THRESHOLD_MIN_CASES = 5
"""A site candidate's threshold at its site is chosen on its held-out site patients once they have this
many of each label. Fewer, and it would fall back to its validation set, whose source images set the
scale: measured on NIH, that threshold served a sensitivity of 0.125 where the site's own gave 0.875."""
SOURCE_HALVES_SEED = 20261203
"""Fixed forever: the gate half and the report half of the source test split must never swap."""


def refusal(cases: Sequence[ManifestItem]) -> str | None:
    """Why these verified training cases cannot make a candidate; None when they can."""
    labels = {item.label for item in cases}
    if len(cases) < MIN_TRAINING_CASES or len(labels) < 2:
        return (
            f"Not enough verified training cases: {len(cases)} with labels {sorted(labels)}; "
            f"at least {MIN_TRAINING_CASES} with two labels are needed."
        )
    return None


@dataclass(frozen=True)
class AdaptationPlan:
    site_train: list[ManifestItem]
    site_validation: list[ManifestItem]
    replay: list[ManifestItem]
    source_validation: list[ManifestItem]


def plan_adaptation(
    cases: Sequence[ManifestItem], source_train: Sequence[ManifestItem] | None, params: AdaptationParams
) -> AdaptationPlan:
    held_out = [
        c for c in cases if stable_fraction(group_key(c), SITE_VALIDATION_SEED) < SITE_VALIDATION_FRACTION
    ]
    kept = [
        c for c in cases if stable_fraction(group_key(c), SITE_VALIDATION_SEED) >= SITE_VALIDATION_FRACTION
    ]
    replay: list[ManifestItem] = []
    extra: list[ManifestItem] = []
    if source_train:
        ordered = sorted(source_train, key=lambda item: stable_fraction(str(item.path), params.seed))
        count = replay_count(len(kept), params) if params.replay_ratio > 0 else 0
        replay = ordered[:count]
        extra = ordered[count : count + SOURCE_VALIDATION_SIZE]
    return AdaptationPlan(site_train=kept, site_validation=held_out, replay=replay, source_validation=extra)


@dataclass
class AdaptationData:
    site_train: ImageSet
    site_validation: ImageSet
    validation: ImageSet
    """What early stopping, calibration and the version's own threshold are chosen on."""
    replay: ImageSet | None


Loader = Callable[[Sequence[ManifestItem]], ImageSet]


def load_plan(plan: AdaptationPlan, load: Loader) -> AdaptationData:
    site_train, site_validation = load(plan.site_train), load(plan.site_validation)
    replay = load(plan.replay) if plan.replay else None
    validation = site_validation
    labels_present = len(set(site_validation.labels.tolist()))
    if plan.source_validation and (len(site_validation) < MIN_SITE_VALIDATION or labels_present < 2):
        validation = concatenate(site_validation, load(plan.source_validation))
    return AdaptationData(site_train, site_validation, validation, replay)


def source_test_halves(test: Sequence[ManifestItem]) -> tuple[list[ManifestItem], list[ManifestItem]]:
    """(gate half, report half) of a source test split, by patient."""
    gate = [item for item in test if stable_fraction(group_key(item), SOURCE_HALVES_SEED) < 0.5]
    report = [item for item in test if stable_fraction(group_key(item), SOURCE_HALVES_SEED) >= 0.5]
    return gate, report
