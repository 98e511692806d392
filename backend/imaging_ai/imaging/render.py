"""An 8-bit greyscale PNG of a decoded image, for viewers."""

from __future__ import annotations

from io import BytesIO

import numpy as np
from PIL import Image

from imaging_ai.imaging.decode import apply_window
from imaging_ai.imaging.decoded import DecodedImage


def render_png(
    decoded: DecodedImage, *, window: tuple[float, float] | None = None, max_size: int | None = None
) -> bytes:
    """`decoded.display`, or the LINEAR `window` (center, width), as an 8-bit greyscale PNG.

    With `max_size` the longer side is scaled down to at most that many pixels (aspect ratio
    kept, never enlarged). Scaling is done on the float display values, before quantisation.
    """
    display = decoded.display if window is None else apply_window(decoded, *window)
    image = Image.fromarray(np.ascontiguousarray(display, dtype=np.float32))  # mode "F"
    if max_size is not None:
        if max_size < 1:
            raise ValueError("max_size must be >= 1")
        image = _shrink(image, max_size)
    levels = np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
    buffer = BytesIO()
    Image.fromarray(levels).save(buffer, format="PNG")
    return buffer.getvalue()


def _shrink(image: Image.Image, max_size: int) -> Image.Image:
    width, height = image.size
    longer = max(width, height)
    if longer <= max_size:
        return image
    scale = max_size / longer
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)
