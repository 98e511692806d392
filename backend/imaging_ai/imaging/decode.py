"""The one canonical decoding path: every consumer (API, training, inference) calls decode_image.

Training and serving must see identical arrays for identical bytes, so there is deliberately no
other way in this package to turn image bytes into pixels.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from imaging_ai.imaging.dicom_decode import decode_dicom
from imaging_ai.imaging.formats import ImageFormat, sniff_format
from imaging_ai.imaging.image_types import DecodedImage, ImageMetadata
from imaging_ai.imaging.raster import decode_raster
from imaging_ai.imaging.render import windowed
from imaging_ai.imaging.windowing import FloatArray

__all__ = [
    "DecodedImage",
    "ImageMetadata",
    "apply_window",
    "decode_image",
    "decode_slot",
    "set_max_concurrent_decodes",
]

DEFAULT_MAX_CONCURRENT_DECODES = 2


class _DecodeSlots:
    """A counting semaphore around the decoders, re-entrant per thread.

    Decoding an image at the pixel limit takes hundreds of megabytes for a moment; without a bound,
    N simultaneous requests take N times that. Holding a slot while decoding makes the worst case
    `limit` decodes at once, whatever the number of requests. Re-entrant so that a caller may hold a
    slot across a decode and the work that follows it (rendering at full size) without deadlocking.
    """

    def __init__(self, limit: int) -> None:
        self._semaphore = threading.Semaphore(limit)
        self._held = threading.local()
        self.limit = limit

    @contextmanager
    def slot(self) -> Iterator[None]:
        depth: int = getattr(self._held, "depth", 0)
        if depth == 0:
            self._semaphore.acquire()
        self._held.depth = depth + 1
        try:
            yield
        finally:
            self._held.depth = depth
            if depth == 0:
                self._semaphore.release()


_slots = _DecodeSlots(DEFAULT_MAX_CONCURRENT_DECODES)


def set_max_concurrent_decodes(limit: int) -> None:
    """Set the process-wide decode limit (from IMAGING_AI_MAX_CONCURRENT_DECODES at start-up).

    Decodes already waiting keep the semaphore they queued on; call this before serving.
    """
    global _slots
    if limit < 1:
        raise ValueError("limit must be >= 1")
    if limit != _slots.limit:
        _slots = _DecodeSlots(limit)


def max_concurrent_decodes() -> int:
    return _slots.limit


@contextmanager
def decode_slot() -> Iterator[None]:
    """Hold one of the process's decode slots (waits while all are taken)."""
    slots = _slots
    with slots.slot():
        yield


def decode_image(data: bytes, *, max_pixels: int) -> DecodedImage:
    """Decode a PNG, JPEG or DICOM (its middle frame) to greyscale; ImageError when not possible.

    `max_pixels` bounds rows x columns of one frame and is checked from the header (and from the
    header of any embedded JPEG / JPEG-LS / JPEG 2000 codestream), before any pixel is decoded.
    At most `max_concurrent_decodes()` decodes run at once in the process.
    """
    image_format = sniff_format(data)
    with decode_slot():
        if image_format is ImageFormat.DICOM:
            return decode_dicom(data, max_pixels=max_pixels)
        return decode_raster(data, image_format, max_pixels=max_pixels)


def apply_window(decoded: DecodedImage, center: float, width: float) -> FloatArray:
    """`decoded.pixels` through a LINEAR window (PS3.3 C.11.2.1.2.1) to [0, 1], inverted when
    `decoded.invert`. Widths in (0, 1), undefined for LINEAR, use LINEAR_EXACT (C.11.2.1.3.2) so
    finely scaled data (e.g. float PET values) can still be windowed. ValueError for width <= 0.
    """
    return windowed(decoded, center, width)
