"""PNG and JPEG decoding (Pillow) into the canonical greyscale arrays.

EXIF orientation is not applied: the stored raster is the image, as for DICOM.
"""

from __future__ import annotations

import struct
from io import BytesIO

import numpy as np
import numpy.typing as npt
from PIL import Image

from imaging_ai.imaging.codestream import check_codestream, read_codestream
from imaging_ai.imaging.errors import ImageError
from imaging_ai.imaging.formats import MEDIA_TYPES, ImageFormat
from imaging_ai.imaging.greyscale import to_greyscale
from imaging_ai.imaging.image_types import DecodedImage, ImageMetadata, freeze
from imaging_ai.imaging.windowing import min_max_display, range_display, window_for_range

_PIL_FORMATS = {ImageFormat.PNG: "PNG", ImageFormat.JPEG: "JPEG"}
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})
_GREY_MODES = frozenset({"L", "LA", "1"}) | _SIXTEEN_BIT_MODES


def decode_raster(data: bytes, image_format: ImageFormat, *, max_pixels: int) -> DecodedImage:
    if image_format is ImageFormat.PNG:
        _check_png_header(data, max_pixels)
    else:
        _check_jpeg_header(data, max_pixels)
    image = _open(data, image_format, max_pixels)
    photometric = "MONOCHROME2" if image.mode in _GREY_MODES else "RGB"
    try:
        values, bits = _values(image)
    except Exception as exc:
        raise _corrupt() from exc
    finally:
        image.close()  # frees Pillow's copy of the pixels now, not when the function returns
    rows, cols = values.shape
    if bits == 8:
        # 8-bit samples mean 0..255 whatever the content.
        display, window = range_display(values, 0, 255), window_for_range(0, 255)
    else:
        # Nothing in a PNG says which of the 16 bits are used (12-bit detectors often export
        # 0..4095), so full scale would render most images nearly black: use the image's range.
        display, window = min_max_display(values)
    metadata = ImageMetadata(
        format=image_format,
        media_type=MEDIA_TYPES[image_format],
        modality=None,
        body_part=None,
        rows=rows,
        cols=cols,
        bits_stored=bits,
        photometric=photometric,
        pixel_spacing_mm=None,
        number_of_frames=1,
        frame_index=0,
    )
    return DecodedImage(
        pixels=freeze(values),
        display=freeze(display),
        default_window=window,
        invert=False,
        metadata=metadata,
    )


def _check_png_header(data: bytes, max_pixels: int) -> None:
    # Pillow refuses a zero-sized IHDR as "cannot identify image file"; read the size first to
    # say what is actually wrong (and refuse a bomb before Pillow parses anything else).
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise _corrupt()
    width, height = struct.unpack(">II", data[16:24])
    _check_size(width, height, max_pixels)


def _check_jpeg_header(data: bytes, max_pixels: int) -> None:
    # The frame header (SOFn) is read here, before Pillow, so that the size a JPEG declares is
    # judged by the same code for plain JPEG uploads as for JPEG inside DICOM.
    try:
        codestream = read_codestream(data)
    except ImageError as exc:
        raise _corrupt() from exc
    check_codestream(codestream, max_pixels=max_pixels)


def _open(data: bytes, image_format: ImageFormat, max_pixels: int) -> Image.Image:
    try:
        image = Image.open(BytesIO(data), formats=[_PIL_FORMATS[image_format]])
    except Image.DecompressionBombError as exc:
        raise _too_large(max_pixels) from exc
    except Exception as exc:
        raise _corrupt() from exc
    width, height = image.size
    _check_size(width, height, max_pixels)
    try:
        # Truncated files raise here: ImageFile.LOAD_TRUNCATED_IMAGES is deliberately left off.
        image.load()
    except Image.DecompressionBombError as exc:
        raise _too_large(max_pixels) from exc
    except Exception as exc:
        raise _corrupt() from exc
    return image


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width == 0 or height == 0:
        raise ImageError("zero_sized_image", "The image has no pixels (zero width or height).")
    if width * height > max_pixels:
        raise _too_large(max_pixels, width * height)


def _values(image: Image.Image) -> tuple[npt.NDArray[np.float32], int]:
    """The greyscale samples as float32 and the bit depth of their scale (8 or 16)."""
    mode = image.mode
    # np.array(..., dtype) converts from Pillow's buffer in one step: np.asarray(image) would first
    # copy the samples in their own type, then astype copy them again.
    if mode in _SIXTEEN_BIT_MODES:
        return np.array(image, dtype=np.float32), 16
    if mode == "L":
        return np.array(image, dtype=np.float32), 8
    if mode in ("LA", "1"):
        return np.asarray(image.convert("L")).astype(np.float32), 8
    # Palettes go via RGBA: Pillow warns when a palette with transparency goes straight to RGB.
    rgb = image if mode in ("RGB", "RGBA") else image.convert("RGBA" if mode in ("P", "PA") else "RGB")
    return to_greyscale(np.asarray(rgb)[..., :3]), 8


def _corrupt() -> ImageError:
    return ImageError("corrupt_image", "The image file is truncated or corrupt.")


def _too_large(max_pixels: int, pixels: int | None = None) -> ImageError:
    details: dict[str, object] = {"max_pixels": max_pixels}
    if pixels is not None:
        details["pixels"] = pixels
    return ImageError("image_too_large", "The image has more pixels than this service decodes.", details)
