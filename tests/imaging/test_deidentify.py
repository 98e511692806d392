"""DICOM de-identification: PS3.15 Basic Profile actions, deterministic keyed UIDs, intact pixels."""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pydicom
import pytest
from pydicom import dcmwrite
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ImplicitVRLittleEndian

from imaging_ai.imaging import DeidentifiedDicom, decode_image, deidentify_dicom
from tests.imaging.helpers import KEY, MAX_PIXELS, dicom_bytes, dicom_image_rows, read_dataset, to_bytes

IMAGE_PATHS = [row["path"] for row in dicom_image_rows()]

# Attributes the profile empties (Z) or removes (X); either way no value may remain.


def keywords(text: str) -> list[str]:
    return text.split()


NO_VALUE = keywords(
    "PatientName PatientID PatientBirthDate PatientBirthTime PatientSex PatientAge PatientSize PatientWeight "
    "PatientAddress PatientTelephoneNumbers OtherPatientIDs OtherPatientNames OtherPatientIDsSequence "
    "PatientMotherBirthName MedicalRecordLocator EthnicGroup ReferringPhysicianName PerformingPhysicianName "
    "NameOfPhysiciansReadingStudy OperatorsName PhysiciansOfRecord RequestingPhysician InstitutionName "
    "InstitutionAddress InstitutionalDepartmentName StationName AccessionNumber StudyID StudyDate SeriesDate "
    "AcquisitionDate ContentDate StudyTime SeriesTime AcquisitionTime ContentTime AcquisitionDateTime "
    "DeviceSerialNumber RequestAttributesSequence AdmittingDiagnosesDescription AdditionalPatientHistory "
    "PatientComments ImageComments StudyDescription SeriesDescription ProtocolName"
)

# What the decoder and the models need, and the profile keeps.
KEPT = keywords(
    "Modality BodyPartExamined PhotometricInterpretation Rows Columns BitsAllocated BitsStored "
    "PixelRepresentation WindowCenter WindowWidth RescaleSlope RescaleIntercept PixelSpacing "
    "ImagerPixelSpacing NumberOfFrames SOPClassUID"
)


def deidentify(data: bytes, key: bytes = KEY) -> DeidentifiedDicom:
    return deidentify_dicom(data, key=key)


def read(data: bytes) -> Dataset:
    return pydicom.dcmread(io.BytesIO(data))


def all_elements(dataset: Dataset) -> Iterator[DataElement]:
    yield from dataset.file_meta.iterall() if hasattr(dataset, "file_meta") else iter(())
    yield from dataset.iterall()


def instance_uids(dataset: Dataset) -> set[str]:
    """Every non-registered UID value in the data set and its file meta."""
    found: set[str] = set()
    for element in all_elements(dataset):
        if element.VR == "UI" and element.value:
            values = element.value if element.VM > 1 else [element.value]
            found.update(str(v) for v in values if not str(v).startswith("1.2.840.10008."))
    return found


def expected_key(patient_id: str, key: bytes = KEY) -> str:
    return hmac.new(key, patient_id.strip().encode(), hashlib.sha256).hexdigest()[:32]


