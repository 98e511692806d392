"""The imaging layer: format detection, DICOM de-identification, canonical decoding, rendering.

Free of web, database and ML dependencies so that the API, training and inference can all use it.
"""

from imaging_ai.imaging.decode import DecodedImage, ImageMetadata, apply_window, decode_image
from imaging_ai.imaging.deidentify import DeidentifiedDicom, deidentify_dicom
from imaging_ai.imaging.errors import ImageError
from imaging_ai.imaging.formats import MEDIA_TYPES, ImageFormat, sniff_format
from imaging_ai.imaging.render import render_png

__all__ = [
    "MEDIA_TYPES",
    "DecodedImage",
    "DeidentifiedDicom",
    "ImageError",
    "ImageFormat",
    "ImageMetadata",
    "apply_window",
    "decode_image",
    "deidentify_dicom",
    "render_png",
    "sniff_format",
]
