"""An 8-bit greyscale PNG of a decoded image, for viewers."""

from __future__ import annotations

from io import BytesIO
from typing import Protocol

import numpy as np
from PIL import Image

from imaging_ai.imaging.windowing import FloatArray, blockwise, linear_window


class Displayable(Protocol):
    """What rendering needs: a DecodedImage, or a stored downscaled Rendition of one."""

    @property
    def pixels(self) -> FloatArray: ...
    @property
    def display(self) -> FloatArray: ...
    @property
    def invert(self) -> bool: ...


def windowed(image: Displayable, center: float, width: float) -> FloatArray:
    """`image.pixels` through a LINEAR window (PS3.3 C.11.2.1.2.1) to [0, 1], inverted when
    `image.invert`. Widths in (0, 1), undefined for LINEAR, use LINEAR_EXACT (C.11.2.1.3.2) so
    finely scaled data (e.g. float PET values) can still be windowed. ValueError for width <= 0.
    """
    display = linear_window(image.pixels, center, width)
    if image.invert:
        np.subtract(1.0, display, out=display)
    return display


def render_png(
    image: Displayable, *, window: tuple[float, float] | None = None, max_size: int | None = None
) -> bytes:
    """`image.display`, or the LINEAR `window` (center, width), as an 8-bit greyscale PNG.

    With `max_size` the longer side is scaled down to at most that many pixels (aspect ratio
    kept, never enlarged). Scaling is done on the float display values, before quantisation.
    """
    if max_size is not None and max_size < 1:
        raise ValueError("max_size must be >= 1")
    display = image.display if window is None else windowed(image, *window)
    if max_size is not None and max(display.shape) > max_size:
        # Pillow resizes a mode "F" copy; at full size the display is quantised where it lies.
        scaled = shrink(Image.fromarray(np.ascontiguousarray(display, dtype=np.float32)), max_size)
        display = np.asarray(scaled, dtype=np.float32)
    levels = blockwise(display, lambda x: np.clip(np.rint(x * 255.0), 0, 255), np.uint8)
    buffer = BytesIO()
    Image.fromarray(levels).save(buffer, format="PNG")
    return buffer.getvalue()


def shrink(image: Image.Image, max_size: int) -> Image.Image:
    """`image` with its longer side scaled down to `max_size` (LANCZOS), or itself when smaller."""
    width, height = image.size
    longer = max(width, height)
    if longer <= max_size:
        return image
    scale = max_size / longer
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)
