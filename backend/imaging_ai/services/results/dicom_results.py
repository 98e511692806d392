"""The DICOM objects a prediction's result is sent as: a Structured Report and a heatmap image.

Pure construction from the records and the heatmap's PNG bytes (no database, no files, no network):

- a Comprehensive SR whose content tree holds the finding (the predicted label, coded), each label's
  probability, the decision threshold and operating point it was served at, the model version
  (algorithm identification: name and version), whether the result is preliminary or final and what
  made it final (the autonomous rule, or a clinician's verdict, named by the clinician's user id, never
  their name), the clinician's verdict and label of record, the site and the product's prediction id;
  it references the source image by its SOP class and instance UIDs (content and evidence sequence);
- a Secondary Capture image (RGB) of the Grad-CAM overlay, referencing the source image too.

Both belong to the source's study (the *pseudonymised* Study Instance UID stored at ingest), each in a
new series of its own. Patient and study attributes are the de-identified source's: identity and dates
emptied (PS3.15 basic profile), so the objects carry no patient identity. UIDs are derived from the
prediction id and the revision (preliminary or final), so a retried delivery sends the same instances
(a PACS that already stored them keeps one copy) and a final result gets new ones.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import highdicom as hd
import numpy as np
from PIL import Image as PILImage
from pydicom.dataset import Dataset
from pydicom.uid import SecondaryCaptureImageStorage

MANUFACTURER = "Imaging AI"
ALGORITHM_NAME_PREFIX = "imaging-ai"
CODING_SCHEME = "99IMGAI"
"""A private coding scheme (the `99` prefix, PS3.16 8.2) for the concepts without a standard code."""

SR_SERIES_NUMBER = 9901
HEATMAP_SERIES_NUMBER = 9902

# A fixed namespace (uuid5(NAMESPACE_URL, "https://imaging-ai.invalid/dicom-results")), so the UIDs of a
# prediction's result are the same on every worker and every retry.
_UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://imaging-ai.invalid/dicom-results")

_NO_UNITS = hd.sr.CodedConcept("1", "UCUM", "no units")
REPORT_TITLE = hd.sr.CodedConcept("18748-4", "LN", "Diagnostic imaging report")
FINDING = hd.sr.CodedConcept("121071", "DCM", "Finding")
SOURCE = hd.sr.CodedConcept("260753009", "SCT", "Source")
HEATMAP = hd.sr.CodedConcept("IAI-HEATMAP", CODING_SCHEME, "Class activation heatmap")
THRESHOLD = hd.sr.CodedConcept("IAI-THRESHOLD", CODING_SCHEME, "Decision threshold")
OPERATING_POINT = hd.sr.CodedConcept("IAI-OPPOINT", CODING_SCHEME, "Operating point")
RESULT_STATUS = hd.sr.CodedConcept("IAI-STATUS", CODING_SCHEME, "Result status")
FINALISED_BY = hd.sr.CodedConcept("IAI-FINAL-BY", CODING_SCHEME, "Finalised by")
VERDICT = hd.sr.CodedConcept("IAI-VERDICT", CODING_SCHEME, "Clinician verdict")
LABEL_OF_RECORD = hd.sr.CodedConcept("IAI-LABEL", CODING_SCHEME, "Label of record")
SITE = hd.sr.CodedConcept("IAI-SITE", CODING_SCHEME, "Site")
PREDICTION_ID = hd.sr.CodedConcept("IAI-PRED-ID", CODING_SCHEME, "Prediction identifier")
TASK = hd.sr.CodedConcept("IAI-TASK", CODING_SCHEME, "Task")


def probability_concept(index: int, label: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(f"IAI-PROB-{index}", CODING_SCHEME, f"Probability of {label}")


def label_code(label: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(label[:16], CODING_SCHEME, label)


class NotReferenceableError(ValueError):
    """The source image has no DICOM identity (a PNG or JPEG upload): there is no study to attach to."""


@dataclass(frozen=True)
class SourceInstance:
    """The stored source image's (pseudonymised) identity."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    modality: str | None = None