@pytest.mark.parametrize("path", IMAGE_PATHS)
def test_every_sample_is_deidentified(path: str) -> None:
    data = dicom_bytes(path)
    original = read(data)
    result = deidentify(data)
    out = read(result.data)

    assert result.data[:132] == b"\x00" * 128 + b"DICM"
    for keyword in NO_VALUE:
        assert not out.get(keyword), keyword
    for keyword in KEPT:
        if keyword in original:
            assert out[keyword].value == original[keyword].value, keyword

    for element in all_elements(out):
        assert not element.tag.is_private, element.tag
        assert element.tag.group >> 8 not in (0x50, 0x60), element.tag
        if element.VR in ("PN", "DA", "TM", "DT"):
            assert not element.value, element
        assert element.VR != "AS", element
        if element.VR == "UI" and element.value:
            for uid in element.value if element.VM > 1 else [element.value]:
                assert UID(uid).is_valid, uid
                assert uid.startswith(("1.2.840.10008.", "2.25.")), element

    assert out.PatientIdentityRemoved == "YES"
    code = out.DeidentificationMethodCodeSequence[0]
    assert (code.CodeValue, code.CodingSchemeDesignator) == ("113100", "DCM")
    assert code.CodeMeaning == "Basic Application Confidentiality Profile"
    assert "Basic Application Confidentiality Profile" in out.DeidentificationMethod
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert out.file_meta.MediaStorageSOPClassUID == original.SOPClassUID
    assert out.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    assert "SourceApplicationEntityTitle" not in out.file_meta

    for uid in instance_uids(original):
        assert uid.encode() not in result.data, uid
    # One sample names the manufacturer as institution ("TOSHIBA"); Manufacturer is kept.
    kept_text = {str(out.get(k) or "").strip() for k in ("Manufacturer", "ManufacturerModelName")}
    for keyword in ("PatientName", "PatientID", "InstitutionName", "PatientBirthDate"):
        value = str(original.get(keyword) or "").strip()
        if len(value) >= 4 and not any(value in text for text in kept_text):
            assert value.encode() not in result.data, keyword

    patient_id = str(original.get("PatientID") or "").strip()
    assert result.patient_key == (expected_key(patient_id) if patient_id else None)
    institution = str(original.get("InstitutionName") or "").strip()
    assert result.institution == (institution or None)


@pytest.mark.parametrize("path", IMAGE_PATHS)
def test_pixels_are_untouched_and_output_is_deterministic(path: str) -> None:
    data = dicom_bytes(path)
    result = deidentify(data)
    before, after = (
        decode_image(data, max_pixels=MAX_PIXELS),
        decode_image(result.data, max_pixels=MAX_PIXELS),
    )
    np.testing.assert_array_equal(before.pixels, after.pixels)
    np.testing.assert_array_equal(before.display, after.display)
    assert replace(before.metadata, dicom_identity=None) == replace(after.metadata, dicom_identity=None)
    # The UIDs are replaced by keyed pseudonyms (the grouping survives, the originals do not).
    was, now = before.metadata.dicom_identity, after.metadata.dicom_identity
    assert was is not None and now is not None
    assert now.instance_number == was.instance_number and now.sop_class_uid == was.sop_class_uid
    for original, pseudonym in (
        (was.study_uid, now.study_uid),
        (was.series_uid, now.series_uid),
        (was.sop_instance_uid, now.sop_instance_uid),
    ):
        assert original is None or (pseudonym != original and pseudonym and pseudonym.startswith("2.25."))
    assert read(result.data).PixelData == read(data).PixelData
    assert deidentify(data).data == result.data
    # Its own output comes back unchanged: a re-uploaded download is a duplicate, not a new image.
    assert deidentify(result.data).data == result.data


