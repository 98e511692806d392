"""DICOM pixel decoding (pydicom + pylibjpeg plugins) into the canonical greyscale arrays."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut, apply_voi
from pydicom.pixels.utils import pixel_array
from pydicom.uid import RLELossless

from imaging_ai.imaging.codestream import check_codestream, read_codestream
from imaging_ai.imaging.dicom_frame import first_number, frame_view, pixel_spacing
from imaging_ai.imaging.dicom_read import read_dicom, require_pixel_data
from imaging_ai.imaging.errors import ImageError
from imaging_ai.imaging.formats import MEDIA_TYPES, ImageFormat
from imaging_ai.imaging.greyscale import to_greyscale
from imaging_ai.imaging.image_types import DecodedImage, DicomIdentity, ImageMetadata, freeze
from imaging_ai.imaging.windowing import (
    FloatArray,
    blockwise,
    min_max_display,
    range_display,
    voi_window,
    window_for_range,
)

_Display = tuple[FloatArray, tuple[float, float]]


def decode_dicom(data: bytes, *, max_pixels: int) -> DecodedImage:
    dataset = read_dicom(data)
    require_pixel_data(dataset)
    try:
        return _decode(dataset, max_pixels)
    except ImageError:
        raise
    except Exception as exc:
        raise ImageError(
            "corrupt_dicom",
            "The DICOM pixel data could not be decoded (corrupt, or a compression without a decoder).",
            {"transfer_syntax": str(dataset.file_meta.TransferSyntaxUID)},
        ) from exc


def _decode(dataset: Dataset, max_pixels: int) -> DecodedImage:
    rows, cols = _header_int(dataset, "Rows"), _header_int(dataset, "Columns")
    if rows == 0 or cols == 0:
        raise ImageError("zero_sized_image", "The image has no pixels (zero rows or columns).")
    # Checked from the header before any pixel is decoded: the decompression-bomb guard.
    if rows * cols > max_pixels:
        raise ImageError(
            "image_too_large",
            "The image has more pixels than this service decodes.",
            {"max_pixels": max_pixels, "pixels": rows * cols},
        )
    frames = int(dataset.get("NumberOfFrames") or 1)
    frame_index = frames // 2
    view = frame_view(dataset, frame_index)
    photometric = str(view.PhotometricInterpretation).strip().upper()
    bits_stored = int(view.get("BitsStored") or view.BitsAllocated)

    _check_compressed_frame(dataset, frame_index, frames, rows, cols, max_pixels)
    frame = pixel_array(dataset, index=frame_index)
    if frame.shape[:2] != (rows, cols):
        raise ImageError("corrupt_dicom", "The decoded pixel data does not match Rows and Columns.")

    invert = False
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(frame, dataset)
        pixels, (display, window) = _colour(rgb, float(np.iinfo(rgb.dtype).max))
    elif frame.ndim == 3:
        pixels, (display, window) = _colour(frame, float(2**bits_stored - 1))
    else:
        pixels = _modality_values(frame, view)
        if not np.isfinite(pixels).all():
            raise ImageError("corrupt_dicom", "The DICOM rescale gives values out of range.")
        display, window = _default_voi(pixels, view)
        shape = str(view.get("PresentationLUTShape") or "").strip().upper()
        invert = photometric == "MONOCHROME1" or shape == "INVERSE"
        if invert:
            display = np.subtract(1.0, display, out=display)  # in place: no second display-sized array

    metadata = ImageMetadata(
        format=ImageFormat.DICOM,
        media_type=MEDIA_TYPES[ImageFormat.DICOM],
        modality=_optional_text(dataset, "Modality"),
        body_part=_optional_text(dataset, "BodyPartExamined"),
        rows=rows,
        cols=cols,
        bits_stored=bits_stored,
        photometric=str(dataset.PhotometricInterpretation).strip(),
        pixel_spacing_mm=pixel_spacing(view),
        number_of_frames=frames,
        frame_index=frame_index,
        dicom_identity=dicom_identity(dataset),
    )
    return DecodedImage(
        pixels=freeze(pixels),
        display=freeze(display),
        default_window=window,
        invert=invert,
        metadata=metadata,
    )


def _modality_values(frame: npt.NDArray[np.generic], view: Dataset) -> FloatArray:
    """The Modality LUT / Rescale applied, as float32.

    The rescale (stored x slope + intercept, in float64 as pydicom computes it) is done block by
    block: pydicom's whole-frame version makes a float64 copy of the frame, 8 bytes a pixel.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if "ModalityLUTSequence" not in view and "RescaleSlope" in view and "RescaleIntercept" in view:
            slope, intercept = float(view.RescaleSlope), float(view.RescaleIntercept)
            rescaled: FloatArray = blockwise(frame, lambda x: x * slope + intercept)  # type: ignore[assignment]
            return rescaled
        return np.asarray(apply_modality_lut(frame, view), dtype=np.float32)


