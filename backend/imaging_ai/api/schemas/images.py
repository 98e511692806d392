"""Request and response models of the image routes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from imaging_ai.persistence.models import Image


class Window(BaseModel):
    """A linear VOI window in modality units (DICOM PS3.3 C.11.2.1.2)."""

    center: float
    width: float = Field(gt=0)


class ImagePublic(BaseModel):
    """A stored, de-identified image and what was read from it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b8f1f7e-3c39-4d53-9a55-0f5b9d3e2c11",
                    "content_sha256": "9f2c5d0e" + "0" * 56,
                    "size_bytes": 127290,
                    "media_type": "application/dicom",
                    "format": "dicom",
                    "modality": "CR",
                    "body_part": "CHEST",
                    "rows": 1024,
                    "cols": 1024,
                    "bits_stored": 8,
                    "photometric_interpretation": "MONOCHROME1",
                    "pixel_spacing_mm": [0.168, 0.168],
                    "number_of_frames": 1,
                    "frame_index": 0,
                    "site": "st-elsewhere-radiology",
                    "patient_key": "4c1d8e2a9b7f6e5d4c3b2a1f0e9d8c7b",
                    "created_at": "2026-11-27T09:30:00Z",
                    "study_instance_uid": "2.25.1234567890123456789012345678901234567",
                    "series_instance_uid": "2.25.2234567890123456789012345678901234567",
                    "sop_instance_uid": "2.25.3234567890123456789012345678901234567",
                    "instance_number": 1,
                    "value_range": [0.0, 4095.0],
                    "default_window": {"center": 2048.0, "width": 4096.0},
                }
            ]
        }
    )

    id: uuid.UUID
    content_sha256: str = Field(description="SHA-256 of the stored (de-identified) bytes.")
    size_bytes: int
    media_type: str = Field(description="Media type of the stored file.")
    format: str = Field(description="`png`, `jpeg` or `dicom`.")
    modality: str | None = Field(description="DICOM Modality (CR, DX, CT, MR...); null for PNG/JPEG.")
    body_part: str | None = Field(description="DICOM Body Part Examined.")
    rows: int
    cols: int
    bits_stored: int
    photometric_interpretation: str
    pixel_spacing_mm: tuple[float, float] | None = Field(
        description="Row and column spacing in mm, if known."
    )
    number_of_frames: int
    frame_index: int = Field(description="The frame used for display and inference (the middle one).")
    site: str | None = Field(description="Site label: given by the uploader, else the DICOM institution.")
    patient_key: str | None = Field(
        description="Pseudonymous patient key (keyed hash of the patient ID); groups one patient's cases."
    )
    created_at: datetime
    study_instance_uid: str | None = Field(
        default=None, description="DICOM: the study's UID as stored (a keyed pseudonym of the original)."
    )
    series_instance_uid: str | None = Field(default=None, description="DICOM: the series' UID as stored.")
    sop_instance_uid: str | None = Field(default=None, description="DICOM: the instance's UID as stored.")
    instance_number: int | None = Field(default=None, description="DICOM Instance Number, if given.")
    value_range: tuple[float, float] | None = Field(
        default=None,
        description="Lowest and highest modality value of the displayed frame (Hounsfield units for CT, "
        "grey levels for PNG/JPEG); null for images stored before this was recorded.",
    )
    default_window: Window | None = Field(
        default=None, description="The file's default window in modality units (what the viewer opens with)."
    )

    @classmethod
    def from_record(cls, image: Image) -> ImagePublic:
        spacing = (
            (image.pixel_spacing_row_mm, image.pixel_spacing_col_mm)
            if image.pixel_spacing_row_mm is not None and image.pixel_spacing_col_mm is not None
            else None
        )
        return cls(
            id=image.id,
            content_sha256=image.content_sha256,
            size_bytes=image.size_bytes,
            media_type=image.media_type,
            format=image.format,
            modality=image.modality,
            body_part=image.body_part,
            rows=image.rows,
            cols=image.cols,
            bits_stored=image.bits_stored,
            photometric_interpretation=image.photometric_interpretation,
            pixel_spacing_mm=spacing,
            number_of_frames=image.number_of_frames,
            frame_index=image.frame_index,
            site=image.site,
            patient_key=image.patient_key,
            created_at=image.created_at,
            study_instance_uid=image.study_instance_uid,
            series_instance_uid=image.series_instance_uid,
            sop_instance_uid=image.sop_instance_uid,
            instance_number=image.instance_number,
            value_range=(
                (image.value_min, image.value_max)
                if image.value_min is not None and image.value_max is not None
                else None
            ),
            default_window=(
                Window(center=image.window_center, width=image.window_width)
                if image.window_center is not None and image.window_width is not None
                else None
            ),
        )
