"""A stored, downscaled copy of a large image's canonical arrays, from which renders are served.

Rendering a 40-megapixel image from its original means decoding it again (hundreds of megabytes
and about a second) on every view. A rendition keeps what rendering needs (modality values for
windows, the default display, the default window, the inversion) downscaled to the viewer's size,
so a view costs a few megabytes. Renditions are derived data: written at ingest next to the stored
file, recreated from the original when missing. Only images larger than the rendition get one.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from imaging_ai.imaging.image_types import DecodedImage, freeze
from imaging_ai.imaging.render import shrink
from imaging_ai.imaging.windowing import FloatArray

RENDITION_MAX_SIZE = 2048
"""Longer side of a rendition: the size the web app's viewer asks for (`render?size=2048`)."""

RENDITION_NAME = "rendition.npz"
"""Name of the derived file stored next to the original (see BlobStore.put_derived)."""


class RenditionError(ValueError):
    """A stored rendition that cannot be read (damaged or from an incompatible version)."""


@dataclass(frozen=True, eq=False)
class Rendition:
    pixels: FloatArray
    """Modality values, downscaled (LANCZOS); windows are applied to these."""
    display: FloatArray
    """The default display in [0, 1], downscaled the way a render of the original is (LANCZOS)."""
    default_window: tuple[float, float]
    invert: bool


def needs_rendition(rows: int, cols: int) -> bool:
    return max(rows, cols) > RENDITION_MAX_SIZE


def serves(rows: int, cols: int, max_size: int | None) -> bool:
    """Whether a render of an image of this size at `max_size` may come from its rendition: it must
    ask for no more pixels than the rendition has (a full-size render needs the original)."""
    return needs_rendition(rows, cols) and max_size is not None and max_size <= RENDITION_MAX_SIZE


def make_rendition(decoded: DecodedImage) -> Rendition:
    return Rendition(
        pixels=_downscale(decoded.pixels),
        display=_downscale(decoded.display),
        default_window=decoded.default_window,
        invert=decoded.invert,
    )


def rendition_bytes(rendition: Rendition) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        pixels=rendition.pixels,
        display=rendition.display,
        default_window=np.asarray(rendition.default_window, dtype=np.float64),
        invert=np.asarray(rendition.invert),
    )
    return buffer.getvalue()


def read_rendition(data: bytes) -> Rendition:
    try:
        # allow_pickle=False: the file holds plain arrays only; never unpickle stored bytes.
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            pixels = np.asarray(archive["pixels"], dtype=np.float32)
            display = np.asarray(archive["display"], dtype=np.float32)
            center, width = (float(v) for v in archive["default_window"])
            invert = bool(archive["invert"])
    except Exception as exc:
        raise RenditionError("unreadable rendition") from exc
    if pixels.ndim != 2 or pixels.shape != display.shape or max(pixels.shape) > RENDITION_MAX_SIZE:
        raise RenditionError("malformed rendition")
    return Rendition(freeze(pixels), freeze(display), (center, width), invert)


def _downscale(values: FloatArray) -> FloatArray:
    image = shrink(Image.fromarray(np.ascontiguousarray(values, dtype=np.float32)), RENDITION_MAX_SIZE)
    return freeze(np.asarray(image, dtype=np.float32))