def _check_compressed_frame(
    dataset: Dataset, frame_index: int, frames: int, rows: int, cols: int, max_pixels: int
) -> None:
    """Judge the size the frame's own codestream declares, before its decoder allocates it.

    Only RLE, among the encapsulated syntaxes, decodes to the size of Rows and Columns; every JPEG
    family decoder trusts its codestream header instead (the decompression bomb in a small DICOM).
    """
    syntax = dataset.file_meta.TransferSyntaxUID
    if not syntax.is_encapsulated or syntax == RLELossless:
        return
    try:
        # The frame's compressed bytes (its fragments joined): bounded by the upload size.
        data = get_frame(dataset.PixelData, frame_index, number_of_frames=frames)
        codestream = read_codestream(data)
    except ImageError as exc:
        raise ImageError("corrupt_dicom", exc.message, {"transfer_syntax": str(syntax)}) from exc
    except Exception as exc:
        raise ImageError(
            "corrupt_dicom",
            "The DICOM compressed pixel data could not be read.",
            {"transfer_syntax": str(syntax)},
        ) from exc
    check_codestream(codestream, max_pixels=max_pixels, expected=(rows, cols))


def _colour(rgb: npt.NDArray[np.generic], full_scale: float) -> tuple[FloatArray, _Display]:
    # Colour images carry no modality or VOI transform: grey level is luma over the sample range.
    pixels = to_greyscale(rgb)
    return pixels, (range_display(pixels, 0.0, full_scale), window_for_range(0.0, full_scale))


def _default_voi(pixels: FloatArray, view: Dataset) -> _Display:
    """PS3.3 C.11.2 order: a VOI LUT if present, else the first window, else the full range."""
    from_lut = _voi_lut_display(pixels, view)
    if from_lut is not None:
        return from_lut
    center, width = first_number(view, "WindowCenter"), first_number(view, "WindowWidth")
    if center is not None and width is not None and width > 0:
        function = str(view.get("VOILUTFunction") or "LINEAR").strip().upper()
        return voi_window(pixels, center, width, function), (center, width)
    return min_max_display(pixels)


def _voi_lut_display(pixels: FloatArray, view: Dataset) -> _Display | None:
    sequence = view.get("VOILUTSequence")
    if not sequence:
        return None
    item = sequence[0]
    descriptor = item.get("LUTDescriptor")
    if descriptor is None or item.get("LUTData") is None:
        return None
    entries = int(descriptor[0]) or 2**16
    first_mapped = int(descriptor[1])
    try:
        # pydicom decodes the table (US or OW, byte order, 8/16 bits); ask it for every entry.
        table = apply_voi(np.arange(first_mapped, first_mapped + entries), view).astype(np.float64)
    except Exception:
        return None  # a malformed optional LUT: fall back to the window, as a viewer would
    if table.shape != (entries,):
        return None
    indices = np.clip(np.rint(pixels) - first_mapped, 0, entries - 1).astype(np.intp)
    # Normalise by the table's own range: many LUTs declare 16 bits but use 12.
    display = range_display(table[indices].astype(np.float32), float(table.min()), float(table.max()))
    return display, window_for_range(first_mapped, first_mapped + entries - 1)


def dicom_identity(dataset: Dataset) -> DicomIdentity:
    return DicomIdentity(
        study_uid=_optional_text(dataset, "StudyInstanceUID"),
        series_uid=_optional_text(dataset, "SeriesInstanceUID"),
        sop_instance_uid=_optional_text(dataset, "SOPInstanceUID"),
        sop_class_uid=_optional_text(dataset, "SOPClassUID"),
        instance_number=_optional_int(dataset, "InstanceNumber"),
    )


def _optional_int(dataset: Dataset, keyword: str) -> int | None:
    try:
        value = dataset.get(keyword)
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None  # a malformed optional number is not worth refusing the image for


def _header_int(dataset: Dataset, keyword: str) -> int:
    value = dataset.get(keyword)
    if value is None or value == "":
        raise ImageError("corrupt_dicom", f"The DICOM image has no {keyword}.")
    return int(value)


def _optional_text(dataset: Dataset, keyword: str) -> str | None:
    value = dataset.get(keyword)
    return (str(value).strip() or None) if value is not None else None
