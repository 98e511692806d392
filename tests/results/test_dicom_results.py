"""The result objects: a Structured Report that references the source by its stored (pseudonymised) UIDs
and says what the model answered, and a heatmap image; neither carries patient identity."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import numpy as np
import pydicom
from PIL import Image as PILImage
from pydicom.dataset import Dataset

from imaging_ai.imaging.deidentify import deidentify_dicom
from imaging_ai.services.results.dicom_results import (
    ResultFacts,
    SourceInstance,
    build_result_objects,
)
from imaging_ai.services.results.stow import encode
from tests import samples
from tests.results.conftest import heatmap_png

PATIENT_NAME = "Doe^Jane^Results"
PATIENT_ID = "MRN-RESULTS-778899"


def _deidentified_source() -> tuple[Dataset, Dataset]:
    """The original (identity planted) and the de-identified file the product stores."""
    data = samples.with_identity(
        samples.CR_UNCOMPRESSED, patient_name=PATIENT_NAME, patient_id=PATIENT_ID, institution="St Results"
    )
    stored = deidentify_dicom(data, key=b"test-pseudonym-key").data
    return pydicom.dcmread(io.BytesIO(data)), pydicom.dcmread(io.BytesIO(stored))


def _facts(stored: Dataset, *, final: bool = True, verdicts: int = 1) -> ResultFacts:
    reviewer = uuid.UUID("11111111-2222-3333-4444-555555555555")
    return ResultFacts(
        prediction_id=uuid.UUID("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
        task="chest-xray-pneumonia",
        labels=("normal", "pneumonia"),
        probabilities={"normal": 0.1234, "pneumonia": 0.8766},
        predicted_label="pneumonia",
        decision_threshold=0.37,
        operating_point="site",
        model_version="chest-xray-pneumonia.v1",
        site="north",
        final=final,
        finalised_by=f"clinician:{reviewer}" if final else None,
        verdict="agree" if final else None,
        label_of_record="pneumonia" if final else None,
        source=SourceInstance(
            study_instance_uid=str(stored.StudyInstanceUID),
            series_instance_uid=str(stored.SeriesInstanceUID),
            sop_instance_uid=str(stored.SOPInstanceUID),
            sop_class_uid=str(stored.SOPClassUID),
            modality=str(stored.Modality),
        ),
        verdicts=verdicts if final else 0,
    )


def _items(sequence: Iterator[Dataset] | list[Dataset]) -> Iterator[Dataset]:
    for item in sequence:
        yield item
        if "ContentSequence" in item:
            yield from _items(item.ContentSequence)


def _by_meaning(report: Dataset) -> dict[str, Dataset]:
    return {item.ConceptNameCodeSequence[0].CodeMeaning: item for item in _items(report.ContentSequence)}


def test_report_references_the_stored_source_and_says_what_the_model_answered() -> None:
    _original, stored = _deidentified_source()
    objects = build_result_objects(_facts(stored), heatmap_png())
    report = pydicom.dcmread(io.BytesIO(encode(objects.report)))

    assert report.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33"  # Comprehensive SR
    # Same (pseudonymised) study, a series and instance of its own.
    assert report.StudyInstanceUID == stored.StudyInstanceUID
    assert report.SeriesInstanceUID not in (stored.SeriesInstanceUID, objects.heatmap.SeriesInstanceUID)
    assert report.SOPInstanceUID != stored.SOPInstanceUID
    assert report.CompletionFlag == "COMPLETE" and report.PreliminaryFlag == "FINAL"

    # Evidence: the source image and the heatmap, in the study's evidence sequence.
    evidence = {
        instance.ReferencedSOPInstanceUID: instance.ReferencedSOPClassUID
        for study in report.CurrentRequestedProcedureEvidenceSequence
        for series in study.ReferencedSeriesSequence
        for instance in series.ReferencedSOPSequence
    }
    assert evidence[stored.SOPInstanceUID] == stored.SOPClassUID
    assert objects.heatmap.SOPInstanceUID in evidence

    content = _by_meaning(report)
    source = content["Source"].ReferencedSOPSequence[0]
    assert (source.ReferencedSOPClassUID, source.ReferencedSOPInstanceUID) == (
        stored.SOPClassUID,
        stored.SOPInstanceUID,
    )
    heatmap = content["Class activation heatmap"].ReferencedSOPSequence[0]
    assert heatmap.ReferencedSOPInstanceUID == objects.heatmap.SOPInstanceUID
    assert content["Finding"].ConceptCodeSequence[0].CodeMeaning == "pneumonia"
    assert float(content["Probability of normal"].MeasuredValueSequence[0].NumericValue) == 0.1234
    assert float(content["Probability of pneumonia"].MeasuredValueSequence[0].NumericValue) == 0.8766
    assert float(content["Decision threshold"].MeasuredValueSequence[0].NumericValue) == 0.37
    assert content["Operating point"].TextValue == "site"
    assert content["Algorithm Name"].TextValue == "imaging-ai/chest-xray-pneumonia"
    assert content["Algorithm Version"].TextValue == "chest-xray-pneumonia.v1"
    assert content["Result status"].TextValue == "FINAL"
    assert content["Finalised by"].TextValue == "clinician:11111111-2222-3333-4444-555555555555"
    assert content["Clinician verdict"].TextValue == "agree"
    assert content["Label of record"].ConceptCodeSequence[0].CodeMeaning == "pneumonia"
    assert content["Site"].TextValue == "north"
    assert content["Prediction identifier"].TextValue == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def test_neither_object_carries_patient_identity_or_the_original_uids() -> None:
    original, stored = _deidentified_source()
    objects = build_result_objects(_facts(stored), heatmap_png())
    for dataset in objects.datasets:
        data = encode(dataset)
        read = pydicom.dcmread(io.BytesIO(data))
        assert str(read.get("PatientName", "")) == "" and str(read.get("PatientID", "")) == ""
        assert str(read.get("PatientBirthDate", "")) == ""
        assert read.PatientIdentityRemoved == "YES"
        for secret in (
            PATIENT_NAME,
            PATIENT_ID,
            "St Results",
            "19510704",
            original.StudyInstanceUID,
            original.SeriesInstanceUID,
            original.SOPInstanceUID,
        ):
            assert secret.encode() not in data, secret


def test_heatmap_is_an_rgb_secondary_capture_in_the_study_that_decodes_to_the_overlay() -> None:
    _original, stored = _deidentified_source()
    png = heatmap_png((40, 56))
    objects = build_result_objects(_facts(stored), png)
    image = pydicom.dcmread(io.BytesIO(encode(objects.heatmap)))
    assert image.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
    assert image.PhotometricInterpretation == "RGB" and image.SamplesPerPixel == 3
    assert image.StudyInstanceUID == stored.StudyInstanceUID
    assert image.SeriesInstanceUID != stored.SeriesInstanceUID
    assert image.SourceImageSequence[0].ReferencedSOPInstanceUID == stored.SOPInstanceUID
    expected = np.asarray(PILImage.open(io.BytesIO(png)).convert("RGB"))
    assert np.array_equal(image.pixel_array, expected)


def test_uids_are_stable_per_revision_and_new_for_a_final_or_corrected_result() -> None:
    _original, stored = _deidentified_source()
    preliminary = build_result_objects(_facts(stored, final=False), heatmap_png())
    again = build_result_objects(_facts(stored, final=False), heatmap_png())
    final = build_result_objects(_facts(stored, final=True, verdicts=1), heatmap_png())
    corrected = build_result_objects(_facts(stored, final=True, verdicts=2), heatmap_png())
    # A retry sends the same instances; a new revision sends new ones, in the same series.
    assert preliminary.sop_instance_uids == again.sop_instance_uids
    assert len({uid for o in (preliminary, final, corrected) for uid in o.sop_instance_uids}) == 6
    assert preliminary.report.SeriesInstanceUID == final.report.SeriesInstanceUID
    report = preliminary.report
    assert report.CompletionFlag == "PARTIAL" and report.PreliminaryFlag == "PRELIMINARY"
    assert _by_meaning(report)["Result status"].TextValue == "PRELIMINARY"
    assert "Finalised by" not in _by_meaning(report)
