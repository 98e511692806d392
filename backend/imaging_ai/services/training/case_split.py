"""The split of verified cases into a training part and a sequestered evaluation part.

Deterministic by patient: a keyed-by-nothing hash of the patient's pseudonymous key decides, so the
same patient always lands on the same side, for every job and every version, forever. About one
patient in five is sequestered; their cases are used only to judge candidates, never to train one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from imaging_ai.ml.manifest import stable_fraction
from imaging_ai.persistence.cases import VerifiedCase

SEQUESTERED_FRACTION = 0.2
_SPLIT_SEED = 20261127  # fixed for the life of a deployment: changing it would leak sequestered cases


def is_sequestered(case: VerifiedCase) -> bool:
    return is_sequestered_group(case.group)


def is_sequestered_group(group: str) -> bool:
    """``group``: a patient (`patient:<key>`) or, without one, an image (`image:<id>`)."""
    return stable_fraction(group, _SPLIT_SEED) < SEQUESTERED_FRACTION


@dataclass(frozen=True)
class CaseSplit:
    training: list[VerifiedCase]
    sequestered: list[VerifiedCase]


def split_cases(cases: Sequence[VerifiedCase]) -> CaseSplit:
    return CaseSplit(
        training=[case for case in cases if not is_sequestered(case)],
        sequestered=[case for case in cases if is_sequestered(case)],
    )


def counts_by_site_and_label(cases: Sequence[VerifiedCase]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = {}
    for case in cases:
        counts.setdefault(case.site or "unknown", Counter())[case.label] += 1
    return {site: dict(counter) for site, counter in sorted(counts.items())}
