"""The patient-level sequestering of verified cases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from imaging_ai.persistence.cases import VerifiedCase
from imaging_ai.services.training.case_split import is_sequestered, split_cases


def case(patient: str | None, label: str = "normal") -> VerifiedCase:
    return VerifiedCase(
        prediction_id=uuid.uuid4(),
        image_id=uuid.uuid4(),
        content_sha256="0" * 64,
        site="s",
        patient_key=patient,
        predicted_label="normal",
        label=label,
        verdict_at=datetime.now(UTC),
    )


def test_about_one_patient_in_five_is_sequestered_and_a_patient_never_straddles() -> None:
    cases = [case(f"patient-{i // 3}") for i in range(3000)]  # three cases per patient
    split = split_cases(cases)
    fraction = len({c.patient_key for c in split.sequestered}) / 1000
    assert 0.16 < fraction < 0.24
    assert not {c.patient_key for c in split.training} & {c.patient_key for c in split.sequestered}


def test_the_split_is_deterministic_and_independent_of_the_other_cases() -> None:
    first = case("patient-42")
    again = case("patient-42", label="pneumonia")
    assert is_sequestered(first) == is_sequestered(again)
    alone = split_cases([first])
    crowd = split_cases([case("x"), first, case("y")])
    assert (first in alone.sequestered) == (first in crowd.sequestered)


def test_cases_without_a_patient_are_split_by_image() -> None:
    cases = [case(None) for _ in range(2000)]
    split = split_cases(cases)
    assert 0.16 < len(split.sequestered) / 2000 < 0.24