@dataclass(frozen=True)
class ResultFacts:
    """Everything a result says, read from the prediction, its image, its version and its verdicts."""

    prediction_id: uuid.UUID
    task: str
    labels: tuple[str, ...]
    probabilities: Mapping[str, float]
    predicted_label: str
    decision_threshold: float | None
    operating_point: str
    model_version: str
    site: str | None
    final: bool
    finalised_by: str | None
    """`rule:...` (the autonomy rule), `clinician:<user id>` (a verdict), or None (preliminary)."""
    verdict: str | None
    label_of_record: str | None
    source: SourceInstance
    verdicts: int = 0
    """How many verdicts the prediction has had: each one makes a new final revision (a correction)."""

    @property
    def revision(self) -> str:
        return f"final-{self.verdicts}" if self.final else "preliminary"

    @property
    def instance_number(self) -> int:
        return self.verdicts + 2 if self.final else 1


@dataclass(frozen=True)
class ResultObjects:
    report: Dataset
    heatmap: Dataset

    @property
    def datasets(self) -> list[Dataset]:
        # The heatmap first: a PACS that stores in order then holds what the report references.
        return [self.heatmap, self.report]

    @property
    def sop_instance_uids(self) -> list[str]:
        return [str(dataset.SOPInstanceUID) for dataset in self.datasets]


def result_uid(prediction_id: uuid.UUID, kind: str) -> str:
    """A UID under 2.25 (PS3.5 B.2) derived from the prediction and the object's kind."""
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, f'{prediction_id}/{kind}').int}"


def source_header(source: SourceInstance) -> Dataset:
    """The source instance as the stored, de-identified file describes its patient and study: the
    identifying attributes are present but empty (the basic profile's `Z` action), as in that file."""
    dataset = Dataset()
    dataset.SOPClassUID = source.sop_class_uid
    dataset.SOPInstanceUID = source.sop_instance_uid
    dataset.StudyInstanceUID = source.study_instance_uid
    dataset.SeriesInstanceUID = source.series_instance_uid
    dataset.Modality = source.modality or "OT"
    for keyword in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyDate",
        "StudyTime",
        "StudyID",
        "AccessionNumber",
        "ReferringPhysicianName",
    ):
        setattr(dataset, keyword, "")
    dataset.PatientIdentityRemoved = "YES"
    return dataset


def build_result_objects(facts: ResultFacts, heatmap_png: bytes) -> ResultObjects:
    source = source_header(facts.source)
    heatmap = _heatmap_image(facts, source, heatmap_png)
    report = _report(facts, source, heatmap)
    return ResultObjects(report=report, heatmap=heatmap)


def _heatmap_image(facts: ResultFacts, source: Dataset, heatmap_png: bytes) -> Dataset:
    with PILImage.open(io.BytesIO(heatmap_png)) as picture:
        pixels = np.asarray(picture.convert("RGB"), dtype=np.uint8)
    image = hd.sc.SCImage(
        pixel_array=pixels,
        photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
        bits_allocated=8,
        coordinate_system=hd.CoordinateSystemNames.PATIENT,
        # Required by the library for a patient image; emptied below: the source's orientation is not
        # stored, and an empty (type 2) value says unknown rather than inventing one.
        patient_orientation=("L", "F"),
        study_instance_uid=facts.source.study_instance_uid,
        series_instance_uid=result_uid(facts.prediction_id, "heatmap-series"),
        series_number=HEATMAP_SERIES_NUMBER,
        sop_instance_uid=result_uid(facts.prediction_id, f"heatmap/{facts.revision}"),
        instance_number=facts.instance_number,
        manufacturer=MANUFACTURER,
        patient_id=None,
        patient_name=None,
        patient_birth_date=None,
        patient_sex=None,
        accession_number=None,
        study_id=None,
        study_date=None,
        study_time=None,
        referring_physician_name=None,
    )
    image.SeriesDescription = f"AI heatmap (Grad-CAM) {facts.model_version}"[:64]
    image.ImageType = ["DERIVED", "SECONDARY"]
    del image.PatientOrientation
    image.add_new(0x00200020, "CS", "")  # Patient Orientation, empty: unknown
    image.BurnedInAnnotation = "NO"
    image.PatientIdentityRemoved = "YES"
    image.ImageComments = (
        f"Grad-CAM of {facts.predicted_label} by {facts.model_version}; "
        f"{facts.revision}; not a diagnostic image"
    )
    image.DerivationDescription = "Grad-CAM class activation map blended over the source image"
    reference = Dataset()
    reference.ReferencedSOPClassUID = facts.source.sop_class_uid
    reference.ReferencedSOPInstanceUID = facts.source.sop_instance_uid
    image.SourceImageSequence = [reference]
    _copy_empty_identity(source, image)
    return image


