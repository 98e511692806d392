"""Studies made from real DICOM samples: new UIDs and instance numbers, known identifying values planted
(to check that none of them is ever stored)."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid

from tests.samples import dicom

CR_CHEST = "cr_chest/siim_1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"
"""A real chest radiograph (CR, CHEST, 1024x1024, JPEG baseline): the chest X-ray task takes it."""
CT_HEAD = "ct_head/cq500-ct-1_CT000000.dcm"
"""A real head CT slice in HU (512x512, uncompressed)."""

PATIENT_NAME = "Doe^Planted"
PATIENT_ID = "PLANTED-4711"


def make_study(
    relative: str = CR_CHEST,
    count: int = 3,
    *,
    series: int = 1,
    study_uid: str | None = None,
) -> tuple[str, list[bytes]]:
    """A study of `count` instances of one real image spread over `series` series: (study UID, files)."""
    study_uid = study_uid or generate_uid()
    series_uids = [generate_uid() for _ in range(series)]
    template = pydicom.dcmread(dicom(relative))
    files = []
    for number in range(1, count + 1):
        dataset = template.copy()
        dataset.PatientName = PATIENT_NAME
        dataset.PatientID = PATIENT_ID
        dataset.PatientBirthDate = "19510704"
        dataset.StudyInstanceUID = study_uid
        dataset.SeriesInstanceUID = series_uids[(number - 1) % series]
        dataset.SeriesNumber = (number - 1) % series + 1
        dataset.InstanceNumber = number
        dataset.SOPInstanceUID = generate_uid()
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        files.append(encode(dataset))
    return study_uid, files


def encode(dataset: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def sop_uids(data: bytes) -> tuple[str, str]:
    dataset = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    return str(dataset.SOPClassUID), str(dataset.SOPInstanceUID)


def truncated(data: bytes) -> bytes:
    """The same file cut in the middle of its pixel data: still says it is DICOM, cannot be decoded."""
    return data[: len(data) // 2]


def garbled_pixels(data: bytes) -> bytes:
    """The same instance with its (JPEG) pixel data replaced by bytes no decoder reads: well formed
    DICOM that cannot be understood as an image."""
    from pydicom.encaps import encapsulate

    dataset = pydicom.dcmread(io.BytesIO(data))
    dataset.PixelData = encapsulate([b"\xff\xd8 not a JPEG codestream " * 8])
    return encode(dataset)


def planted_identity_in(blob: bytes) -> bool:
    return PATIENT_NAME.encode() in blob or PATIENT_ID.encode() in blob


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


STOW_TYPE = 'multipart/related; type="application/dicom"'


def multipart(files: list[bytes], boundary: str = "imaging-ai-test-boundary") -> tuple[bytes, str]:
    body = b"".join(
        b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + data + b"\r\n"
        for data in files
    )
    return body + b"--" + boundary.encode() + b"--\r\n", f"{STOW_TYPE}; boundary={boundary}"