def _planted() -> bytes:
    dataset = read_dataset("ct/CT_small.dcm")
    dataset.PatientName = "Doe^Jane"
    dataset.PatientID = " MRN-778899 "
    dataset.PatientBirthDate = "19510704"
    dataset.PatientBirthTime = "071500"
    dataset.PatientSex = "F"
    dataset.PatientAge = "071Y"
    dataset.PatientSize = 1.62
    dataset.PatientWeight = 61.5
    dataset.PatientAddress = "12 Secret Lane, Springfield"
    dataset.PatientTelephoneNumbers = "555-0199-321"
    dataset.OtherPatientIDs = "OTHER-4455"
    dataset.OtherPatientNames = "Roe^Janet"
    other = Dataset()
    other.PatientID = "SEQ-ID-8877"
    dataset.OtherPatientIDsSequence = Sequence([other])
    dataset.PatientMotherBirthName = "Mother^Maiden"
    dataset.MedicalRecordLocator = "LOCATOR-3321"
    dataset.EthnicGroup = "EthnicValue"
    dataset.ReferringPhysicianName = "Referring^Rita"
    dataset.PerformingPhysicianName = "Performing^Paul"
    dataset.NameOfPhysiciansReadingStudy = "Reading^Rob"
    dataset.OperatorsName = "Operator^Olga"
    dataset.PhysiciansOfRecord = "Record^Ralph"
    dataset.RequestingPhysician = "Requesting^Rachel"
    dataset.InstitutionName = "  Hospital of Secrets  "
    dataset.InstitutionAddress = "1 Hospital Road, Gotham"
    dataset.InstitutionalDepartmentName = "Department of Whispers"
    dataset.StationName = "STATION-CT7"
    dataset.AccessionNumber = "ACC-99887766"
    dataset.StudyID = "STUDY-4242"
    dataset.StudyDate = dataset.SeriesDate = dataset.AcquisitionDate = dataset.ContentDate = "20240301"
    dataset.StudyTime = dataset.SeriesTime = dataset.AcquisitionTime = dataset.ContentTime = "101112"
    dataset.AcquisitionDateTime = "20240301101112"
    dataset.DeviceSerialNumber = "SN-12345678"
    request = Dataset()
    request.RequestedProcedureID = "REQ-5566"
    request.ScheduledProcedureStepID = "SPS-7788"
    dataset.RequestAttributesSequence = Sequence([request])
    dataset.AdmittingDiagnosesDescription = "Diagnosis text"
    dataset.AdditionalPatientHistory = "History text"
    dataset.PatientComments = "Comment text"
    dataset.ImageComments = "Image comment text"
    referenced = Dataset()
    referenced.ReferencedSOPClassUID = dataset.SOPClassUID
    referenced.ReferencedSOPInstanceUID = "1.2.3.4.5.6.7.8.9.777"
    referenced.PatientName = "Nested^Nora"  # misplaced, but must still go
    dataset.ReferencedImageSequence = Sequence([referenced])
    dataset.FrameOfReferenceUID = "1.2.3.4.5.6.7.8.9.888"
    block = dataset.private_block(0x0009, "ACME PRIVATE", create=True)
    block.add_new(0x01, "LO", "Private^Patricia")
    dataset.add_new(0x60004000, "LT", "overlay of Overlayed^Olivia")  # Overlay Comments
    dataset.add_new(0x50000022, "LO", "curve of Curved^Carl")  # Curve Description
    dataset.preamble = b"PREAMBLE-PHI".ljust(128, b"\x00")
    dataset.file_meta.SourceApplicationEntityTitle = "SENDER_AE_X"
    return to_bytes(dataset)


PLANTED_VALUES = keywords(
    "Doe Jane MRN-778899 19510704 071500 071Y 1.62 61.5 Secret 555-0199 OTHER-4455 Roe^Janet SEQ-ID-8877 "
    "Maiden LOCATOR-3321 EthnicValue Rita Paul Rob Olga Ralph Rachel Secrets Gotham Whispers STATION-CT7 "
    "ACC-99887766 STUDY-4242 20240301 101112 SN-12345678 REQ-5566 SPS-7788 Diagnosis History Comment "
    "1.2.3.4.5.6.7.8.9.777 1.2.3.4.5.6.7.8.9.888 Nora Patricia Olivia Carl PREAMBLE-PHI SENDER_AE_X ACME"
)


def test_planted_identifiers_never_reach_the_output() -> None:
    data = _planted()
    assert all(value.encode() in data for value in PLANTED_VALUES)
    result = deidentify(data)
    leaked = [value for value in PLANTED_VALUES if value.encode() in result.data]
    assert not leaked
    assert result.patient_key == expected_key("MRN-778899")
    assert result.institution == "Hospital of Secrets"
    out = read(result.data)
    assert out.PatientSex == ""
    assert "PatientAge" not in out
    # A reference to another instance survives, mapped like that instance's own UID would be.
    referenced_uid = out.ReferencedImageSequence[0].ReferencedSOPInstanceUID
    assert referenced_uid.startswith("2.25.")
    assert out.ReferencedImageSequence[0].ReferencedSOPClassUID == out.SOPClassUID


