"""Paths to the real sample images in the shared datasets, and broken files made from them."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom

from tests.conftest import datasets_dir


def nih_png() -> Path:
    return next(iter(sorted((datasets_dir() / "cxr-nih-adult" / "images" / "normal").glob("*.png"))))


def guangzhou_jpeg() -> Path:
    return next(
        iter(
            sorted((datasets_dir() / "cxr-guangzhou-pediatric" / "images" / "test" / "NORMAL").glob("*.jpeg"))
        )
    )


def dicom(relative: str) -> Path:
    return datasets_dir() / "dicom-samples" / relative


CR_MONOCHROME1_JPEG = "cr_chest/Fake_MONOHR1.dcm"
CR_JPEG2000 = "cr_chest/RG1_J2KI.dcm"
CR_UNCOMPRESSED = "cr_chest/RG1_UNCR.dcm"
CT_SMALL = "ct/CT_small.dcm"
CT_MULTIFRAME = "ct/eCT_Supplemental.dcm"
MR_SMALL = "mr/MR_small.dcm"
SMALL_MR_SERIES = "dicomdir_series/98892003/MR2/4950"
SR = "non_image/test-SR.dcm"
RT_PLAN = "non_image/rtplan.dcm"


def with_identity(relative: str, *, patient_name: str, patient_id: str, institution: str) -> bytes:
    """A real DICOM with known identifying values planted, to check they never leave ingestion."""
    dataset = pydicom.dcmread(dicom(relative))
    dataset.PatientName = patient_name
    dataset.PatientID = patient_id
    dataset.InstitutionName = institution
    dataset.PatientBirthDate = "19510704"
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def rle_compressed(relative: str) -> bytes:
    from pydicom.uid import RLELossless

    dataset = pydicom.dcmread(dicom(relative))
    dataset.compress(RLELossless)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
