"""The one canonical decoding path: every consumer (API, training, inference) calls decode_image.

Training and serving must see identical arrays for identical bytes, so there is deliberately no
other way in this package to turn image bytes into pixels.
"""

from __future__ import annotations

import numpy as np

from imaging_ai.imaging.decoded import DecodedImage, ImageMetadata
from imaging_ai.imaging.dicom_decode import decode_dicom
from imaging_ai.imaging.formats import ImageFormat, sniff_format
from imaging_ai.imaging.raster import decode_raster
from imaging_ai.imaging.windowing import FloatArray, linear_window

__all__ = ["DecodedImage", "ImageMetadata", "apply_window", "decode_image"]


def decode_image(data: bytes, *, max_pixels: int) -> DecodedImage:
    """Decode a PNG, JPEG or DICOM (its middle frame) to greyscale; ImageError when not possible.

    `max_pixels` bounds rows x columns of one frame and is checked from the header, before any
    pixel is decoded.
    """
    image_format = sniff_format(data)
    if image_format is ImageFormat.DICOM:
        return decode_dicom(data, max_pixels=max_pixels)
    return decode_raster(data, image_format, max_pixels=max_pixels)


def apply_window(decoded: DecodedImage, center: float, width: float) -> FloatArray:
    """`decoded.pixels` through a LINEAR window (PS3.3 C.11.2.1.2.1) to [0, 1], inverted when
    `decoded.invert`. Widths in (0, 1), undefined for LINEAR, use LINEAR_EXACT (C.11.2.1.3.2) so
    finely scaled data (e.g. float PET values) can still be windowed. ValueError for width <= 0.
    """
    display = linear_window(decoded.pixels, center, width)
    if decoded.invert:
        display = (1.0 - display).astype(np.float32)
    return display