def test_uid_mapping_preserves_relationships_between_instances() -> None:
    paths = [p for p in IMAGE_PATHS if p.startswith("dicomdir_series/")]
    keywords = ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID", "SOPInstanceUID")
    originals = [read_dataset(p) for p in paths]
    outputs = [read(deidentify(dicom_bytes(p)).data) for p in paths]
    for keyword in keywords:
        for i in range(len(paths)):
            for j in range(len(paths)):
                same_before = originals[i].get(keyword) == originals[j].get(keyword)
                same_after = outputs[i].get(keyword) == outputs[j].get(keyword)
                assert same_before == same_after, (keyword, paths[i], paths[j])
    # The series folder CT2 holds four instances of one series.
    series = {str(o.SeriesInstanceUID) for o, p in zip(outputs, paths, strict=True) if "/CT2/" in p}
    assert len(series) == 1


def test_the_key_decides_uids_and_patient_key() -> None:
    data = dicom_bytes("ct/CT_small.dcm")
    first, again, other = deidentify(data), deidentify(data), deidentify(data, key=b"another-key")
    assert first.patient_key == again.patient_key
    assert first.patient_key is not None
    assert first.patient_key != other.patient_key
    assert len(first.patient_key) == 32
    int(first.patient_key, 16)
    assert read(first.data).StudyInstanceUID != read(other.data).StudyInstanceUID
    assert first.data != other.data


def test_same_patient_id_in_different_files_gives_the_same_key() -> None:
    def with_id(path: str) -> bytes:
        dataset = read_dataset(path)
        dataset.PatientID = "SAME-PATIENT-1"
        return to_bytes(dataset)

    keys = {deidentify(with_id(p)).patient_key for p in ("ct/CT_small.dcm", "mr/MR_small.dcm")}
    assert keys == {expected_key("SAME-PATIENT-1")}


@pytest.mark.parametrize("patient_id", [None, "", "   "])
def test_no_patient_id_gives_no_patient_key(patient_id: str | None) -> None:
    dataset = read_dataset("ct/CT_small.dcm")
    if patient_id is None:
        del dataset.PatientID
    else:
        dataset.PatientID = patient_id
    del dataset.InstitutionName
    result = deidentify(to_bytes(dataset))
    assert result.patient_key is None
    assert result.institution is None


def test_foreign_2_25_uids_are_replaced_too() -> None:
    dataset = read_dataset("ct/CT_small.dcm")
    dataset.StudyInstanceUID = "2.25.123456789012345678901234567890"
    out = read(deidentify(to_bytes(dataset)).data)
    assert out.StudyInstanceUID != dataset.StudyInstanceUID
    assert out.StudyInstanceUID.startswith("2.25.")


def test_private_tags_and_overlays_of_a_real_file_are_removed() -> None:
    data = dicom_bytes("mr/MR-SIEMENS-DICOM-WithOverlays.dcm")
    original = read(data)
    assert any(e.tag.is_private for e in original.iterall())
    assert any(e.tag.group == 0x6000 for e in original.iterall())
    out = read(deidentify(data).data)
    assert not any(e.tag.is_private or e.tag.group >> 8 == 0x60 for e in out.iterall())


def test_bare_dataset_gets_preamble_and_file_meta() -> None:
    dataset = read_dataset("ct/CT_small.dcm")
    del dataset.file_meta
    dataset.preamble = None
    buffer = io.BytesIO()
    dcmwrite(buffer, dataset, implicit_vr=True, little_endian=True)
    result = deidentify(buffer.getvalue())
    assert result.data[128:132] == b"DICM"
    out = read(result.data)
    assert out.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    np.testing.assert_array_equal(
        decode_image(result.data, max_pixels=MAX_PIXELS).pixels,
        decode_image(dicom_bytes("ct/CT_small.dcm"), max_pixels=MAX_PIXELS).pixels,
    )


def test_compressed_pixel_data_is_copied_verbatim() -> None:
    data = dicom_bytes("cr_chest/RG1_J2KI.dcm")
    out = read(deidentify(data).data)
    assert out.PixelData == read(data).PixelData
    assert out.file_meta.TransferSyntaxUID == read(data).file_meta.TransferSyntaxUID