def _copy_empty_identity(source: Dataset, target: Dataset) -> None:
    # The de-identified source's (empty) identity and study attributes, type 2 in both IODs.
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime"):
        setattr(target, keyword, getattr(source, keyword))


def _report(facts: ResultFacts, source: Dataset, heatmap: Dataset) -> Dataset:
    contains = hd.sr.RelationshipTypeValues.CONTAINS
    modifier = hd.sr.RelationshipTypeValues.HAS_CONCEPT_MOD
    items: list[hd.sr.ContentItem] = []
    algorithm = hd.sr.AlgorithmIdentification(
        name=f"{ALGORITHM_NAME_PREFIX}/{facts.task}", version=facts.model_version
    )
    items.extend(cast("list[hd.sr.ContentItem]", list(algorithm)))
    items.append(hd.sr.TextContentItem(TASK, facts.task, modifier))
    items.append(hd.sr.CodeContentItem(FINDING, label_code(facts.predicted_label), contains))
    for index, label in enumerate(facts.labels):
        items.append(
            hd.sr.NumContentItem(
                probability_concept(index, label),
                round(float(facts.probabilities[label]), 6),
                _NO_UNITS,
                relationship_type=contains,
            )
        )
    if facts.decision_threshold is not None:
        items.append(
            hd.sr.NumContentItem(
                THRESHOLD, round(float(facts.decision_threshold), 6), _NO_UNITS, relationship_type=contains
            )
        )
    items.append(hd.sr.TextContentItem(OPERATING_POINT, facts.operating_point, contains))
    items.append(hd.sr.TextContentItem(RESULT_STATUS, "FINAL" if facts.final else "PRELIMINARY", contains))
    if facts.finalised_by is not None:
        items.append(hd.sr.TextContentItem(FINALISED_BY, facts.finalised_by, contains))
    if facts.verdict is not None:
        items.append(hd.sr.TextContentItem(VERDICT, facts.verdict, contains))
    if facts.label_of_record is not None:
        items.append(hd.sr.CodeContentItem(LABEL_OF_RECORD, label_code(facts.label_of_record), contains))
    if facts.site is not None:
        items.append(hd.sr.TextContentItem(SITE, facts.site, contains))
    items.append(hd.sr.TextContentItem(PREDICTION_ID, str(facts.prediction_id), contains))
    items.append(
        hd.sr.ImageContentItem(
            SOURCE,
            referenced_sop_class_uid=facts.source.sop_class_uid,
            referenced_sop_instance_uid=facts.source.sop_instance_uid,
            relationship_type=contains,
        )
    )
    items.append(
        hd.sr.ImageContentItem(
            HEATMAP,
            referenced_sop_class_uid=SecondaryCaptureImageStorage,
            referenced_sop_instance_uid=str(heatmap.SOPInstanceUID),
            relationship_type=contains,
        )
    )
    root = hd.sr.ContainerContentItem(REPORT_TITLE, template_id=None)
    root.ContentSequence = hd.sr.ContentSequence(items)
    report = hd.sr.ComprehensiveSR(
        evidence=[source, heatmap],
        content=root,
        series_instance_uid=result_uid(facts.prediction_id, "report-series"),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=result_uid(facts.prediction_id, f"report/{facts.revision}"),
        instance_number=facts.instance_number,
        manufacturer=MANUFACTURER,
        is_complete=facts.final,
        is_final=facts.final,
        # Not `VERIFIED`: that names a verifying observer, and the report names no person.
        is_verified=False,
    )
    report.SeriesDescription = f"AI result {facts.model_version}"[:64]
    report.PatientIdentityRemoved = "YES"
    return report
