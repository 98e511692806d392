"""The result types of decoding, shared by the format-specific decoders and `decode`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imaging_ai.imaging.formats import ImageFormat


@dataclass(frozen=True)
class ImageMetadata:
    format: ImageFormat
    media_type: str
    modality: str | None
    """DICOM Modality; None for PNG/JPEG."""
    body_part: str | None
    """DICOM Body Part Examined; None for PNG/JPEG or when absent."""
    rows: int
    cols: int
    bits_stored: int
    """8 for 8-bit PNG/JPEG (and 1/2/4-bit PNG, expanded to 8), 16 for 16-bit PNG, DICOM Bits Stored."""
    photometric: str
    """Of the source: DICOM Photometric Interpretation; for PNG/JPEG "MONOCHROME2" for greyscale
    modes and "RGB" for colour modes (palette, RGB(A), CMYK, YCbCr), even when the content is grey."""
    pixel_spacing_mm: tuple[float, float] | None
    """(row, column) spacing: Pixel Spacing, else Imager Pixel Spacing; None when absent or not positive."""
    number_of_frames: int
    frame_index: int
    """The frame decoded: ``number_of_frames // 2`` (the middle one; the later of the two middle
    frames for an even count), 0 for single-frame images."""
    dicom_identity: DicomIdentity | None = None
    """Where a DICOM instance sits in its study; None for PNG/JPEG."""


@dataclass(frozen=True)
class DicomIdentity:
    """A DICOM instance's place: its study, series and own UIDs, as read from the file (after
    de-identification these are the keyed pseudonyms, which keep the grouping), and its number."""

    study_uid: str | None
    series_uid: str | None
    sop_instance_uid: str | None
    sop_class_uid: str | None
    instance_number: int | None


# eq=False: comparing images element-wise is never what `==` should mean (and is ambiguous for arrays).
@dataclass(frozen=True, eq=False)
class DecodedImage:
    pixels: npt.NDArray[np.float32]
    """2-D modality values (Modality LUT / Rescale applied; luma for colour), not inverted. Read-only."""
    display: npt.NDArray[np.float32]
    """2-D in [0, 1] with the default VOI (VOI LUT, else first window, else full range) applied and
    MONOCHROME1 inverted: the canonical greyscale array models consume. Read-only."""
    default_window: tuple[float, float]
    """(center, width) in modality units whose LINEAR window gives (or, for a VOI LUT or sigmoid,
    approximates) `display`: for UIs that let the user adjust it."""
    invert: bool
    """True when low values display white (MONOCHROME1, or Presentation LUT Shape INVERSE)."""
    metadata: ImageMetadata


def freeze(array: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """`array` as a contiguous read-only float32 array, so a DecodedImage can be shared safely."""
    frozen = np.ascontiguousarray(array, dtype=np.float32)
    frozen.flags.writeable = False
    return frozen
